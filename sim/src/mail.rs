//! The simulated mail provider, and the `Mailer` port against it.
//!
//! An external service with its own latency (exponential around a mean, drawn from madsim's
//! seeded randomness like all simulated infrastructure). Must not: build emails (system's
//! worker does).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;

use crate::rpc::{self, CallError, Pool};
use crate::scenario::Mail;
use scalelab_system::model::Email;
use scalelab_system::ports::{Mailer, PortError};

/// Connections the shop keeps open to the provider's API, and the most it accepts.
const MAIL_CONNECTIONS: u32 = 256;

pub struct MailServer {
    latency_ms_mean: f64,
    sent: AtomicU64,
}

impl MailServer {
    pub fn new(params: &Mail) -> MailServer {
        MailServer {
            latency_ms_mean: params.latency_ms_mean.0,
            sent: AtomicU64::new(0),
        }
    }

    /// Emails accepted so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub async fn serve(self: Arc<Self>, addr: SocketAddr) -> std::io::Result<()> {
        rpc::serve(addr, MAIL_CONNECTIONS, move |_email: Email| {
            let server = self.clone();
            async move {
                let u: f64 = madsim::rand::thread_rng().gen();
                let ms = -(1.0 - u).ln() * server.latency_ms_mean;
                tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)).await;
                server.sent.fetch_add(1, Ordering::Relaxed);
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
        match self.pool.call(email.clone()).await {
            Ok(()) => Ok(()),
            Err(CallError::PoolTimeout | CallError::Timeout) => {
                Err(PortError::Timeout("mail provider".into()))
            }
            Err(e) => Err(PortError::Unavailable(format!("mail provider: {e:?}"))),
        }
    }
}
