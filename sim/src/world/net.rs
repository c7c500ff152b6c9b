//! Small adapters over madsim's simulated network.
//!
//! madsim's `TcpStream` turns every `flush()` into a message, even when nothing was written
//! since the last one, and every message takes a hop's latency to arrive. hyper flushes after
//! each write, sometimes with nothing to send, so on a kept-alive connection empty messages
//! pile up and each later request waits behind them (measured with the released madsim, which
//! rounded every arrival up to 1 ms: +2 ms per request on one connection). [`Flushed`] sends only when there is
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

/// Accepts connections on `addr` and serves `app` on each, through [`Flushed`]. One accept
/// loop is enough: madsim's `accept` waits a random 0-5 us (exactly, with the vendored patch;
/// the released madsim rounded it up to 1 ms and capped a loop at 1,000 connections a second).
pub async fn serve_http(addr: std::net::SocketAddr, app: axum::Router) -> io::Result<()> {
    let listener = madsim::net::TcpListener::bind(addr).await?;
    loop {
        let (stream, _peer) = listener.accept().await?;
        tokio::spawn(scalelab_system::server::serve_connection(
            Flushed::new(stream),
            app.clone(),
        ));
    }
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
