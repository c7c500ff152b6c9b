//! Pins each behaviour the vendored madsim patch changes (third_party/madsim/PATCHES.md), and
//! the one it must keep: a hop of 20 us takes 20 us; messages on one connection arrive at
//! their own instants, 20 us apart when sent 20 us apart, and a message that has already
//! arrived is read at once; connect and accept cost microseconds, not milliseconds; an
//! application's `sleep` of 5 us still takes 1 ms (madsim #198 stays fixed); a degraded link
//! (`NetSim::set_link_condition`) adds its latency one way only and, lossy, still delivers.
//!
//! madsim moves its clock 50 ns past every timer it fires (`advance_to_next_event`), so each
//! figure below is the exact delay plus at most a few of those 50 ns steps: hence the 1 us
//! tolerance, far below the 1 ms the released madsim added.

use std::time::Duration;

use madsim::net::{TcpListener, TcpStream};
use madsim::runtime::Runtime;
use madsim::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HOP: Duration = Duration::from_micros(20);
const SLACK: Duration = Duration::from_micros(1);

/// A runtime whose every hop takes `HOP` (madsim draws from min..max, which must not be empty).
fn runtime() -> Runtime {
    let mut config = madsim::Config::default();
    config.net.send_latency = HOP..HOP + Duration::from_nanos(1);
    Runtime::with_seed_and_config(7, config)
}

fn near(got: Duration, want: Duration) -> bool {
    got >= want && got < want + SLACK
}

/// The client sends an 8-byte message after each wait in `gaps`; the server, after sleeping
/// `server_nap` (an application sleep) once connected, reads them. Returns, per message, when it
/// was sent and when the server read it, and how long the connect and accept took.
fn exchange(gaps: &'static [Duration], server_nap: Duration) -> Exchange {
    let rt = runtime();
    let server = rt.create_node().ip([10, 0, 0, 1].into()).build();
    let client = rt.create_node().ip([10, 0, 0, 2].into()).build();
    let accepted = server.spawn(async move {
        let listener = TcpListener::bind("10.0.0.1:1").await.expect("bind");
        let t = Instant::now();
        let (mut s, _) = listener.accept().await.expect("accept");
        let accept = t.elapsed();
        // (An application sleep, even of zero, takes 1 ms: only nap when asked to.)
        if !server_nap.is_zero() {
            tokio::time::sleep(server_nap).await;
        }
        let mut reads = Vec::new();
        let mut b = [0u8; 8];
        for _ in gaps {
            s.read_exact(&mut b).await.expect("read");
            reads.push(Instant::now());
        }
        (accept, reads)
    });
    let sent = client.spawn(async move {
        // Let the server bind first (an application sleep: 1 ms).
        tokio::time::sleep(Duration::from_millis(1)).await;
        let t = Instant::now();
        let mut s = TcpStream::connect("10.0.0.1:1").await.expect("connect");
        let connect = t.elapsed();
        let mut sent = Vec::new();
        for (i, gap) in gaps.iter().enumerate() {
            madsim::time::sleep_exact(*gap).await;
            sent.push(Instant::now());
            s.write_all(&(i as u64).to_le_bytes()).await.expect("write");
            s.flush().await.expect("flush");
        }
        // Keep the connection open until the server has read everything.
        tokio::time::sleep(Duration::from_secs(1)).await;
        (connect, sent)
    });
    let ((accept, reads), (connect, sent)) = rt.block_on(async move {
        let reads = accepted.await.expect("server");
        let sent = sent.await.expect("client");
        (reads, sent)
    });
    Exchange {
        connect,
        accept,
        sent,
        reads,
    }
}

struct Exchange {
    connect: Duration,
    accept: Duration,
    sent: Vec<Instant>,
    reads: Vec<Instant>,
}

#[test]
fn a_twenty_microsecond_hop_takes_twenty_microseconds() {
    let x = exchange(&[Duration::ZERO], Duration::ZERO);
    let took = x.reads[0] - x.sent[0];
    assert!(near(took, HOP), "one hop took {took:?}, not {HOP:?}");
}

