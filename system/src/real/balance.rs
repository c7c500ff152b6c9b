//! The real world's load balancer: the front door of the scaled designs, handing each new
//! connection to the next storefront replica in turn.
//!
//! It works like a TCP-mode proxy (HAProxy's `mode tcp`, a cloud's network load balancer): it
//! balances connections, not requests, so a client that keeps its connection alive stays on one
//! replica. That is enough here because the replicas are stateless (sessions live in a shared
//! store), and it keeps this file small: no HTTP parsing, bytes are copied both ways.
//!
//! Must not: look into the traffic, or keep anything about a client. The simulator's balancer
//! (`sim::lb`, an HTTP proxy with health checks) is a different, richer model.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Accepts connections on `listener` and hands each to the next of `replicas` (round robin),
/// skipping a replica that refuses the connection (stopped, or not yet up). Returns when
/// `stop` turns true; connections already handed over carry on until either side closes them.
pub async fn balance(
    listener: TcpListener,
    replicas: Vec<SocketAddr>,
    mut stop: watch::Receiver<bool>,
) {
    let mut turn = 0usize;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|&s| s) => return,
        };
        // A failed accept (the client gave up mid-handshake, too many open files) concerns
        // that one connection; the front door stays open.
        let Ok((client, _)) = accepted else {
            continue;
        };
        let first = turn;
        turn = turn.wrapping_add(1);
        tokio::spawn(forward(client, replicas.clone(), first));
    }
}

/// How long, after the replica has stopped reading or closed, the client's remaining bytes are
/// still read (and dropped) so that the replica's answer reaches it.
const LINGER: Duration = Duration::from_secs(2);

/// Copies bytes between `client` and the first replica, from `replicas[first]` on, that
/// accepts a connection. If none does, dropping `client` closes it: the client sees the shop
/// refuse, as it would if the balancer were down.
async fn forward(client: TcpStream, replicas: Vec<SocketAddr>, first: usize) {
    for i in 0..replicas.len() {
        let addr = replicas[(first + i) % replicas.len()];
        if let Ok(server) = TcpStream::connect(addr).await {
            relay(client, server).await;
            return;
        }
    }
}

/// Each direction on its own, each passing on the end of its stream. A replica may answer
/// before it has read the whole request (413 to a body too big) and close: the client is then
/// still sending. Its remaining bytes are read and dropped for a moment, so that the answer
/// reaches it; closing a socket with unread bytes would reset the connection, and the client
/// would see a reset instead of the 413. (`copy_bidirectional` gives up on both directions at
/// the first error of either, which is what happened.)
///
/// Once the replica has closed, the client gets that moment too, and then its connection is
/// closed: a client that neither sends nor closes (cut off by the replica's header timeout)
/// would otherwise hold the balancer's connection for good.
async fn relay(client: TcpStream, server: TcpStream) {
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let up = async move {
        if tokio::io::copy(&mut from_client, &mut to_server)
            .await
            .is_err()
        {
            let mut dropped = tokio::io::sink();
            let drain = tokio::io::copy(&mut from_client, &mut dropped);
            let _ = tokio::time::timeout(LINGER, drain).await;
        }
        let _ = to_server.shutdown().await;
    };
    let down = async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
        let _ = to_client.shutdown().await;
    };
    tokio::pin!(up, down);
    tokio::select! {
        () = &mut down => {
            let _ = tokio::time::timeout(LINGER, up).await;
        }
        () = &mut up => down.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A replica that answers every connection with its name, then closes it.
    async fn replica(name: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut c, _)) = listener.accept().await {
                let _ = c.write_all(name.as_bytes()).await;
            }
        });
        addr
    }

    /// A port that refuses connections: bound once, then closed.
    async fn refusing() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        listener.local_addr().expect("addr")
    }

    async fn ask(front: SocketAddr) -> String {
        let mut c = TcpStream::connect(front).await.expect("connect");
        let mut answer = String::new();
        c.read_to_string(&mut answer).await.expect("read");
        answer
    }

    #[tokio::test]
    async fn a_client_that_stays_silent_after_the_replica_closed_is_let_go() {
        // A replica that closes every connection at once, as one does with a client that sent
        // no request head in time.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let replica = listener.local_addr().expect("addr");
        tokio::spawn(async move { while listener.accept().await.is_ok() {} });
        let front = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let front_addr = front.local_addr().expect("addr");
        let (_stop, stopped) = watch::channel(false);
        tokio::spawn(balance(front, vec![replica], stopped));

        let mut client = TcpStream::connect(front_addr).await.expect("connect");
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0))),
            "the replica's close passed on: {read:?}"
        );
        // Silent past the linger: the balancer must have closed its end by now, so the first
        // write is answered with a reset and a later one fails. (Had it kept the connection,
        // it would read and drop both.)
        tokio::time::sleep(LINGER + Duration::from_secs(1)).await;
        let mut failed = false;
        for _ in 0..5 {
            if client.write_all(b"x").await.is_err() {
                failed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(failed, "the balancer still held the client's connection");
    }

    #[tokio::test]
    async fn connections_go_round_robin_and_skip_a_replica_that_refuses() {
        let replicas = vec![replica("a").await, refusing().await, replica("c").await];
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let front = listener.local_addr().expect("addr");
        let (stop, stopped) = watch::channel(false);
        let balancer = tokio::spawn(balance(listener, replicas, stopped));
        let mut answers = Vec::new();
        for _ in 0..4 {
            answers.push(ask(front).await);
        }
        // Turns 0..4 start at a, b (refuses: on to c), c, a.
        assert_eq!(answers, ["a", "c", "c", "a"]);
        let _ = stop.send(true);
        balancer.await.expect("the balancer returns on stop");
        assert!(
            TcpStream::connect(front).await.is_err(),
            "a stopped balancer accepts nothing"
        );
    }
}
