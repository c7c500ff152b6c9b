//! The queued design: checkout writes the side work to the outbox, a relay publishes it,
//! workers do it.

mod common;

use scalelab_sim::run;
use scalelab_sim::Design;

fn with_slow_mail(rate: f64, duration_s: f64) -> scalelab_sim::Scenario {
    // A mail provider that takes 800 ms on average.
    let text = format!(
        "{}\n[mail]\nlatency_ms_mean = 800\ntimeout_ms = 5000\n[queued]\nbrokers = 3\npartitions = 6\nreplication = 2\n\
         retention_messages = 100000\nemail_workers = 12\nstock_workers = 2\nlabel_workers = 2\nsession_timeout_ms = 10000\n\
         heartbeat_ms = 1000\ntimeout_ms = 2000\n",
        common::small_text(rate, duration_s)
    );
    scalelab_sim::parse(&text).expect("scenario")
}

fn checkout_p50(r: &scalelab_sim::Report) -> f64 {
    r.by_kind
        .iter()
        .find(|k| k.kind == "checkout")
        .map_or(f64::NAN, |k| k.latency.p50_ms)
}

#[test]
fn a_queue_takes_the_mail_providers_latency_off_checkout() {
    let scenario = with_slow_mail(30.0, 60.0);
    let inline = run(&scenario, Design::Horizontal, 8, None).expect("horizontal");
    let queued = run(&scenario, Design::Queued, 8, None).expect("queued");
    let (a, b) = (checkout_p50(&inline), checkout_p50(&queued));
    // The median of an exponential delay is ln 2 of its mean: ~555 ms here.
    assert!(a > 500.0, "inline checkout waits for the mail: p50 {a} ms");
    assert!(
        b < a / 4.0,
        "queued checkout does not: p50 {b} ms vs {a} ms"
    );
}

#[test]
fn every_order_of_the_queued_design_is_confirmed_once_the_queue_drains() {
    // Arrivals stop at 40 s; the run's drain is short, so give the workers a quiet tail.
    let text = common::small_text(30.0, 60.0).replace(
        "curve = [{ at_s = 0, sessions_per_s = 30 }]",
        "curve = [{ at_s = 0, sessions_per_s = 30 }, { at_s = 40, sessions_per_s = 30 }, { at_s = 41, sessions_per_s = 0 }]",
    );
    let scenario = scalelab_sim::parse(&text).expect("scenario");
    let r = run(&scenario, Design::Queued, 3, None).expect("queued");
    assert!(r.orders > 100, "orders {}", r.orders);
    assert_eq!(
        r.emails_sent, r.orders,
        "one confirmation per acknowledged order"
    );
    assert!(r.queue_lag_max > 0, "the queue was used");
}

#[test]
fn a_broker_outage_only_delays_the_side_work() {
    // The whole broker cluster is down from 20 s to 40 s. Checkout writes its message to the
    // outbox with the order, so the shop answers as before; the lag rises while the relay
    // cannot publish, and falls back once it can.
    let text = format!(
        "{}\n[[faults]]\nat_s = 20\nkind = \"broker-outage\"\nduration_s = 20\n",
        common::small_text(30.0, 80.0)
    );
    let scenario = scalelab_sim::parse(&text).expect("scenario");
    for design in [Design::Queued, Design::Sharded] {
        let r = run(&scenario, design, 5, None).expect("runs");
        let window = |from: f64, to: f64| {
            let points: Vec<_> = r
                .series
                .iter()
                .filter(|p| p.t_s >= from && p.t_s < to)
                .collect();
            let requests: u64 = points.iter().map(|p| p.requests).sum();
            let answered: u64 = points.iter().map(|p| p.answered_in_slo).sum();
            let orders: u64 = points.iter().map(|p| p.orders).sum();
            let lag = points.iter().map(|p| p.queue_lag).max().unwrap_or(0);
            (answered as f64 / requests.max(1) as f64, orders, lag)
        };
        let (before, orders_before, lag_before) = window(5.0, 20.0);
        let (during, orders_during, lag_during) = window(21.0, 40.0);
        let (_, _, lag_late) = window(70.0, 80.0);
        assert!(
            during >= before - 0.005,
            "{design:?}: availability {during} during the outage, {before} before"
        );
        assert!(
            orders_during > orders_before / 2,
            "{design:?}: orders go on: {orders_during} during, {orders_before} before"
        );
        assert!(
            lag_during > 10 * (lag_before + 1),
            "{design:?}: the lag rises during the outage: {lag_during}, before {lag_before}"
        );
        assert!(
            lag_late <= lag_before + 10,
            "{design:?}: and recovers: {lag_late} at the end, {lag_before} before"
        );
    }
}