#[test]
fn two_messages_sent_twenty_microseconds_apart_arrive_twenty_microseconds_apart() {
    const GAPS: &[Duration] = &[Duration::ZERO, HOP];
    let x = exchange(GAPS, Duration::ZERO);
    let apart = x.reads[1] - x.reads[0];
    assert!(near(apart, HOP), "arrived {apart:?} apart, not {HOP:?}");
    for (s, r) in x.sent.iter().zip(&x.reads) {
        assert!(near(*r - *s, HOP), "a hop took {:?}", *r - *s);
    }
}

#[test]
fn messages_that_have_already_arrived_are_read_at_once() {
    // The server is busy for 5 ms; both messages are waiting when it reads.
    const GAPS: &[Duration] = &[Duration::ZERO, HOP];
    let x = exchange(GAPS, Duration::from_millis(5));
    let apart = x.reads[1] - x.reads[0];
    assert!(
        apart < SLACK,
        "the second, already there, took {apart:?} more"
    );
}

#[test]
fn connect_and_accept_cost_microseconds() {
    let x = exchange(&[Duration::ZERO], Duration::ZERO);
    // Connect: three random delays of 0-5 us (bind, connect, the connection), no hop.
    assert!(
        x.connect < Duration::from_micros(16),
        "connect took {:?}",
        x.connect
    );
    // Accept waits for the client's 1 ms start, then its own 0-5 us.
    assert!(
        x.accept < Duration::from_micros(1_000 + 16),
        "accept took {:?}",
        x.accept
    );
}

#[test]
fn an_application_sleep_of_five_microseconds_still_takes_a_millisecond() {
    let rt = runtime();
    let took = rt.block_on(async {
        let t = Instant::now();
        tokio::time::sleep(Duration::from_micros(5)).await;
        t.elapsed()
    });
    assert!(
        took >= Duration::from_millis(1) && took < Duration::from_millis(1) + SLACK,
        "took {took:?}"
    );
    // And the patch's own sleep, for the simulator's models of time, is exact.
    let took = runtime().block_on(async {
        let t = Instant::now();
        madsim::time::sleep_exact(Duration::from_micros(5)).await;
        t.elapsed()
    });
    assert!(near(took, Duration::from_micros(5)), "took {took:?}");
}

/// One message each way between two nodes whose client-to-server link has `condition`;
/// returns how long each way took.
fn degraded(condition: madsim::net::LinkCondition, messages: u64) -> (Vec<Duration>, Duration) {
    let rt = runtime();
    let server = rt.create_node().ip([10, 0, 0, 1].into()).build();
    let client = rt.create_node().ip([10, 0, 0, 2].into()).build();
    let (from, to) = (client.id(), server.id());
    let served = server.spawn(async move {
        let listener = TcpListener::bind("10.0.0.1:1").await.expect("bind");
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut b = [0u8; 16];
        let mut got = Vec::new();
        for _ in 0..messages {
            s.read_exact(&mut b).await.expect("read");
            let sent = u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
            let seq = u64::from_le_bytes(b[8..].try_into().expect("8 bytes"));
            got.push((seq, Instant::now(), sent));
        }
        // Answer with the instant the reply left.
        let t = Instant::now();
        s.write_all(&[1]).await.expect("write");
        s.flush().await.expect("flush");
        tokio::time::sleep(Duration::from_secs(1)).await;
        (got, t)
    });
    let asked = client.spawn(async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let start = Instant::now();
        let mut s = TcpStream::connect("10.0.0.1:1").await.expect("connect");
        // Degraded once connected: a lost connection request is refused, not retried.
        let net = madsim::plugin::simulator::<madsim::net::NetSim>();
        net.set_link_condition(from, to, Some(condition));
        let mut sent = Vec::new();
        for seq in 0..messages {
            let now = Instant::now();
            sent.push(now);
            let offset = (now - start).as_nanos() as u64;
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&offset.to_le_bytes());
            b[8..].copy_from_slice(&seq.to_le_bytes());
            s.write_all(&b).await.expect("write");
            s.flush().await.expect("flush");
        }
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.expect("the reply");
        (sent, Instant::now())
    });
    rt.block_on(async move {
        let (got, replied) = served.await.expect("server");
        let (sent, answered) = asked.await.expect("client");
        for (i, (seq, _, _)) in got.iter().enumerate() {
            assert_eq!(
                *seq, i as u64,
                "a degraded link keeps the connection's order"
            );
        }
        let took = got.iter().zip(&sent).map(|(g, s)| g.1 - *s).collect();
        (took, answered - replied)
    })
}

