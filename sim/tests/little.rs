//! Little's law read off a report, and the figures it is made of: requests in the system
//! (per window and over the arrival window), the exact mean latency, and throughput over the
//! arrival window apart from the drain.

mod common;

use scalelab_sim::{parse, run, Design, Report};

/// `span`-weighted mean of the windows' requests in the system: the run's L again.
fn l_from_windows(r: &Report) -> f64 {
    let span: f64 = r.series.iter().map(|p| p.span_s).sum();
    r.series.iter().map(|p| p.in_system * p.span_s).sum::<f64>() / span
}

#[test]
fn on_a_calm_run_l_equals_lambda_times_w() {
    let scenario = common::small(20.0, 60.0);
    let r = run(&scenario, Design::Vertical, 1, None).expect("run");
    let little = r.little;
    assert!(r.requests > 3000, "{} requests", r.requests);
    assert!(little.l > 0.0, "{little:?}");
    let error = (little.l - little.lambda_w).abs() / little.lambda_w;
    assert!(
        error < 0.005,
        "L {} against lambda x W {}",
        little.l,
        little.lambda_w
    );
    // The windows' L, weighted by their length, is the run's L: nothing lost between them.
    let windows = l_from_windows(&r);
    assert!(
        (windows - little.l).abs() < 1e-9 * little.l.max(1.0),
        "{windows} vs {}",
        little.l
    );
    // Every request sent was answered or given up on, and lambda counts them all.
    assert_eq!(
        (little.lambda_rps * r.duration_s).round() as u64,
        r.requests
    );
    // The exact mean is the windows' means weighted by their requests (the drain has no
    // windows, and nothing is left for it on a calm run).
    let weighted: f64 = r
        .series
        .iter()
        .map(|p| p.mean_ms * p.requests as f64)
        .sum::<f64>()
        / r.series.iter().map(|p| p.requests).sum::<u64>() as f64;
    assert!(
        (weighted - r.latency.mean_ms).abs() < 1e-6 * r.latency.mean_ms,
        "{weighted} vs {}",
        r.latency.mean_ms
    );
    // Calm: the drain answers next to nothing.
    assert!(r.throughput_rps <= r.throughput_with_drain_rps);
    assert!(r.throughput_with_drain_rps - r.throughput_rps < 0.01 * r.throughput_rps);
}

/// One small host given more than it can do (measured on seed 2: 89% availability, L 466):
/// a queue builds, requests time out at the 2 s SLO, and a backlog is still being answered
/// when arrivals stop.
fn overloaded() -> scalelab_sim::Scenario {
    let text = common::small_text(160.0, 60.0)
        .replace("cores = 4", "cores = 1")
        .replace("max_waiting_requests = 500", "max_waiting_requests = 5000");
    parse(&text).expect("overloaded scenario")
}

#[test]
fn under_overload_the_drain_is_left_out_of_throughput_and_little_still_holds() {
    let r = run(&overloaded(), Design::Vertical, 2, None).expect("run");
    let little = r.little;
    assert!(
        r.availability < 0.9,
        "the host is overloaded: {}",
        r.availability
    );
    // The backlog answered after arrivals stopped is not throughput the shop kept up with.
    assert!(
        r.throughput_rps < r.throughput_with_drain_rps,
        "{} vs {}",
        r.throughput_rps,
        r.throughput_with_drain_rps
    );
    // Requests still in the system when arrivals stop count in W to their end and in L
    // only until then; with a 2 s timeout that is a second or two of 60.
    let error = (little.l - little.lambda_w).abs() / little.lambda_w;
    assert!(
        error < 0.05,
        "L {} against lambda x W {}",
        little.l,
        little.lambda_w
    );
    assert!(little.l > 10.0, "a queue built up: L = {}", little.l);
    assert!((l_from_windows(&r) - little.l).abs() < 1e-9 * little.l);
}
