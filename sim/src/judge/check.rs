//! The checkers: the promises every design must keep, judged after a run from evidence the
//! simulator gathered, never from the system's own opinion of itself.
//!
//! Owns the invariants and the form of a violation (virtual time, ids, the trail of events
//! that led there). Kept apart from the system, as TigerBeetle keeps its
//! checkers in `src/testing/`: a bug in the shop cannot also blind the check.
//!
//! Must not: reach into the system's internals (it reads what browsers were told, what the
//! databases hold, what the mail provider received) or change the run.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::Serialize;

use crate::deployment::design::Design;
use crate::deployment::nodes::Evidence as WorldEvidence;
use crate::faults::inject::{FaultSpan, Outage};
use crate::judge::cart_once;
use crate::judge::recovery::{Judge, Outcome, Recovery};
use crate::metrics::{AckedOrder, CartLoss, CartWrong, HistoryRead};
use crate::scenario::fault::Role;
use scalelab_system::model::{Order, ProductId, SalesReport};

/// Violations listed in full per checker; the rest are counted.
const EXAMPLES: usize = 5;
/// Lines of the event log quoted as a violation's trail: before the moment, and after it.
const TRAIL_BEFORE: usize = 6;
const TRAIL_AFTER: usize = 2;

/// Everything the checkers look at.
pub struct Evidence<'a> {
    pub design: Design,
    pub acked: &'a [AckedOrder],
    pub carts_lost: &'a [CartLoss],
    pub carts_wrong: &'a [CartWrong],
    pub history_reads: &'a [HistoryRead],
    /// Checkouts shoppers clicked twice.
    pub double_clicks: u64,
    /// Products a second tab added to a cart while its checkout ran.
    pub tab_adds: u64,
    /// The admin's sales report as the liveness phase read it (runs with faults), and when.
    pub sales: Option<&'a (f64, SalesReport)>,
    /// What the databases hold and the mail provider received.
    pub world: WorldEvidence,
    /// Consumer lag sampled at every tick, through the drain: (virtual s, lag).
    pub lag: &'a [(f64, u64)],
    pub broker_outages: Vec<Outage>,
    /// Every fault of the run, with its span (for the trails).
    pub faults: Vec<FaultSpan>,
    pub lag_recovery_s: f64,
    /// When the last fault of the run healed (0 if none did): other faults (a mail outage,
    /// a partition) may hold consumption back after a broker outage ends.
    pub last_heal_s: f64,
    /// An app host was killed during the run.
    pub app_killed: bool,
    /// What followed each heal (see `recovery`).
    pub recovery: &'a [Recovery],
    pub log: &'a VecDeque<(Duration, String)>,
}

/// How one invariant fared.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Held,
    Violated,
    /// Violated, as this design is known to: the report says why, and it does not fail the
    /// run (the naive design keeps carts in its memory).
    Expected,
    NotApplicable,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    pub at_s: f64,
    /// The order, session or product ids involved.
    pub ids: String,
    pub message: String,
    /// The faults in force at `at_s`, then the notable events around it (a few before, a
    /// couple after), oldest first.
    pub trail: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    pub name: &'static str,
    pub status: Status,
    /// Why, for `expected` and `not-applicable`, or what was checked.
    pub note: String,
    pub violations: u64,
    /// The first few violations.
    pub examples: Vec<Violation>,
    /// The run met the situation this check guards (an order acknowledged under a fault, a
    /// sale at stock zero, a repeated email send, ...): a hunt counts the seeds that did, so
    /// that a check no seed exercised says so instead of passing for nothing.
    pub exercised: bool,
}

impl CheckResult {
    /// A violation that fails the run.
    pub fn failed(&self) -> bool {
        self.status == Status::Violated
    }
}

/// The invariants, by name, as reports and `hunt` group them.
pub const CHECKS: [&str; 11] = [
    "no-lost-order",
    "one-order-per-cart",
    "one-confirmation-email",
    "no-oversell",
    "cart-survives",
    "cart-exact",
    "read-your-writes",
    "orders-on-their-shard",
    "lag-recovers",
    "queue-drained",
    "recovers",
];

/// Runs every checker on `ev`.
pub fn check_all(ev: &Evidence) -> Vec<CheckResult> {
    vec![
        no_lost_order(ev),
        one_order_per_cart(ev),
        one_confirmation_email(ev),
        no_oversell(ev),
        cart_survives(ev),
        cart_exact(ev),
        read_your_writes(ev),
        orders_on_their_shard(ev),
        lag_recovers(ev),
        queue_drained(ev),
        recovers(ev),
    ]
}

