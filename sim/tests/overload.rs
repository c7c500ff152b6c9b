//! Pushing arrivals past the naive server's capacity must show: p99 up, availability down.

mod common;

use scalelab_sim::run;
use scalelab_sim::Design;

#[test]
fn overload_raises_p99_and_lowers_availability() {
    // The 4-core test host does ~3.6 cores of work at full load; ~10 ms of CPU per session
    // puts its capacity near 350 sessions/s.
    // Both with the flash-sale server's 2,000-request wait queue, so that overload shows as
    // queueing (latency) as well as refusals.
    let with_queue = |rate: f64| {
        let text = common::small_text(rate, 30.0)
            .replace("max_waiting_requests = 500", "max_waiting_requests = 2000");
        scalelab_sim::parse(&text).expect("scenario")
    };
    let calm = run(&with_queue(40.0), Design::Vertical, 1, None).expect("calm run");
    let overloaded = run(&with_queue(900.0), Design::Vertical, 1, None).expect("overloaded run");
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
    let r = run(&common::small(30.0, 30.0), Design::Vertical, 3, None).expect("run");
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

#[test]
fn the_shop_recovers_when_a_spike_ends() {
    // 20 s of calm, 20 s at several times capacity, 40 s of calm again. Browsers that give up
    // drop their requests mid-queue; the host must still count them out, or it would refuse
    // work forever after the spike. The wait queue is long enough (3000 requests, ~2.5 s of
    // work) that queued requests outlive their browsers' patience.
    let text = common::small_text(40.0, 80.0)
        .replace("max_waiting_requests = 500", "max_waiting_requests = 3000")
        .replace(
            "curve = [{ at_s = 0, sessions_per_s = 40 }]",
            "curve = [{ at_s = 0, sessions_per_s = 40 }, { at_s = 20, sessions_per_s = 40 }, \
         { at_s = 21, sessions_per_s = 2500 }, { at_s = 40, sessions_per_s = 2500 }, \
         { at_s = 41, sessions_per_s = 40 }]",
        );
    let scenario = scalelab_sim::parse(&text).expect("scenario");
    let r = run(&scenario, Design::Vertical, 5, None).expect("run");
    let at = |t: f64| r.series.iter().find(|p| p.t_s == t).expect("a point at t");
    assert!(at(10.0).availability > 0.99, "before: {:?}", at(10.0));
    let worst = r.worst_window.clone().expect("a worst window");
    assert!(worst.availability < 0.5, "the spike hurts: {worst:?}");
    for t in [60.0, 70.0, 79.0] {
        assert!(at(t).availability > 0.99, "recovered by {t} s: {:?}", at(t));
        assert!(at(t).app_cpu > 0.0, "the host works again at {t} s");
    }
}
