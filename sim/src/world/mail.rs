//! The simulated mail provider, and the `Mailer` port against it.
//!
//! An external service with its own latency (exponential around a mean unless the scenario's
//! `[mail] service` says otherwise, drawn from madsim's seeded randomness like all simulated
//! infrastructure). Must not: build emails (system's
//! worker does).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::scenario::{Mail, Service};
use crate::world::rpc::{self, Pool};
use scalelab_system::model::{Email, OrderId};
use scalelab_system::ports::{Mailer, PortError};

/// Connections the shop keeps open to the provider's API, and the most it accepts.
const MAIL_CONNECTIONS: u32 = 256;

pub struct MailServer {
    latency_ms_mean: f64,
    latency: Service,
    /// When the run started: deliveries are stamped with the virtual time since.
    start: Instant,
    sent: AtomicU64,
    /// Emails that reached an inbox (sends recognised as repeats by their key did not).
    delivered: AtomicU64,
    /// Every email the provider took, in the order it took them: the evidence.
    log: Mutex<Deliveries>,
}

/// What the provider did with the emails it was sent, per order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deliveries {
    /// Per order: when each email reached the customer's inbox (virtual time since the start).
    pub delivered: BTreeMap<OrderId, Vec<Duration>>,
    /// Sends the provider recognised by their idempotency key as repeats of an email it had
    /// delivered, and did not deliver again (a provider's dedup, as mail APIs offer it).
    pub repeats: u64,
    /// Sends without an idempotency key: (virtual time, order).
    pub keyless: Vec<(Duration, OrderId)>,
    /// Idempotency keys seen (a real provider remembers them for a day; a run is shorter).
    keys: BTreeSet<String>,
}

impl MailServer {
    pub fn new(params: &Mail, start: Instant) -> MailServer {
        MailServer {
            latency_ms_mean: params.latency_ms_mean.0,
            latency: params.service(),
            start,
            sent: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            log: Mutex::new(Deliveries::default()),
        }
    }

    /// Emails accepted so far: every send, repeats included.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Emails delivered to an inbox so far: sends less the repeats the provider recognised.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Every delivery so far (evidence for the checkers).
    pub fn deliveries(&self) -> Deliveries {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Every delivery, moved out (the provider forgets them, and the idempotency keys): for
    /// the checkers once the run is over, without a second copy of the log.
    pub fn take_deliveries(&self) -> Deliveries {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Takes one email: delivers it, unless its key was delivered before. Every delivery is
    /// counted: two identical emails are two emails in an inbox.
    fn take(&self, email: &Email) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let at = self.start.elapsed();
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        match &email.idempotency_key {
            Some(key) if log.keys.contains(key) => {
                log.repeats += 1;
                return;
            }
            Some(key) => {
                log.keys.insert(key.clone());
            }
            None => log.keyless.push((at, email.order_id)),
        }
        log.delivered.entry(email.order_id).or_default().push(at);
        self.delivered.fetch_add(1, Ordering::Relaxed);
    }

    pub async fn serve(self: Arc<Self>, addr: SocketAddr) -> std::io::Result<()> {
        rpc::serve(addr, MAIL_CONNECTIONS, move |email: Email| {
            let server = self.clone();
            async move {
                // In milliseconds as before the distributions came (one uniform, the same
                // arithmetic), so that the default, exponential, keeps every trace hash.
                let ms = server
                    .latency
                    .draw_ms(server.latency_ms_mean, &mut madsim::rand::thread_rng());
                madsim::time::sleep_exact(crate::service::ms_to_duration(ms)).await;
                server.take(&email);
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