/// Collects violations, keeping the first few in full.
struct Found<'a> {
    log: &'a VecDeque<(Duration, String)>,
    faults: &'a [FaultSpan],
    count: u64,
    examples: Vec<Violation>,
}

impl<'a> Found<'a> {
    fn new(ev: &'a Evidence) -> Found<'a> {
        Found {
            log: ev.log,
            faults: &ev.faults,
            count: 0,
            examples: Vec::new(),
        }
    }

    /// A violation that became true at `at_s` (the request, commit or delivery that made it
    /// so; `f64::MAX` when only the end of the run shows it).
    fn add(&mut self, at_s: f64, ids: String, message: String) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            self.examples.push(Violation {
                at_s,
                ids,
                message,
                trail: self.trail(at_s),
            });
        }
    }

    /// What was going on at `at_s`: every fault in force then, and the events around it.
    fn trail(&self, at_s: f64) -> Vec<String> {
        let line = |at: f64, text: &str| format!("{at:>9.3} s  {text}");
        let mut trail: Vec<String> = self
            .faults
            .iter()
            .filter(|f| f.covers(at_s))
            .map(|f| line(f.from_s, &format!("in force then: {}", f.fault)))
            .collect();
        let split = self.log.partition_point(|(at, _)| at.as_secs_f64() <= at_s);
        let from = split.saturating_sub(TRAIL_BEFORE);
        let to = (split + TRAIL_AFTER).min(self.log.len());
        trail.extend(
            self.log
                .range(from..to)
                .map(|(at, text)| line(at.as_secs_f64(), text)),
        );
        trail
    }

    fn result(self, name: &'static str, note: String, exercised: bool) -> CheckResult {
        CheckResult {
            exercised,
            name,
            status: if self.count == 0 {
                Status::Held
            } else {
                Status::Violated
            },
            note,
            violations: self.count,
            examples: self.examples,
        }
    }
}

fn not_applicable(name: &'static str, why: &str) -> CheckResult {
    CheckResult {
        name,
        status: Status::NotApplicable,
        note: why.to_owned(),
        violations: 0,
        examples: Vec::new(),
        exercised: false,
    }
}

/// Some fault of the run broke a role `role` accepts, from `from_s` on.
fn hit<'e>(
    ev: &'e Evidence<'_>,
    role: impl Fn(&Role) -> bool + Copy + 'e,
) -> impl Iterator<Item = &'e FaultSpan> + 'e {
    ev.faults.iter().filter(move |f| f.fault.hits(role))
}

/// Every order a browser was told is placed is in a database, as it was told.
fn no_lost_order(ev: &Evidence) -> CheckResult {
    let stored: BTreeMap<u64, &Order> = ev
        .world
        .dbs
        .iter()
        .flat_map(|db| db.orders.iter().map(|o| (o.id, o)))
        .collect();
    let mut found = Found::new(ev);
    for a in ev.acked {
        let at_s = a.at.as_secs_f64();
        match stored.get(&a.order_id) {
            None => found.add(
                at_s,
                format!("order {} ({})", a.order_id, session(a.session)),
                "acknowledged to the customer, but no database holds it".into(),
            ),
            Some(o) if o.customer_id != a.customer || o.total_cents != a.total_cents => found.add(
                at_s,
                format!("order {} ({})", a.order_id, session(a.session)),
                format!(
                    "acknowledged as customer {} / {} cents, stored as customer {} / {} cents",
                    a.customer, a.total_cents, o.customer_id, o.total_cents
                ),
            ),
            Some(_) => {}
        }
    }
    // Exercised: an order acknowledged while something was broken.
    let exercised = ev
        .acked
        .iter()
        .any(|a| ev.faults.iter().any(|f| f.covers(a.at.as_secs_f64())));
    found.result(
        "no-lost-order",
        format!("{} acknowledged order(s) looked up", ev.acked.len()),
        exercised,
    )
}

