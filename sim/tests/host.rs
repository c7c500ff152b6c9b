//! The simulated host's CPU and the transport adapter, measured in virtual time.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use madsim::runtime::Runtime;
use scalelab_sim::scenario::{Host, Probability};
use scalelab_sim::world::host::Cpu;
use tokio::time::Instant;

fn host(cores: u32, contention: f64, coherency: f64) -> Host {
    Host {
        cores: NonZeroU32::new(cores).expect("cores > 0"),
        contention: Probability(contention),
        coherency: Probability(coherency),
    }
}

/// Runs `jobs` pieces of `work_ms` at once on a host; returns virtual seconds until all finish.
fn makespan(h: Host, jobs: u32, work_ms: u64) -> f64 {
    let rt = Runtime::with_seed_and_config(1, madsim::Config::default());
    rt.block_on(async move {
        let cpu = Arc::new(Cpu::new(&h, u32::MAX));
        let start = Instant::now();
        let handles: Vec<_> = (0..jobs)
            .map(|_| {
                let cpu = cpu.clone();
                tokio::spawn(async move { cpu.run(Duration::from_millis(work_ms)).await.is_ok() })
            })
            .collect();
        for h in handles {
            assert!(h.await.expect("task"));
        }
        start.elapsed().as_secs_f64()
    })
}

#[test]
fn linear_host_does_cores_times_the_work() {
    // 8 cores, no contention: 80 jobs of 10 ms take 100 ms.
    let t = makespan(host(8, 0.0, 0.0), 80, 10);
    assert!((t - 0.100).abs() < 0.002, "{t}");
}

#[test]
fn contention_bends_vertical_scaling() {
    let usl = |cores| {
        let cpu = Cpu::new(&host(cores, 0.05, 0.001), 1);
        cpu.capacity()
    };
    assert!((usl(1) - 1.0).abs() < 1e-9);
    // Each added core gives less than the one before.
    let (c4, c8, c16, c32, c64) = (usl(4), usl(8), usl(16), usl(32), usl(64));
    assert!((c16 - c8) / 8.0 < (c8 - c4) / 4.0, "{c4} {c8} {c16}");
    assert!((c32 - c16) / 16.0 < (c16 - c8) / 8.0, "{c16} {c32}");
    // With coherency, past the peak more cores do less.
    assert!(c64 < c32, "{c32} {c64}");
    // And the simulated host agrees with the formula at full load.
    let t = makespan(host(16, 0.05, 0.001), 320, 10);
    let expected = 320.0 * 0.010 / usl(16);
    assert!((t - expected).abs() / expected < 0.05, "{t} vs {expected}");
}

#[test]
fn sub_millisecond_work_is_accounted_exactly() {
    // madsim never sleeps less than 1 ms; the host books cores in virtual time, so 1000
    // pieces of 0.1 ms on one core still take 0.1 s, not 1 s.
    let rt = Runtime::with_seed_and_config(1, madsim::Config::default());
    let t = rt.block_on(async {
        let cpu = Arc::new(Cpu::new(&host(1, 0.0, 0.0), u32::MAX));
        let start = Instant::now();
        let hs: Vec<_> = (0..1000)
            .map(|_| {
                let cpu = cpu.clone();
                tokio::spawn(async move { cpu.run(Duration::from_micros(100)).await.is_ok() })
            })
            .collect();
        for h in hs {
            assert!(h.await.expect("task"));
        }
        (start.elapsed().as_secs_f64(), cpu.busy_ns())
    });
    assert!((t.0 - 0.100).abs() < 0.002, "{}", t.0);
    assert_eq!(t.1, 100_000_000);
}

#[test]
fn a_full_queue_refuses_work() {
    let rt = Runtime::with_seed_and_config(1, madsim::Config::default());
    let refused = rt.block_on(async {
        let cpu = Arc::new(Cpu::new(&host(1, 0.0, 0.0), 10));
        let hs: Vec<_> = (0..20)
            .map(|_| {
                let cpu = cpu.clone();
                tokio::spawn(async move { cpu.run(Duration::from_millis(10)).await.is_err() })
            })
            .collect();
        let mut refused = 0;
        for h in hs {
            refused += u32::from(h.await.expect("task"));
        }
        refused
    });
    // One runs, ten wait, nine are turned away.
    assert_eq!(refused, 9);
}

