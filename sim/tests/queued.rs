//! The queued design: checkout writes the side work to the outbox, a relay publishes it,
//! workers do it.

mod common;

use scalelab_sim::judge::check::Status;
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

#[test]
fn a_relay_killed_mid_batch_and_restarted_loses_and_duplicates_nothing() {
    // The relay is down from 10 s to 30 s while orders go on: the outbox fills up. Restarted,
    // it publishes the backlog at once (in batches of 64; with data-centre hops the whole
    // backlog takes less than a quarter of a second), and 50 ms later (ticks of 0.05 s, so the kill lands there) it is
    // killed again in the middle of a batch: published, not yet marked published. Restarted
    // 3 s later, it publishes that batch again. Every order must still get its side work, and
    // its customer one email.
    let text = format!(
        "{}\n[metrics]\ninterval_s = 0.05\n\
         [[faults]]\nat_s = 10\nkind = \"kill\"\ntarget = \"relay\"\nrestart_after_s = 20\n\
         [[faults]]\nat_s = 30.05\nkind = \"kill\"\ntarget = \"relay\"\nrestart_after_s = 3\n",
        common::small_text(30.0, 60.0)
    );
    let scenario = scalelab_sim::parse(&text).expect("scenario");
    for design in [Design::Queued, Design::Sharded] {
        let r = run(&scenario, design, 5, None).expect("runs");
        let kill = r
            .faults
            .iter()
            .find(|f| f.what().starts_with("kill relay"))
            .expect("the relay was killed");
        assert!(kill.effect.contains("outbox-relay"), "{design:?}: {kill:?}");
        for check in [
            "no-lost-order",
            "one-confirmation-email",
            "queue-drained",
            "recovers",
        ] {
            let c = r.checks.iter().find(|c| c.name == check).expect("ran");
            assert_eq!(c.status, Status::Held, "{design:?} {check}: {c:?}");
        }
        // The kill came mid-batch: the restarted relay published messages again, and the
        // workers made the repeats harmless (the provider kept one email each, by its key).
        let note = |name: &str| {
            r.checks
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.note.clone())
                .unwrap_or_default()
        };
        let count = |text: &str, before: &str| -> u64 {
            let head = text.split(before).next().unwrap_or("");
            head.rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        let drained = note("queue-drained");
        assert!(
            count(&drained, " message(s) published again") > 0,
            "{design:?}: the relay died between publishing and marking: {drained}"
        );
        let emails = note("one-confirmation-email");
        assert!(
            count(&emails, " repeat send(s)") > 0,
            "{design:?}: the repeats reached the mail provider, which kept one: {emails}"
        );
    }
}