/// How often the shop's rarer paths ran in this run, by name: a hunt adds them up over its
/// seeds, so that a path no seed reached says so (what lies behind it went untested).
pub fn paths(ev: &Evidence) -> Vec<(&'static str, u64)> {
    let known: usize = ev.world.dbs.iter().map(|db| db.orders.len()).sum();
    vec![
        ("checkout clicked twice", ev.double_clicks),
        ("second tab raced a checkout", ev.tab_adds),
        (
            "order committed after its shopper gave up",
            known.saturating_sub(ev.acked.len()) as u64,
        ),
        ("email sent again, recognised by key", ev.world.mail.repeats),
        (
            "message published again by the relay",
            ev.world
                .publications
                .saturating_sub(ev.world.published.len() as u64),
        ),
        ("order history read", ev.history_reads.len() as u64),
    ]
}

/// A session as a violation names it: the liveness probe's has no number worth reading.
fn session(id: u64) -> String {
    if id == crate::metrics::PROBE_SESSION {
        "the liveness probe's session".into()
    } else {
        format!("session {id}")
    }
}

/// No cart is paid for twice (see `cart_once`).
fn one_order_per_cart(ev: &Evidence) -> CheckResult {
    let mut found = Found::new(ev);
    for p in cart_once::paid_twice(&ev.world.dbs, ev.acked) {
        found.add(p.at_s, p.ids, p.message);
    }
    found.result(
        "one-order-per-cart",
        "orders that share a payment".into(),
        // Exercised: some shopper clicked "buy" twice.
        ev.double_clicks > 0,
    )
}

/// Every acknowledged order has exactly one confirmation email in the customer's inbox —
/// counting every delivery, as a customer would — and every email was sent with an
/// idempotency key (without one, a retry the provider cannot recognise is a second email:
/// a finding even where no retry happened to come); no email confirms an order that does not
/// exist.
fn one_confirmation_email(ev: &Evidence) -> CheckResult {
    let mail = &ev.world.mail;
    let mut found = Found::new(ev);
    for a in ev.acked {
        let delivered = mail
            .delivered
            .get(&a.order_id)
            .map_or(&[][..], Vec::as_slice);
        let ids = format!("order {} ({})", a.order_id, session(a.session));
        match delivered {
            [] => found.add(
                a.at.as_secs_f64(),
                ids,
                "acknowledged, but no confirmation email arrived by the end of the drain".into(),
            ),
            [_] => {}
            [_, second, ..] => found.add(
                second.as_secs_f64(),
                ids,
                format!(
                    "{} confirmation emails delivered for one order (the second at {:.3} s)",
                    delivered.len(),
                    second.as_secs_f64()
                ),
            ),
        }
    }
    for &(at, order) in &mail.keyless {
        found.add(
            at.as_secs_f64(),
            format!("order {order}"),
            "a confirmation email sent without an idempotency key: a retry of it would be a \
             second email"
                .into(),
        );
    }
    let known: std::collections::BTreeSet<u64> = ev
        .world
        .dbs
        .iter()
        .flat_map(|db| db.orders.iter().map(|o| o.id))
        .collect();
    let acked: std::collections::BTreeSet<u64> = ev.acked.iter().map(|a| a.order_id).collect();
    for (&order, times) in &mail.delivered {
        let first = times.first().map_or(f64::MAX, Duration::as_secs_f64);
        if !known.contains(&order) {
            found.add(
                first,
                format!("order {order}"),
                "a confirmation email for an order no database holds".into(),
            );
        } else if !acked.contains(&order) && times.len() > 1 {
            // An order committed after its shopper gave up is still an order: one email.
            found.add(
                times.get(1).map_or(first, Duration::as_secs_f64),
                format!("order {order}"),
                format!(
                    "{} confirmation emails delivered for one order",
                    times.len()
                ),
            );
        }
    }
    let emails: usize = mail.delivered.values().map(Vec::len).sum();
    let unacked = known.len().saturating_sub(acked.len());
    found.result(
        "one-confirmation-email",
        format!(
            "{} acknowledged order(s) and {unacked} committed after the shopper stopped \
             waiting; {emails} email(s) delivered; {} repeat send(s) the provider recognised \
             by key",
            ev.acked.len(),
            mail.repeats
        ),
        // Exercised: the provider was offered an email it had already delivered.
        mail.repeats > 0 || !mail.keyless.is_empty() || emails > known.len(),
    )
}

