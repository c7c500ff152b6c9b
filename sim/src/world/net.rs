//! Small adapters over madsim's simulated network: HTTP requests and replies carried as values.
//!
//! Between a browser and the shop's front door (the load balancer, or the one big host of the
//! naive design) and between the balancer and a replica, a request travels as a value: its
//! head (method, path, headers) and its whole body, one message each way over a simulated
//! connection, as one flushed HTTP/1.1 request and its reply would. The storefront's router,
//! middleware and handlers see the same `http::Request` as one parsed off a socket. Encoding
//! and parsing the bytes in between cost over a third of a run's CPU and half its memory
//! (hyper's buffers for every kept-alive connection) and taught nothing; the real world
//! (`scalelab serve`) speaks HTTP on real sockets.
//!
//! Must not: change what a request or reply holds, or the order of messages on a connection.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use madsim::net::{Endpoint, Receiver, Sender};

/// A request as a value: its head (method, path, headers) and its whole body.
pub struct Forwarded(pub hyper::http::request::Parts, pub bytes::Bytes);

/// The reply to a [`Forwarded`] request: its head (status, headers) and its whole body.
pub struct Replied(pub hyper::http::response::Parts, pub bytes::Bytes);

/// Serves `app` to a load balancer on `addr`: each forwarded request runs through the same
/// router, middleware and handlers as one read off a socket, and the reply goes back whole.
/// A request the balancer stopped waiting for still runs to its end (the replica does not
/// learn of it), which is how an order can be committed after its shopper gave up.
pub async fn serve_forwarded(addr: SocketAddr, app: axum::Router) -> io::Result<()> {
    crate::world::rpc::serve(addr, u32::MAX, move |req: Forwarded| {
        answer(app.clone(), req)
    })
    .await
}

/// Serves `app` to browsers that connect to it directly (the naive design's one host).
pub async fn serve_direct(addr: SocketAddr, app: axum::Router) -> io::Result<()> {
    serve_clients(addr, move |req| answer(app.clone(), req)).await
}

/// A client's connection to a server of [`Forwarded`] requests: one request at a time, as on
/// an HTTP/1.1 connection a browser keeps alive between pages.
pub struct Connection {
    tx: Sender,
    rx: Receiver,
}

impl Connection {
    /// Opens a connection to `addr` (refused, or never answered, if nothing serves there).
    pub async fn open(addr: SocketAddr) -> io::Result<Connection> {
        let ep = Endpoint::bind("0.0.0.0:0").await?;
        let (tx, rx) = ep.connect1(addr).await?;
        Ok(Connection { tx, rx })
    }

    /// The server has closed the connection (its node died, say).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Sends `req` and waits for its reply. A caller that stops waiting must drop the
    /// connection: the late reply would otherwise answer its next request.
    pub async fn send(&mut self, req: Forwarded) -> io::Result<Replied> {
        self.tx.send(Box::new(req)).await?;
        let reply = self.rx.recv().await?;
        reply
            .downcast::<Replied>()
            .map(|r| *r)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not an HTTP reply"))
    }
}

/// Serves clients that connect on `addr` directly (browsers, at the front door): each
/// connection's requests one after the other, each answered by `handle`. When a client closes
/// its connection while a request is in flight, the request's work is dropped, as hyper's
/// HTTP/1.1 server drops the handler of a client that has gone away.
pub async fn serve_clients<F, Fut>(addr: SocketAddr, handle: F) -> io::Result<()>
where
    F: Fn(Forwarded) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Replied> + Send,
{
    crate::world::rpc::serve_dropping_abandoned(addr, handle).await
}

/// Runs one request through `app`, as hyper would hand it over after parsing it.
pub async fn answer(app: axum::Router, Forwarded(head, body): Forwarded) -> Replied {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = hyper::Request::from_parts(head, axum::body::Body::from(body));
    let resp = match app.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    };
    let (head, body) = resp.into_parts();
    // A body that fails half-way is a broken reply; the client sees an empty one.
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Replied(head, body)
}
