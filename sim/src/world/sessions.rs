//! The simulated external session store (Redis-like), and the `SessionStore` port against it.
//!
//! One node, one core (Redis runs commands on one thread), a small CPU cost per command, and
//! keys that expire after a time-to-live, as `SET key value PX ttl` does. It is what lets the
//! stateless designs lose an app replica without losing carts. What it holds, and when a
//! session expires, is system's `InMemorySessions` (the reference semantics of the port), as
//! the simulated database keeps its rows in system's `MemoryStore`: the simulated store adds
//! only what a network service costs.
//!
//! Must not: know what a session holds.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::scenario::{Host, Probability};
use crate::world::host::Cpu;
use crate::world::rpc::{self, CallError, Pool};
use scalelab_system::memory::InMemorySessions;
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
    data: InMemorySessions,
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
            data: InMemorySessions::new(params.ttl),
        }
    }

    /// The store's one core (a `slow` fault degrades it).
    pub fn cpu(&self) -> Arc<Cpu> {
        self.cpu.clone()
    }

    /// Keys held right now (expired ones may linger until the next sweep).
    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        // The in-memory store cannot fail: its `Result`s are always `Ok`.
        match cmd {
            Command::Get(id) => self.data.load(&id).await.ok().flatten(),
            Command::Set(id, session) => {
                let _ = self.data.save(&id, &session).await;
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
        e.into_port("session store")
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
