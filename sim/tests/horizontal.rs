//! The horizontal design: stateless replicas behind a load balancer, autoscaled.

mod common;

use std::sync::Arc;

use scalelab_sim::harness::run::{config, simulate};
use scalelab_sim::run;
use scalelab_sim::Design;

/// The small test shop with a short autoscaler cycle, so a short run sees it act.
fn autoscaled(rate: f64, duration_s: f64) -> scalelab_sim::Scenario {
    autoscaled_text(&common::small_text(rate, duration_s))
}

fn autoscaled_text(shop: &str) -> scalelab_sim::Scenario {
    let text = format!(
        "{}\n[horizontal]\nreplica = {{ cores = 2, contention = 0.03, coherency = 0.0003 }}\nmax_waiting_requests = 200\n\
         db_pool_size = 4\nmin_replicas = 2\nmax_replicas = 12\ntarget_cpu = 0.6\ntolerance = 0.1\nsync_period_s = 5\n\
         scale_up_window_s = 0\nscale_down_window_s = 30\nstartup_delay_s = 5\nbalance = \"least-connections\"\n\
         health_interval_ms = 1000\nhealth_timeout_ms = 500\nunhealthy_after = 2\nhealthy_after = 2\n",
        shop
    );
    scalelab_sim::parse(&text).expect("scenario")
}

#[test]
fn the_autoscaler_adds_replicas_under_load_and_removes_them_after() {
    // 60 s at about three times what two 2-core replicas carry, then near silence.
    let curve =
        "curve = [{ at_s = 0, sessions_per_s = 700 }, { at_s = 60, sessions_per_s = 700 }, \
                 { at_s = 61, sessions_per_s = 5 }]";
    let scenario = autoscaled_text(
        &common::small_text(700.0, 150.0)
            .replace("curve = [{ at_s = 0, sessions_per_s = 700 }]", curve),
    );
    let r = run(&scenario, Design::Horizontal, 11, None).expect("run");
    assert_eq!(r.series[0].replicas, 2, "starts at min_replicas");
    assert!(r.replicas_max >= 5, "scaled up to {}", r.replicas_max);
    assert!(r.replicas_max <= 12, "never past max_replicas");
    let last = r.series.last().expect("series");
    assert!(
        last.replicas < r.replicas_max,
        "scaled back down: {} < {}",
        last.replicas,
        r.replicas_max
    );
    assert!(r.scale_events >= 2);
}

#[test]
fn more_replicas_serve_what_one_small_host_cannot() {
    // The same traffic on the 4-core monolith and on autoscaled 2-core replicas: about twice
    // what the monolith can do.
    let scenario = autoscaled(800.0, 90.0);
    let vertical = run(&scenario, Design::Vertical, 2, None).expect("vertical");
    let horizontal = run(&scenario, Design::Horizontal, 2, None).expect("horizontal");
    assert!(
        horizontal.availability > vertical.availability + 0.1,
        "horizontal {} vs vertical {}",
        horizontal.availability,
        vertical.availability
    );
}

#[test]
fn the_horizontal_design_is_deterministic() {
    let scenario = autoscaled(100.0, 30.0);
    let a = run(&scenario, Design::Horizontal, 5, None).expect("run");
    let b = run(&scenario, Design::Horizontal, 5, None).expect("run");
    let c = run(&scenario, Design::Horizontal, 6, None).expect("run");
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_ne!(a.trace_hash, c.trace_hash);
}

fn horizontal_simulation() -> impl std::future::Future<Output = scalelab_sim::Report> {
    simulate(
        Arc::new(autoscaled(60.0, 20.0)),
        Design::Horizontal,
        None,
        Default::default(),
    )
}

#[test]
fn madsim_determinism_check_passes_for_the_horizontal_design() {
    let scenario = autoscaled(60.0, 20.0);
    let r =
        madsim::runtime::Runtime::check_determinism(9, config(&scenario), horizontal_simulation);
    assert!(r.requests > 0);
}