/// No product sold more units than it had, and stock adds up with the orders.
fn no_oversell(ev: &Evidence) -> CheckResult {
    let mut found = Found::new(ev);
    for (shard, db) in ev.world.dbs.iter().enumerate() {
        let mut sold: BTreeMap<ProductId, u64> = BTreeMap::new();
        for o in &db.orders {
            for l in &o.lines {
                *sold.entry(l.product_id).or_default() += u64::from(l.quantity);
            }
        }
        for &(product, left) in &db.stock {
            let s = sold.get(&product).copied().unwrap_or(0);
            let initial = u64::from(db.initial_stock);
            if s > initial || u64::from(left) + s != initial {
                found.add(
                    f64::MAX,
                    format!("product {product} on database {shard}"),
                    format!(
                        "{initial} in stock at the start, {s} sold in orders, {left} left: {}",
                        if s > initial {
                            "oversold"
                        } else {
                            "stock and orders disagree"
                        }
                    ),
                );
            }
        }
    }
    // Exercised: some product sold out, so a buyer met stock zero.
    let exercised = ev
        .world
        .dbs
        .iter()
        .any(|db| db.stock.iter().any(|&(_, left)| left == 0));
    found.result(
        "no-oversell",
        "stock and orders of every product".into(),
        exercised,
    )
}

/// What browsers reported seeing, each at its moment: (when, session, what).
fn browser_findings<'e>(
    ev: &'e Evidence,
    seen: impl Iterator<Item = (Duration, u64, &'e String)>,
) -> Found<'e> {
    let mut found = Found::new(ev);
    for (at, session, what) in seen {
        found.add(at.as_secs_f64(), format!("session {session}"), what.clone());
    }
    found
}

/// Carts were put to the test: a node that serves or keeps them broke while shoppers shopped.
fn carts_at_risk(ev: &Evidence) -> bool {
    hit(ev, |r| matches!(r, Role::App | Role::SessionStore))
        .next()
        .is_some()
}

/// A browser never sees its cart forgotten between two successful requests.
fn cart_survives(ev: &Evidence) -> CheckResult {
    let found = browser_findings(ev, ev.carts_lost.iter().map(|c| (c.at, c.session, &c.what)));
    let mut r = found.result(
        "cart-survives",
        "browsers compare their cart with the shop's".into(),
        carts_at_risk(ev),
    );
    if r.status == Status::Violated && ev.design == Design::Vertical && ev.app_killed {
        r.status = Status::Expected;
        r.note = "the naive design keeps sessions in its memory: they die with the node".into();
    }
    r
}

/// What a shopper sees in the cart is exactly what they put there, and the order they pay
/// for totals what the cart last showed (cart-survives asks only whether something went
/// missing; this asks whether something came back, or was charged, that should not have).
fn cart_exact(ev: &Evidence) -> CheckResult {
    let found = browser_findings(
        ev,
        ev.carts_wrong.iter().map(|c| (c.at, c.session, &c.what)),
    );
    found.result(
        "cart-exact",
        format!(
            "browsers compare every cart and bill with what they put in the cart; {} add(s) \
             from a second tab raced a checkout",
            ev.tab_adds
        ),
        // Exercised: a node that keeps carts broke, or two tabs changed one cart at once.
        carts_at_risk(ev) || ev.tab_adds > 0,
    )
}

