//! Pushing arrivals past the naive server's capacity must show: p99 up, availability down.

mod common;

use scalelab_sim::run::run;

#[test]
fn overload_raises_p99_and_lowers_availability() {
    // The 4-core test host does ~3.6 cores of work at full load; ~10 ms of CPU per session
    // puts its capacity near 350 sessions/s.
    let calm = run(&common::small(40.0, 30.0), 1, None).expect("calm run");
    let overloaded = run(&common::small(900.0, 30.0), 1, None).expect("overloaded run");
    assert!(
        calm.availability > 0.99,
        "calm availability {}",
        calm.availability
    );
    assert!(
        overloaded.availability < calm.availability - 0.2,
        "availability {} -> {}",
        calm.availability,
        overloaded.availability
    );
    assert!(
        overloaded.latency.p99_ms > 5.0 * calm.latency.p99_ms,
        "p99 {} -> {} ms",
        calm.latency.p99_ms,
        overloaded.latency.p99_ms
    );
    assert!(
        overloaded.cpu.app_peak > 0.95,
        "the app host saturates: {}",
        overloaded.cpu.app_peak
    );
    assert!(overloaded.revenue_lost_cents > calm.revenue_lost_cents);
}

#[test]
fn a_calm_shop_takes_orders_and_sends_their_emails() {
    let r = run(&common::small(30.0, 30.0), 3, None).expect("run");
    assert!(r.orders > 50, "orders {}", r.orders);
    assert_eq!(
        r.emails_sent, r.orders,
        "one confirmation per order, sent inline"
    );
    assert!(r.errors.is_empty(), "no errors when calm: {:?}", r.errors);
    assert_eq!(
        r.sessions.started,
        r.sessions.completed
            + r.sessions.abandoned_slow
            + r.sessions.abandoned_error
            + r.sessions.cut
    );
    assert!(
        r.series.len() >= 29,
        "one point per second: {}",
        r.series.len()
    );
}
