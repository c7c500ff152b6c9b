//! Request/response over long-lived simulated connections, with a client-side pool: the shape
//! of a database driver's connection pool or an HTTP client talking to an API.
//!
//! Why not madsim's `Endpoint::call` / `add_rpc_handler`: every `send` and every `recv` there
//! adds a random delay that madsim rounds up to 1 ms, so one RPC costs ~4 ms plus latency and a
//! server's receive loop handles at most 1,000 requests per second, whatever its cores. The
//! connection channels of `Endpoint::connect1`/`accept1` (public, though hidden from madsim's
//! docs; madsim's own gRPC simulator uses them) carry typed messages with only the network's
//! latency. A connection serves one request at a time, as a PostgreSQL connection does.
//!
//! Must not: know what the requests mean.

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::net::{Endpoint, Receiver, Sender};
use tokio::sync::Semaphore;

use crate::world::deadline::Deadlines;
use scalelab_system::ports::PortError;

/// Sent instead of a reply by a server that has all the connections it will take.
struct Refused;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// No pooled connection became free in time.
    PoolTimeout,
    /// The server took too long; the request may or may not have been done.
    Timeout,
    /// The server refused the connection: it has all the connections it will take.
    Refused,
    /// No connection could be opened: nothing was sent, so trying elsewhere is safe.
    Connect(String),
    /// The connection could not be made or broke.
    Unavailable(String),
}

impl CallError {
    /// The port error a failed call to `service` is, for every simulated service alike: a
    /// wait that ran out is a timeout (the request may have been done), anything else the
    /// service being unavailable.
    pub fn into_port(self, service: &str) -> PortError {
        match self {
            CallError::PoolTimeout => {
                PortError::Timeout(format!("{service}: no connection free in time"))
            }
            CallError::Timeout => PortError::Timeout(format!("{service}: no answer in time")),
            CallError::Refused => {
                PortError::Unavailable(format!("{service}: too many connections"))
            }
            CallError::Unavailable(e) | CallError::Connect(e) => {
                PortError::Unavailable(format!("{service}: {e}"))
            }
        }
    }
}

/// Serves requests of type `Req` on `addr`: every accepted connection gets a task that answers
/// its requests one after the other with `handler`. At most `max_connections` at once. A
/// request whose client closed its connection meanwhile still runs to its end, as a database
/// finishes a statement whose client went away.
pub async fn serve<Req, Resp, F, Fut>(
    addr: SocketAddr,
    max_connections: u32,
    handler: F,
) -> std::io::Result<()>
where
    Req: Send + 'static,
    Resp: Send + Sync + 'static,
    F: Fn(Req) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Resp> + Send,
{
    serve_connections(addr, max_connections, Abandoned::Finish, handler).await
}

/// As [`serve`], with no limit on connections, but the work of a request whose client closed
/// its connection is dropped, as hyper's HTTP/1.1 server drops the handler of a client that
/// has gone away.
pub async fn serve_dropping_abandoned<Req, Resp, F, Fut>(
    addr: SocketAddr,
    handler: F,
) -> std::io::Result<()>
where
    Req: Send + 'static,
    Resp: Send + Sync + 'static,
    F: Fn(Req) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Resp> + Send,
{
    serve_connections(addr, u32::MAX, Abandoned::Drop, handler).await
}

/// What a server does with a request whose client closed its connection.
#[derive(Clone, Copy)]
enum Abandoned {
    Finish,
    Drop,
}