/// Every order acknowledged to a customer appears in that customer's order history when it
/// is read after the acknowledgement, as it was acknowledged, and a history shows no one
/// else's orders.
fn read_your_writes(ev: &Evidence) -> CheckResult {
    let mut by_customer: BTreeMap<u64, Vec<&AckedOrder>> = BTreeMap::new();
    for a in ev.acked {
        by_customer.entry(a.customer).or_default().push(a);
    }
    let mut found = Found::new(ev);
    for read in ev.history_reads {
        let at_s = read.sent.as_secs_f64();
        let ids = |order: u64| {
            format!(
                "order {order}, customer {} ({})",
                read.customer,
                session(read.session)
            )
        };
        for &(order, customer, _) in read.seen.iter().filter(|o| o.1 != read.customer) {
            found.add(
                at_s,
                ids(order),
                format!(
                    "the history of customer {} lists an order of customer {customer}",
                    read.customer
                ),
            );
        }
        let acked_before = by_customer.get(&read.customer).into_iter().flatten();
        for a in acked_before.filter(|a| a.at < read.sent) {
            match read.seen.iter().find(|o| o.0 == a.order_id) {
                None => found.add(
                    at_s,
                    ids(a.order_id),
                    format!(
                        "acknowledged at {:.3} s, missing from the history read at {at_s:.3} s",
                        a.at.as_secs_f64()
                    ),
                ),
                Some(&(_, _, total)) if total != a.total_cents => found.add(
                    at_s,
                    ids(a.order_id),
                    format!(
                        "acknowledged as {} cents, the history says {total}",
                        a.total_cents
                    ),
                ),
                Some(_) => {}
            }
        }
    }
    // The admin's report adds up to what the databases hold (no order is placed after it).
    if let Some((at_s, report)) = ev.sales {
        let orders: Vec<&Order> = ev.world.dbs.iter().flat_map(|db| &db.orders).collect();
        let revenue: u64 = orders.iter().map(|o| o.total_cents).sum();
        if report.orders != orders.len() as u64 || report.revenue_cents != revenue {
            found.add(
                *at_s,
                "admin sales report".into(),
                format!(
                    "it says {} order(s) for {} cents; the databases hold {} for {revenue} cents",
                    report.orders,
                    report.revenue_cents,
                    orders.len()
                ),
            );
        }
    }
    found.result(
        "read-your-writes",
        format!(
            "{} history read(s) against the orders acknowledged before them",
            ev.history_reads.len()
        ),
        // Exercised: a history read after a database or shard fault began.
        hit(ev, |r| matches!(r, Role::Db | Role::Shard(_))).any(|f| {
            ev.history_reads
                .iter()
                .any(|h| h.sent.as_secs_f64() >= f.from_s)
        }),
    )
}

/// Every order is stored on the shard its customer maps to.
fn orders_on_their_shard(ev: &Evidence) -> CheckResult {
    let Some(map) = &ev.world.shard_map else {
        return not_applicable("orders-on-their-shard", "one database, no shards");
    };
    let mut found = Found::new(ev);
    // When each order was acknowledged: the moment a misplaced order was told to its customer.
    let acked: BTreeMap<u64, f64> = ev
        .acked
        .iter()
        .map(|a| (a.order_id, a.at.as_secs_f64()))
        .collect();
    for (shard, db) in ev.world.dbs.iter().enumerate() {
        for o in &db.orders {
            let home = map.shard_for(o.customer_id);
            if home as usize != shard {
                found.add(
                    acked.get(&o.id).copied().unwrap_or(f64::MAX),
                    format!("order {} of customer {}", o.id, o.customer_id),
                    format!("stored on shard {shard}, but the shard map says shard {home}"),
                );
            }
        }
    }
    let exercised = ev.world.dbs.iter().any(|db| !db.orders.is_empty());
    found.result(
        "orders-on-their-shard",
        "every order against the shard map".into(),
        exercised,
    )
}

/// After each broker outage ends, consumer lag gets back to where it was before, in time.
fn lag_recovers(ev: &Evidence) -> CheckResult {
    if !matches!(ev.design, Design::Queued | Design::Sharded) {
        return not_applicable("lag-recovers", "no broker: side work is done inline");
    }
    let mut found = Found::new(ev);
    for o in &ev.broker_outages {
        let before = ev
            .lag
            .iter()
            .take_while(|(t, _)| *t < o.from_s)
            .last()
            .map_or(0, |&(_, l)| l);
        // "Normal": what it was before, with a little room for the traffic of one tick.
        let normal = before + before / 10 + 10;
        let Some(end) = o.to_s else {
            continue;
        };
        // Judged once, at the deadline (or at the end of the run if that comes first):
        // a consumer that died for good shows lag piling up by then, however small it
        // was right after the outage. The clock starts when the last fault healed, if that
        // is later: lag held up by a later mail outage is that outage's doing.
        let deadline = end.max(ev.last_heal_s) + ev.lag_recovery_s;
        let last_sample = ev.lag.last().map_or(end, |&(t, _)| t);
        let at = deadline.min(last_sample);
        let Some(&(t, lag)) = ev.lag.iter().find(|(t, _)| *t >= at).or(ev.lag.last()) else {
            continue;
        };
        if lag > normal {
            found.add(
                t,
                format!("outage {:.0}-{end:.0} s", o.from_s),
                format!(
                    "lag was {before} before the outage; {:.0} s after it ended ({:.0} s after the last fault healed) it was still {lag} (normal: <= {normal})",
                    t - end,
                    t - end.max(ev.last_heal_s)
                ),
            );
        }
    }
    let note = if ev.broker_outages.is_empty() {
        "no broker outage in this run".to_owned()
    } else {
        format!(
            "{} outage(s), recovery within {} s",
            ev.broker_outages.len(),
            ev.lag_recovery_s
        )
    };
    found.result("lag-recovers", note, !ev.broker_outages.is_empty())
}

