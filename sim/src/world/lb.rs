//! The load balancer of the horizontal designs: an HTTP reverse proxy in front of the app
//! replicas.
//!
//! It picks a replica per request (round robin, or least connections: the replica with the
//! fewest requests in flight), keeps kept-alive connections to each, and checks every
//! replica's `/health` on an interval: after `unhealthy_after` failed checks in a row a replica
//! gets no new requests, after `healthy_after` good ones it gets them again. A request whose
//! connection to a replica cannot even be opened is retried once on another replica; nothing
//! was sent, so that is safe. The balancer's own CPU is not modelled (a cloud load balancer
//! scales by itself).
//!
//! Requests reach the balancer and leave it as values (`net::Forwarded`: the head and the
//! whole body; see `world::net` for why not HTTP's bytes): the same one network hop each way,
//! the same storefront router on the replica.
//!
//! Must not: look inside requests beyond what forwarding needs.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use hyper::{Request, Response, StatusCode};
use tokio::sync::OnceCell;

use crate::world::net::{Forwarded, Replied};
use crate::world::rpc::{CallError, Pool};

/// Connections the balancer may hold to one replica: in effect unlimited, as with a proxy
/// that opens another upstream connection whenever all of its kept-alive ones are busy.
const MAX_UPSTREAM_CONNECTIONS: u32 = 1 << 20;

/// How the balancer picks a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    RoundRobin,
    LeastConnections,
}

#[derive(Debug, Clone, Copy)]
pub struct HealthCheck {
    pub interval: Duration,
    pub timeout: Duration,
    pub unhealthy_after: u32,
    pub healthy_after: u32,
}

/// One replica as the balancer sees it.
pub struct Backend {
    pub addr: SocketAddr,
    healthy: Mutex<Health>,
    in_flight: AtomicU32,
    /// Opened on the balancer's node at first use (`add` may be called from another node,
    /// and a pool's endpoint binds on the node that creates it).
    pool: OnceCell<Pool<Forwarded, Replied>>,
}

#[derive(Debug, Clone, Copy)]
struct Health {
    up: bool,
    failures: u32,
    successes: u32,
}

impl Backend {
    fn new(addr: SocketAddr) -> Backend {
        Backend {
            addr,
            // A replica is added once it is ready, so it starts healthy.
            healthy: Mutex::new(Health {
                up: true,
                failures: 0,
                successes: 0,
            }),
            in_flight: AtomicU32::new(0),
            pool: OnceCell::new(),
        }
    }

    pub fn is_up(&self) -> bool {
        self.health().up
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.healthy.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one health check's result; returns the new state if it changed.
    fn observe(&self, ok: bool, check: &HealthCheck) -> Option<bool> {
        let mut h = self.health();
        if ok {
            h.failures = 0;
            h.successes += 1;
            if !h.up && h.successes >= check.healthy_after {
                h.up = true;
                return Some(true);
            }
        } else {
            h.successes = 0;
            h.failures += 1;
            // Broken pooled connections go with a failed check.
            if let Some(pool) = self.pool.get() {
                pool.drop_idle();
            }
            if h.up && h.failures >= check.unhealthy_after {
                h.up = false;
                return Some(false);
            }
        }
        None
    }

    /// Sends one request on a pooled connection, or a new one. No timeout of its own: the
    /// browser's deadline ends the wait (the front door drops this future when the browser gives up).
    async fn send(&self, req: Forwarded) -> Result<Replied, SendError> {
        let pool = self
            .pool
            .get_or_try_init(|| {
                Pool::new(
                    self.addr,
                    MAX_UPSTREAM_CONNECTIONS,
                    Duration::from_secs(1),
                    None,
                )
            })
            .await
            .map_err(|_| SendError::Connect)?;
        match pool.call(req).await {
            Ok(reply) => Ok(reply),
            Err(CallError::Connect(_) | CallError::Refused | CallError::PoolTimeout) => {
                Err(SendError::Connect)
            }
            Err(CallError::Timeout | CallError::Unavailable(_)) => Err(SendError::Broken),
        }
    }
}

enum SendError {
    /// No connection could be opened: nothing was sent.
    Connect,
    /// The connection broke after the request may have been sent.
    Broken,
}

/// A state change of a replica, for the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Down(SocketAddr),
    Up(SocketAddr),
}

pub struct LoadBalancer {
    balance: Balance,
    check: HealthCheck,
    backends: RwLock<Vec<Arc<Backend>>>,
    next: AtomicUsize,
    events: Mutex<Vec<Event>>,
}

