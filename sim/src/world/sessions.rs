//! The simulated external session store (Redis-like), and the `SessionStore` port against it.
//!
//! One node, one core (Redis runs commands on one thread), a small CPU cost per command, and
//! keys that expire after a time-to-live, as `SET key value PX ttl` does. It is what lets the
//! stateless designs lose an app replica without losing carts. Must not: know what a session
//! holds; it stores values by key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::scenario::{Host, Probability};
use crate::world::host::Cpu;
use crate::world::rpc::{self, CallError, Pool};
use scalelab_system::ports::{PortError, SessionStore};
use scalelab_system::session::{Session, SessionId};

/// A command to the store.
#[derive(Debug, Clone)]
pub enum Command {
    Get(SessionId),
    Set(SessionId, Session),
}

/// What the session store's server is like.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// CPU per command on its single core.
    pub command_cpu: Duration,
    /// Keys expire this long after their last write.
    pub ttl: Duration,
    pub max_connections: u32,
    /// The client side: connections per app process, and how long calls may take.
    pub pool_size: u32,
    pub timeout: Duration,
}

pub struct SessionServer {
    params: Params,
    cpu: Arc<Cpu>,
    data: Mutex<Data>,
}

struct Data {
    map: BTreeMap<SessionId, (Session, Instant)>,
    last_sweep: Instant,
}

impl SessionServer {
    pub fn new(params: Params) -> SessionServer {
        let one_core = Host {
            cores: NonZeroU32::MIN,
            contention: Probability(0.0),
            coherency: Probability(0.0),
        };
        SessionServer {
            params,
            cpu: Arc::new(Cpu::new(&one_core, u32::MAX)),
            data: Mutex::new(Data {
                map: BTreeMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    /// The store's one core (a `slow` fault degrades it).
    pub fn cpu(&self) -> Arc<Cpu> {
        self.cpu.clone()
    }

    /// Keys held right now (expired ones may linger until the next sweep).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn serve(self: Arc<Self>, addr: SocketAddr) -> std::io::Result<()> {
        let max = self.params.max_connections;
        rpc::serve(addr, max, move |cmd: Command| {
            let server = self.clone();
            async move { server.execute(cmd).await }
        })
        .await
    }

    async fn execute(&self, cmd: Command) -> Option<Session> {
        let _ = self.cpu.run(self.params.command_cpu).await;
        let now = Instant::now();
        let mut data = self.lock();
        // Like Redis' active expiry: now and then, drop what has expired, so memory follows
        // the live sessions rather than every session ever made.
        if now.duration_since(data.last_sweep) >= self.params.ttl / 4 {
            data.map.retain(|_, (_, expires)| *expires > now);
            data.last_sweep = now;
        }
        match cmd {
            Command::Get(id) => data
                .map
                .get(&id)
                .filter(|(_, expires)| *expires > now)
                .map(|(s, _)| s.clone()),
            Command::Set(id, session) => {
                data.map.insert(id, (session, now + self.params.ttl));
                None
            }
        }
    }
}

/// The app's side: a pool of connections to the session store.
pub struct SimSessions {
    pool: Pool<Command, Option<Session>>,
}

impl SimSessions {
    /// Must be called inside the node that will use it.
    pub async fn connect(server: SocketAddr, params: &Params) -> std::io::Result<SimSessions> {
        Ok(SimSessions {
            pool: Pool::new(server, params.pool_size, params.timeout, params.timeout).await?,
        })
    }

    fn error(e: CallError) -> PortError {
        match e {
            CallError::PoolTimeout | CallError::Timeout => {
                PortError::Timeout("session store".into())
            }
            CallError::Refused => {
                PortError::Unavailable("session store: too many connections".into())
            }
            CallError::Unavailable(e) | CallError::Connect(e) => {
                PortError::Unavailable(format!("session store: {e}"))
            }
        }
    }
}

#[async_trait]
impl SessionStore for SimSessions {
    async fn load(&self, id: &SessionId) -> Result<Option<Session>, PortError> {
        self.pool
            .call(Command::Get(id.clone()))
            .await
            .map_err(Self::error)
    }

    async fn save(&self, id: &SessionId, session: &Session) -> Result<(), PortError> {
        self.pool
            .call(Command::Set(id.clone(), session.clone()))
            .await
            .map(|_| ())
            .map_err(Self::error)
    }
}
