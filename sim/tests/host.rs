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

#[test]
fn kept_alive_connections_do_not_slow_down() {
    // Regression: madsim sends a message on every flush, even an empty one, and hyper
    // flushes empty buffers; without `Flushed`, each request on a connection took 2 ms
    // longer than the one before.
    let rt = Runtime::with_seed_and_config(1, madsim::Config::default());
    let app = rt.create_node().ip("10.0.1.1".parse().expect("ip")).build();
    let client = rt.create_node().ip("10.0.9.1".parse().expect("ip")).build();
    let addr: std::net::SocketAddr = "10.0.1.1:80".parse().expect("addr");
    app.spawn(async move {
        let router = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
        let _ = scalelab_sim::world::net::serve_http(addr, router).await;
    });
    let times = rt.block_on(client.spawn(async move {
        use http_body_util::BodyExt;
        tokio::time::sleep(Duration::from_millis(10)).await;
        let stream = scalelab_sim::world::net::Flushed::connect(addr)
            .await
            .expect("connect");
        let (mut tx, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
        tokio::spawn(conn);
        let mut times = Vec::new();
        for _ in 0..10 {
            let t = Instant::now();
            tx.ready().await.expect("ready");
            let req = hyper::Request::get("/health")
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .expect("request");
            let resp = tx.send_request(req).await.expect("response");
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            assert_eq!(&body[..], b"ok");
            times.push(t.elapsed());
        }
        times
    }));
    let times = times.expect("client task");
    let (first, last) = (times[0], times[times.len() - 1]);
    assert!(last <= first + Duration::from_millis(1), "{times:?}");
}
