//! Serving a router: accept connections and hand each to hyper.
//!
//! Written against `tokio::net::TcpListener`, which is the real tokio listener in the real
//! world and madsim's simulated one under the simulator; this file does not know which.
//! (`axum::serve` would do the same, but only for the real tokio listener.)

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

/// Serves `app` on every connection `listener` accepts, until accepting fails.
///
/// Each connection gets its own task and keeps alive between requests, as browsers expect.
pub async fn serve(listener: TcpListener, app: Router) -> std::io::Result<()> {
    loop {
        let (stream, _peer) = listener.accept().await?;
        tokio::spawn(serve_connection(stream, app.clone()));
    }
}

/// Serves HTTP/1.1 requests on one connection until the client closes it.
pub async fn serve_connection<S>(stream: S, app: Router)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(app);
    // A connection that breaks (client gone, bad HTTP) concerns only that client.
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}