/// At the end of the drain, every order the queued designs published has had all its side
/// work done: its confirmation email delivered, its stock movement and shipping label recorded
/// — whatever the faults were (lag-recovers judges how fast; this judges that nothing was
/// left behind, such as messages skipped by a consumer that committed past them).
fn queue_drained(ev: &Evidence) -> CheckResult {
    if !matches!(ev.design, Design::Queued | Design::Sharded) {
        return not_applicable("queue-drained", "no broker: side work is done inline");
    }
    let end_s = ev.lag.last().map_or(0.0, |&(t, _)| t);
    let mut found = Found::new(ev);
    let (mut orders, mut unpublished) = (0, 0);
    for db in &ev.world.dbs {
        for o in &db.orders {
            // With the outbox, the order and its message commit together and the relay
            // publishes it: an order never published is side work lost before any queue.
            if !ev.world.published.contains(&o.id) {
                unpublished += 1;
                found.add(
                    end_s,
                    format!("order {} (customer {})", o.id, o.customer_id),
                    "committed, but at the end of the drain its side work was never published"
                        .into(),
                );
                continue;
            }
            orders += 1;
            let mut missing = Vec::new();
            if !ev.world.mail.delivered.contains_key(&o.id) {
                missing.push("confirmation email");
            }
            if !db.moved.contains(&o.id) {
                missing.push("stock movement");
            }
            if !db.labelled.contains(&o.id) {
                missing.push("shipping label");
            }
            if !missing.is_empty() {
                found.add(
                    end_s,
                    format!("order {} (customer {})", o.id, o.customer_id),
                    format!(
                        "published, but at the end of the drain it has no {}",
                        missing.join(", no ")
                    ),
                );
            }
        }
    }
    // Counted after the drain (the lag series' last point may be a tick before it).
    if ev.world.unprocessed > 0 {
        found.add(
            end_s,
            "orders topic".into(),
            format!(
                "{} message(s) still unprocessed at the end of the drain",
                ev.world.unprocessed
            ),
        );
    }
    // Exercised: side work met a broken broker, relay, worker, mail provider or database.
    let exercised = orders > 0
        && hit(ev, |r| {
            matches!(
                r,
                Role::Broker | Role::Relay | Role::Worker | Role::Mail | Role::Db | Role::Shard(_)
            )
        })
        .next()
        .is_some();
    let repeats = ev
        .world
        .publications
        .saturating_sub(ev.world.published.len() as u64);
    found.result(
        "queue-drained",
        format!(
            "{orders} published order(s): email, stock movement and label each; {unpublished} \
             committed but never published; {repeats} message(s) published again"
        ),
        exercised,
    )
}

/// Once every fault has healed, the shop comes back: to its level before the first fault
/// while traffic flows, and to taking the liveness probe's order after the drain healed
/// whatever was left (see `recovery`).
fn recovers(ev: &Evidence) -> CheckResult {
    if ev.recovery.is_empty() {
        return not_applicable("recovers", "no fault hit this design");
    }
    let mut found = Found::new(ev);
    let mut seen = Vec::new();
    for r in ev.recovery {
        let when = match r.judge {
            Judge::Traffic => format!("healed at {:.0} s", r.healed_at_s),
            Judge::Probe => format!("probe after {:.0} s", r.healed_at_s),
        };
        match &r.outcome {
            Outcome::Recovered { after_s } => seen.push(format!("{when}: back in {after_s:.0} s")),
            Outcome::NotJudged { .. } => seen.push(format!("{when}: not judged")),
            Outcome::Never {
                waited_s,
                seen: how,
            } => {
                seen.push(format!("{when}: never"));
                let what = match r.judge {
                    Judge::Traffic => format!(
                        "every fault had healed at {:.1} s; {waited_s:.0} s later the shop was still not back: {how}",
                        r.healed_at_s
                    ),
                    Judge::Probe => format!(
                        "from {:.1} s, after the arrivals ended and with every fault healed, the shop took no order from the liveness probe in {waited_s:.0} s: {how}",
                        r.healed_at_s
                    ),
                };
                found.add(r.healed_at_s + waited_s, when, what);
            }
        }
    }
    found.result("recovers", seen.join("; "), true)
}