/// GET /health on `conn`: the body.
async fn health(conn: &mut scalelab_sim::world::net::Connection) -> bytes::Bytes {
    let head = hyper::Request::get("/health")
        .body(())
        .expect("request")
        .into_parts()
        .0;
    let req = scalelab_sim::world::net::Forwarded(head, bytes::Bytes::new());
    conn.send(req).await.expect("reply").1
}

#[test]
fn kept_alive_connections_do_not_slow_down() {
    // Regression: with HTTP's bytes on madsim's TCP, every flush was a message, even an empty
    // one, and each request on a kept-alive connection took 2 ms longer than the one before.
    // Every hop takes 1 ms here, so every request should take the same 2 ms.
    let mut config = madsim::Config::default();
    config.net.send_latency = Duration::from_millis(1)..Duration::from_micros(1_001);
    let rt = Runtime::with_seed_and_config(1, config);
    let app = rt.create_node().ip("10.0.1.1".parse().expect("ip")).build();
    let client = rt.create_node().ip("10.0.9.1".parse().expect("ip")).build();
    let addr: std::net::SocketAddr = "10.0.1.1:80".parse().expect("addr");
    app.spawn(async move {
        let router = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
        let _ = scalelab_sim::world::net::serve_direct(addr, router).await;
    });
    let times = rt.block_on(client.spawn(async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut conn = scalelab_sim::world::net::Connection::open(addr)
            .await
            .expect("connect");
        let mut times = Vec::new();
        for _ in 0..10 {
            let t = Instant::now();
            assert_eq!(&health(&mut conn).await[..], b"ok");
            times.push(t.elapsed());
        }
        times
    }));
    let times = times.expect("client task");
    assert!(
        times.iter().all(|t| *t < Duration::from_micros(2_100)),
        "{times:?}"
    );
}

/// Serves a `/health` that takes 100 ms and then counts itself done, directly to clients
/// or behind a balancer; a client asks, gives up after 10 ms and closes its connection.
/// Returns how many requests ran to their end.
fn work_done_after_the_client_left(direct: bool) -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let rt = Runtime::with_seed_and_config(1, madsim::Config::default());
    let app = rt.create_node().ip("10.0.1.1".parse().expect("ip")).build();
    let client = rt.create_node().ip("10.0.9.1".parse().expect("ip")).build();
    let addr: std::net::SocketAddr = "10.0.1.1:80".parse().expect("addr");
    let done = Arc::new(AtomicUsize::new(0));
    let counter = done.clone();
    app.spawn(async move {
        let handler = move || {
            let counter = counter.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                counter.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
        };
        let router = axum::Router::new().route("/health", axum::routing::get(handler));
        let _ = if direct {
            scalelab_sim::world::net::serve_direct(addr, router).await
        } else {
            scalelab_sim::world::net::serve_forwarded(addr, router).await
        };
    });
    rt.block_on(client.spawn(async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut conn = scalelab_sim::world::net::Connection::open(addr)
            .await
            .expect("connect");
        let gave_up = tokio::time::timeout(Duration::from_millis(10), health(&mut conn)).await;
        assert!(gave_up.is_err());
        drop(conn);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }))
    .expect("client task");
    done.load(Ordering::Relaxed)
}

#[test]
fn a_client_that_leaves_takes_its_requests_work_with_it_at_the_front_door_only() {
    // At the front door (a browser connected to the naive design's host, or to the
    // balancer), the server drops the work of a client that went away, as hyper's HTTP/1.1
    // server does. Behind a balancer the replica never learns of it: the work runs to its
    // end, which is how an order can be committed after its shopper gave up.
    assert_eq!(work_done_after_the_client_left(true), 0);
    assert_eq!(work_done_after_the_client_left(false), 1);
}
