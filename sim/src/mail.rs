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
use madsim::net::rpc::Request;
use madsim::net::Endpoint;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::scenario::Mail;
use scalelab_system::model::Email;
use scalelab_system::ports::{Mailer, PortError};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendMail(pub Email);

impl Request for SendMail {
    type Response = ();
    const ID: u64 = 0x3a11;
}

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
        let ep = Endpoint::bind(addr).await?;
        ep.add_rpc_handler(move |SendMail(_email): SendMail| {
            let server = self.clone();
            async move {
                let u: f64 = madsim::rand::thread_rng().gen();
                let ms = -(1.0 - u).ln() * server.latency_ms_mean;
                tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)).await;
                server.sent.fetch_add(1, Ordering::Relaxed);
            }
        });
        std::future::pending::<()>().await;
        Ok(())
    }
}

pub struct SimMailer {
    ep: Endpoint,
    server: SocketAddr,
    timeout: Duration,
}

impl SimMailer {
    pub async fn connect(server: SocketAddr, params: &Mail) -> std::io::Result<SimMailer> {
        Ok(SimMailer {
            ep: Endpoint::bind("0.0.0.0:0").await?,
            server,
            timeout: Duration::from_secs_f64(params.timeout_ms.0 / 1000.0),
        })
    }
}

#[async_trait]
impl Mailer for SimMailer {
    async fn send(&self, email: &Email) -> Result<(), PortError> {
        match self
            .ep
            .call_timeout(self.server, SendMail(email.clone()), self.timeout)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                Err(PortError::Timeout("mail provider".into()))
            }
            Err(e) => Err(PortError::Unavailable(format!("mail provider: {e}"))),
        }
    }
}
