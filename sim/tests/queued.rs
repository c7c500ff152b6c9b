//! The queued design: checkout publishes, workers do the side work.

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
