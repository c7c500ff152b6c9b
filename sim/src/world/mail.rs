//! The simulated mail provider, and the `Mailer` port against it.
//!
//! An external service with its own latency (exponential around a mean, drawn from madsim's
//! seeded randomness like all simulated infrastructure). Must not: build emails (system's
//! worker does).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;

use crate::scenario::Mail;
use crate::world::rpc::{self, Pool};
use scalelab_system::model::{Email, OrderId};
use scalelab_system::ports::{Mailer, PortError};

/// Connections the shop keeps open to the provider's API, and the most it accepts.
const MAIL_CONNECTIONS: u32 = 256;

pub struct MailServer {
    latency_ms_mean: f64,
    sent: AtomicU64,
    /// What customers' inboxes show, per order: the distinct emails received. A provider
    /// may deliver the same email twice (at least once), and an inbox shows it once; two
    /// *different* confirmations of one order are two effects (the checker's concern).
    inbox: Mutex<BTreeMap<OrderId, BTreeSet<u64>>>,
}

impl MailServer {
    pub fn new(params: &Mail) -> MailServer {
        MailServer {
            latency_ms_mean: params.latency_ms_mean.0,
            sent: AtomicU64::new(0),
            inbox: Mutex::new(BTreeMap::new()),
        }
    }

    /// Emails accepted so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Distinct confirmation emails received per order (evidence for the checkers).
    pub fn inbox(&self) -> BTreeMap<OrderId, usize> {
        let inbox = self.inbox.lock().unwrap_or_else(|p| p.into_inner());
        inbox
            .iter()
            .map(|(&order, emails)| (order, emails.len()))
            .collect()
    }

    pub async fn serve(self: Arc<Self>, addr: SocketAddr) -> std::io::Result<()> {
        rpc::serve(addr, MAIL_CONNECTIONS, move |email: Email| {
            let server = self.clone();
            async move {
                let u: f64 = madsim::rand::thread_rng().gen();
                let ms = -(1.0 - u).ln() * server.latency_ms_mean;
                tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)).await;
                server.sent.fetch_add(1, Ordering::Relaxed);
                let content = format!("{}|{}|{}", email.customer_id, email.subject, email.body);
                server
                    .inbox
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(email.order_id)
                    .or_default()
                    .insert(xxhash_rust::xxh3::xxh3_64(content.as_bytes()));
            }
        })
        .await
    }
}

pub struct SimMailer {
    pool: Pool<Email, ()>,
}

impl SimMailer {
    pub async fn connect(server: SocketAddr, params: &Mail) -> std::io::Result<SimMailer> {
        let timeout = Duration::from_secs_f64(params.timeout_ms.0 / 1000.0);
        Ok(SimMailer {
            pool: Pool::new(server, MAIL_CONNECTIONS, timeout, timeout).await?,
        })
    }
}

#[async_trait]
impl Mailer for SimMailer {
    async fn send(&self, email: &Email) -> Result<(), PortError> {
        self.pool
            .call(email.clone())
            .await
            .map_err(|e| e.into_port("mail provider"))
    }
}