#[test]
fn a_degraded_link_adds_its_latency_one_way_only() {
    let extra = Duration::from_micros(300);
    let condition = madsim::net::LinkCondition {
        extra_latency: extra,
        loss: 0.0,
    };
    let (there, back) = degraded(condition, 1);
    assert!(
        near(there[0], HOP + extra),
        "the degraded way took {:?}",
        there[0]
    );
    assert!(near(back, HOP), "the way back took {back:?}");
}

#[test]
fn a_lossy_link_delivers_everything_in_order_but_late() {
    let condition = madsim::net::LinkCondition {
        extra_latency: Duration::ZERO,
        loss: 0.5,
    };
    let (there, _) = degraded(condition, 40);
    // Every message arrived (the connection retransmits after a backoff of 1 ms or more), in
    // order (asserted above), so the ones behind a lost one waited for it too.
    let late = there
        .iter()
        .filter(|t| **t >= Duration::from_millis(1))
        .count();
    assert!(late > 20, "only {late} of 40 waited for a retransmission");
    let (clean, _) = degraded(madsim::net::LinkCondition::default(), 40);
    assert!(clean.iter().all(|t| near(*t, HOP)), "{clean:?}");
}

#[test]
fn a_message_costs_its_receiver_one_wake_up() {
    const MESSAGES: u64 = 50;
    let rt = runtime();
    let server = rt.create_node().ip([10, 0, 0, 1].into()).build();
    let client = rt.create_node().ip([10, 0, 0, 2].into()).build();
    let served = server.spawn(async move {
        let listener = TcpListener::bind("10.0.0.1:1").await.expect("bind");
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut b = [0u8; 8];
        let polls = || madsim::runtime::Handle::current().metrics().task_polls();
        s.read_exact(&mut b).await.expect("read");
        let first = polls();
        for _ in 1..MESSAGES {
            s.read_exact(&mut b).await.expect("read");
        }
        polls() - first
    });
    client.spawn(async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let mut s = TcpStream::connect("10.0.0.1:1").await.expect("connect");
        for i in 0..MESSAGES {
            s.write_all(&i.to_le_bytes()).await.expect("write");
            s.flush().await.expect("flush");
            madsim::time::sleep_exact(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    });
    let polls = rt.block_on(async move { served.await.expect("server") });
    // Per message after the first: the client runs once to send it, the server once to read
    // it. madsim's own channel woke the server twice (when the message was sent, and again at
    // its arrival): 3 runs per message.
    let per_message = polls as f64 / (MESSAGES - 1) as f64;
    assert!(per_message <= 2.1, "{per_message:.2} task runs per message");
}

#[test]
fn tasks_still_waiting_when_the_runtime_goes_are_dropped_with_it() {
    let held = std::sync::Arc::new(());
    {
        let rt = runtime();
        let node = rt.create_node().ip([10, 0, 0, 1].into()).build();
        let other = rt.create_node().ip([10, 0, 0, 2].into()).build();
        // One asleep on a timer far in the future...
        let h = held.clone();
        node.spawn(async move {
            let _h = h;
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        // ...and one waiting to read a connection whose other end never writes: its waker
        // sits in a channel its own future holds, a cycle only a shutdown breaks.
        let h = held.clone();
        node.spawn(async move {
            let _h = h;
            let listener = TcpListener::bind("10.0.0.1:1").await.expect("bind");
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut b = [0u8; 1];
            let _ = s.read_exact(&mut b).await;
        });
        // Its peer holds the connection open, asleep: dropping the peer wakes the reader.
        let h = held.clone();
        other.spawn(async move {
            let _h = h;
            tokio::time::sleep(Duration::from_millis(1)).await;
            let _s = TcpStream::connect("10.0.0.1:1").await.expect("connect");
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        rt.block_on(async { tokio::time::sleep(Duration::from_secs(1)).await });
        assert_eq!(
            std::sync::Arc::strong_count(&held),
            4,
            "the three tasks are alive"
        );
    }
    assert_eq!(
        std::sync::Arc::strong_count(&held),
        1,
        "a task left waiting outlived its runtime"
    );
}