async fn serve_connections<Req, Resp, F, Fut>(
    addr: SocketAddr,
    max_connections: u32,
    abandoned: Abandoned,
    handler: F,
) -> std::io::Result<()>
where
    Req: Send + 'static,
    Resp: Send + Sync + 'static,
    F: Fn(Req) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Resp> + Send,
{
    let ep = Endpoint::bind(addr).await?;
    let open = Arc::new(AtomicU32::new(0));
    loop {
        let (tx, mut rx, _peer) = ep.accept1().await?;
        if open.load(Ordering::Relaxed) >= max_connections {
            let _ = tx.send(Box::new(Refused)).await;
            continue;
        }
        open.fetch_add(1, Ordering::Relaxed);
        let (handler, open) = (handler.clone(), open.clone());
        tokio::spawn(async move {
            while let Ok(msg) = rx.recv().await {
                let Ok(req) = msg.downcast::<Req>() else {
                    break;
                };
                let resp = match abandoned {
                    Abandoned::Finish => handler(*req).await,
                    // `biased`: tokio's unbiased select draws from a thread-local random
                    // generator, which no seed controls.
                    Abandoned::Drop => tokio::select! {
                        biased;
                        resp = handler(*req) => resp,
                        () = tx.closed() => break,
                    },
                };
                if tx.send(Box::new(resp)).await.is_err() {
                    break;
                }
            }
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

struct Conn {
    tx: Sender,
    rx: Receiver,
}

/// A pool of up to `size` connections to one server.
pub struct Pool<Req, Resp> {
    ep: Endpoint,
    server: SocketAddr,
    permits: Semaphore,
    idle: Mutex<Vec<Conn>>,
    pool_timeout: Duration,
    call_timeout: Option<Deadlines>,
    _types: PhantomData<fn(Req) -> Resp>,
}

impl<Req: Any + Send + Sync, Resp: Any + Send + Sync> Pool<Req, Resp> {
    /// Must be called inside the node that will use the pool (its endpoint binds there).
    /// `call_timeout: None` waits for the reply as long as the caller does (a caller that
    /// has its own deadline saves a timer per call).
    pub async fn new(
        server: SocketAddr,
        size: u32,
        pool_timeout: Duration,
        call_timeout: impl Into<Option<Duration>>,
    ) -> std::io::Result<Self> {
        Ok(Pool {
            ep: Endpoint::bind("0.0.0.0:0").await?,
            server,
            permits: Semaphore::new(size as usize),
            idle: Mutex::new(Vec::new()),
            pool_timeout,
            call_timeout: call_timeout.into().map(Deadlines::new),
            _types: PhantomData,
        })
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Conn>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes the idle connections, e.g. after the server was seen to fail: they may be
    /// broken, and the next call should open a fresh one.
    pub fn drop_idle(&self) {
        self.idle().clear();
    }

    /// Sends `req` on a pooled connection and waits for the reply.
    ///
    /// A connection goes back to the pool only after a complete exchange. After a timeout or
    /// an error, or if this future is dropped half-way, the connection is dropped instead: a
    /// late reply on it would otherwise answer the next caller's request.
    pub async fn call(&self, req: Req) -> Result<Resp, CallError> {
        // A free connection is taken without arming the pool timer: madsim cannot cancel a
        // timer, so every timeout stays in its queue until its deadline, whether it fired or
        // not, and wakes its task for nothing when it does.
        let _permit = match self.permits.try_acquire() {
            Ok(permit) => permit,
            Err(tokio::sync::TryAcquireError::Closed) => {
                return Err(CallError::Unavailable("pool closed".into()))
            }
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                match tokio::time::timeout(self.pool_timeout, self.permits.acquire()).await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) => return Err(CallError::Unavailable("pool closed".into())),
                    Err(_) => return Err(CallError::PoolTimeout),
                }
            }
        };
        let pooled = self.idle().pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => {
                let (tx, rx) = self
                    .ep
                    .connect1(self.server)
                    .await
                    .map_err(|e| CallError::Connect(e.to_string()))?;
                Conn { tx, rx }
            }
        };
        conn.tx
            .send(Box::new(req))
            .await
            .map_err(|e| CallError::Unavailable(e.to_string()))?;
        let reply = match &self.call_timeout {
            Some(limit) => match limit.timeout(conn.rx.recv()).await {
                Ok(reply) => reply,
                Err(_) => return Err(CallError::Timeout),
            },
            None => conn.rx.recv().await,
        };
        let reply = reply.map_err(|e| CallError::Unavailable(e.to_string()))?;
        if reply.is::<Refused>() {
            return Err(CallError::Refused);
        }
        match reply.downcast::<Resp>() {
            Ok(resp) => {
                self.idle().push(conn);
                Ok(*resp)
            }
            Err(_) => Err(CallError::Unavailable("unexpected reply".into())),
        }
    }
}