/// Counts a request in flight on a backend until dropped (also when the client goes away).
struct InFlight(Arc<Backend>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl LoadBalancer {
    pub fn new(balance: Balance, check: HealthCheck) -> LoadBalancer {
        LoadBalancer {
            balance,
            check,
            backends: RwLock::new(Vec::new()),
            next: AtomicUsize::new(0),
            events: Mutex::new(Vec::new()),
        }
    }

    fn list(&self) -> Vec<Arc<Backend>> {
        self.backends
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Puts a ready replica into rotation.
    pub fn add(&self, addr: SocketAddr) {
        let mut list = self.backends.write().unwrap_or_else(|p| p.into_inner());
        if !list.iter().any(|b| b.addr == addr) {
            list.push(Arc::new(Backend::new(addr)));
        }
    }

    /// Takes a replica out of rotation (before it is stopped).
    pub fn remove(&self, addr: SocketAddr) {
        self.backends
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|b| b.addr != addr);
    }

    /// (replicas in rotation, of which healthy).
    pub fn counts(&self) -> (usize, usize) {
        let list = self.list();
        let up = list.iter().filter(|b| b.is_up()).count();
        (list.len(), up)
    }

    /// Replica state changes since the last call.
    pub fn take_events(&self) -> Vec<Event> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// A healthy replica for the next request, not `avoid`. Runs once per request, so it
    /// looks at the list in place instead of copying it.
    fn pick(&self, avoid: Option<SocketAddr>) -> Option<Arc<Backend>> {
        let list = self.backends.read().unwrap_or_else(|p| p.into_inner());
        let usable = |b: &&Arc<Backend>| b.is_up() && Some(b.addr) != avoid;
        let chosen = match self.balance {
            Balance::RoundRobin => {
                let n = list.iter().filter(usable).count();
                if n == 0 {
                    return None;
                }
                let k = self.next.fetch_add(1, Ordering::Relaxed) % n;
                list.iter().filter(usable).nth(k)?
            }
            // Fewest in flight; ties by position, so the choice is deterministic.
            Balance::LeastConnections => list
                .iter()
                .filter(usable)
                .min_by_key(|b| b.in_flight.load(Ordering::Relaxed))?,
        };
        Some(chosen.clone())
    }

    /// Forwards one request to a replica and returns its reply (502/503 when none can).
    pub async fn forward(&self, Forwarded(parts, body): Forwarded) -> Replied {
        let mut avoid = None;
        for _attempt in 0..2 {
            let Some(backend) = self.pick(avoid) else {
                return plain(StatusCode::SERVICE_UNAVAILABLE, "no healthy replica");
            };
            backend.in_flight.fetch_add(1, Ordering::Relaxed);
            let _counted = InFlight(backend.clone());
            let req = Forwarded(parts.clone(), body.clone());
            match backend.send(req).await {
                Ok(reply) => return reply,
                Err(SendError::Connect) => avoid = Some(backend.addr),
                Err(SendError::Broken) => {
                    return plain(StatusCode::BAD_GATEWAY, "replica connection broke")
                }
            }
        }
        plain(StatusCode::BAD_GATEWAY, "no replica could be reached")
    }

    /// Checks every replica's health, forever, every interval.
    pub async fn health_checks(self: Arc<Self>) {
        loop {
            tokio::time::sleep(self.check.interval).await;
            for backend in self.list() {
                let req = Request::get("/health").header("host", "lb").body(());
                let ok = match req {
                    Ok(req) => matches!(
                        tokio::time::timeout(
                            self.check.timeout,
                            backend.send(Forwarded(req.into_parts().0, Bytes::new()))
                        ).await,
                        Ok(Ok(Replied(head, _))) if head.status.is_success()
                    ),
                    Err(_) => false,
                };
                if let Some(up) = backend.observe(ok, &self.check) {
                    let event = if up {
                        Event::Up(backend.addr)
                    } else {
                        Event::Down(backend.addr)
                    };
                    self.events
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(event);
                }
            }
        }
    }

    /// Serves clients on `addr`, forwarding every request.
    pub async fn serve(self: Arc<Self>, addr: SocketAddr) -> std::io::Result<()> {
        crate::world::net::serve_clients(addr, move |req| {
            let lb = self.clone();
            async move { lb.forward(req).await }
        })
        .await
    }
}

fn plain(status: StatusCode, text: &'static str) -> Replied {
    let mut resp = Response::new(());
    *resp.status_mut() = status;
    Replied(resp.into_parts().0, Bytes::from_static(text.as_bytes()))
}
