//! The end of a run, after its arrivals stop: the liveness phase (heal every fault, then a
//! probe shopper must get an order taken, as TigerBeetle's simulator heals everything and
//! waits for convergence) and the drain (queued side work goes on until the queue is empty,
//! so that an order acknowledged in the last second has had its chance to be emailed).
//!
//! Must not: judge (the judges read what these phases leave behind) or start new faults.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use madsim::runtime::Handle;
use tokio::time::Instant;

use crate::deployment::Deployment;
use crate::faults::inject::Injector;
use crate::judge::recovery::Probe;
use crate::metrics::{Recorder, PROBE_CUSTOMER};
use crate::traffic::browser::{probe_checkout, sales_report};

/// Heals every fault still in force, then sends a probe shopper once a second until the shop
/// takes its order or `within` has passed.
pub async fn liveness(
    handle: &Handle,
    injector: &mut Injector,
    recorder: &Mutex<Recorder>,
    entry: SocketAddr,
    start: Instant,
    slo: Duration,
    within: Duration,
) -> Probe {
    let healed_at = Instant::now().duration_since(start);
    if injector.is_disturbed() {
        let healed = injector.heal_all(healed_at);
        let mut r = recorder.lock().unwrap_or_else(|p| p.into_inner());
        for a in &healed {
            r.fault(healed_at, &a.what(), &a.effect, &a.detail);
        }
    }
    let node = handle
        .create_node()
        .name("probe")
        .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 8, 2)))
        .build();
    let mut probe = Probe {
        healed_at_s: healed_at.as_secs_f64(),
        order_at_s: None,
        tries: 0,
        last_error: None,
        sales: None,
    };
    // A try is a handful of requests; give it the time a patient shopper would.
    let budget = slo * 4;
    while Instant::now().duration_since(start) <= healed_at + within {
        probe.tries += 1;
        let attempt = node.spawn(async move {
            tokio::time::timeout(budget, probe_checkout(entry, PROBE_CUSTOMER))
                .await
                .unwrap_or_else(|_| Err("no answer in time".into()))
        });
        let result = attempt
            .await
            .unwrap_or_else(|_| Err("the probe's task died".into()));
        let now = Instant::now().duration_since(start);
        recorder
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .probe(now, probe.tries, &result);
        match result {
            Ok(_) => {
                probe.order_at_s = Some(now.as_secs_f64());
                probe.last_error = None;
                break;
            }
            Err(why) => probe.last_error = Some(why),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // The shop is back: what does its admin report say? (The checkers compare it with what
    // the databases hold; no order is placed from here on.)
    if probe.order_at_s.is_some() {
        let read = node.spawn(async move {
            tokio::time::timeout(budget, sales_report(entry))
                .await
                .unwrap_or_else(|_| Err("no answer in time".into()))
        });
        if let Ok(Ok(report)) = read.await {
            let at = Instant::now().duration_since(start).as_secs_f64();
            probe.sales = Some((at, report));
        }
    }
    probe
}

/// Waits, a tick at a time, until no order awaits any of its side work or `drain_s` has
/// passed; records the queue's lag at each step in `lag`.
pub async fn drain(
    deployment: &Deployment,
    start: Instant,
    interval: Duration,
    drain_s: f64,
    lag: &mut Vec<(f64, u64)>,
) {
    let drain_end = Instant::now().duration_since(start) + Duration::from_secs_f64(drain_s);
    let mut now = Instant::now().duration_since(start);
    while now < drain_end && deployment.side_work_lag() > 0 {
        tokio::time::sleep(interval.min(drain_end - now)).await;
        now = Instant::now().duration_since(start);
        lag.push((now.as_secs_f64(), deployment.queue_lag()));
    }
}
