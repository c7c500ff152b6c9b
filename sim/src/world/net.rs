//! Small adapters over madsim's simulated network.
//!
//! madsim's `TcpStream` turns every `flush()` into a message, even when nothing was written
//! since the last one, and every message costs at least 1 ms of virtual time to arrive (madsim
//! never sleeps less than 1 ms). hyper flushes after each write, sometimes with nothing to send,
//! so on a kept-alive connection empty messages pile up and each later request waits behind
//! them: measured, +2 ms per request on one connection. [`Flushed`] sends only when there is
//! something to send. [`serve_forwarded`] serves a router to the load balancer, which hands it
//! requests as values. Must not: change what bytes arrive or in which order.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use madsim::net::TcpStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A `TcpStream` whose `flush` is a no-op when nothing was written since the last flush.
pub struct Flushed {
    inner: TcpStream,
    dirty: bool,
}

impl Flushed {
    pub fn new(inner: TcpStream) -> Flushed {
        Flushed {
            inner,
            dirty: false,
        }
    }

    pub async fn connect(addr: std::net::SocketAddr) -> io::Result<Flushed> {
        Ok(Flushed::new(TcpStream::connect(addr).await?))
    }
}

impl AsyncRead for Flushed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Flushed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if !buf.is_empty() {
            self.dirty = true;
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.dirty {
            return Poll::Ready(Ok(()));
        }
        self.dirty = false;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// How many tasks accept connections at once. madsim's `accept` sleeps a random 0-5 us that
/// it rounds up to 1 ms, so one accept loop takes at most 1,000 connections per second - far
/// fewer than a real server. Several loops on the same listener lift that ceiling.
pub const ACCEPTORS: usize = 32;

/// Accepts connections on `addr` and serves `app` on each, through [`Flushed`].
pub async fn serve_http(addr: std::net::SocketAddr, app: axum::Router) -> io::Result<()> {
    let listener = std::sync::Arc::new(madsim::net::TcpListener::bind(addr).await?);
    let mut acceptors = Vec::with_capacity(ACCEPTORS);
    for _ in 0..ACCEPTORS {
        let (listener, app) = (listener.clone(), app.clone());
        acceptors.push(tokio::spawn(async move {
            loop {
                let (stream, _peer) = listener.accept().await?;
                tokio::spawn(scalelab_system::server::serve_connection(
                    Flushed::new(stream),
                    app.clone(),
                ));
            }
            #[allow(unreachable_code)]
            Ok::<(), io::Error>(())
        }));
    }
    for a in acceptors {
        if let Ok(Err(e)) = a.await {
            return Err(e);
        }
    }
    Ok(())
}

/// A request as the load balancer forwards it: the head it parsed and the whole body.
pub struct Forwarded(pub hyper::http::request::Parts, pub bytes::Bytes);

/// A replica's reply to a [`Forwarded`] request: the head and the whole body.
pub struct Replied(pub hyper::http::response::Parts, pub bytes::Bytes);

/// Serves `app` to a load balancer on `addr`: each forwarded request runs through the same
/// router, middleware and handlers as one read off a socket, and the reply goes back whole.
pub async fn serve_forwarded(addr: std::net::SocketAddr, app: axum::Router) -> io::Result<()> {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    crate::world::rpc::serve(addr, u32::MAX, move |Forwarded(head, body): Forwarded| {
        let app = app.clone();
        async move {
            let req = hyper::Request::from_parts(head, axum::body::Body::from(body));
            let resp = match app.oneshot(req).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            let (head, body) = resp.into_parts();
            // A body that fails half-way is a broken reply; the balancer sees an empty one.
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Replied(head, body)
        }
    })
    .await
}
