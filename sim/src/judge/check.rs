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
use crate::faults::inject::Outage;
use crate::judge::cart_once;
use crate::judge::recovery::{Judge, Outcome, Recovery};
use crate::metrics::{AckedOrder, CartLoss};
use scalelab_system::model::{Order, ProductId};

/// Violations listed in full per checker; the rest are counted.
const EXAMPLES: usize = 5;
/// Lines of the event log quoted as a violation's trail.
const TRAIL: usize = 8;

/// Everything the checkers look at.
pub struct Evidence<'a> {
    pub design: Design,
    pub acked: &'a [AckedOrder],
    pub carts_lost: &'a [CartLoss],
    /// What the databases hold and the mail provider received.
    pub world: WorldEvidence,
    /// Consumer lag sampled at every tick, through the drain: (virtual s, lag).
    pub lag: &'a [(f64, u64)],
    pub broker_outages: Vec<Outage>,
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
    /// The latest notable events before `at_s`, oldest first.
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
}

impl CheckResult {
    /// A violation that fails the run.
    pub fn failed(&self) -> bool {
        self.status == Status::Violated
    }
}

/// The invariants, by name, as reports and `hunt` group them.
pub const CHECKS: [&str; 8] = [
    "no-lost-order",
    "one-order-per-cart",
    "one-confirmation-email",
    "no-oversell",
    "cart-survives",
    "orders-on-their-shard",
    "lag-recovers",
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
        orders_on_their_shard(ev),
        lag_recovers(ev),
        recovers(ev),
    ]
}

/// Collects violations, keeping the first few in full.
struct Found<'a> {
    log: &'a VecDeque<(Duration, String)>,
    count: u64,
    examples: Vec<Violation>,
}

impl<'a> Found<'a> {
    fn new(log: &'a VecDeque<(Duration, String)>) -> Found<'a> {
        Found {
            log,
            count: 0,
            examples: Vec::new(),
        }
    }

    fn add(&mut self, at_s: f64, ids: String, message: String) {
        self.count += 1;
        if self.examples.len() < EXAMPLES {
            let before: Vec<String> = self
                .log
                .iter()
                .filter(|(at, _)| at.as_secs_f64() <= at_s)
                .map(|(at, text)| format!("{:>9.3} s  {text}", at.as_secs_f64()))
                .collect();
            let trail = before[before.len().saturating_sub(TRAIL)..].to_vec();
            self.examples.push(Violation {
                at_s,
                ids,
                message,
                trail,
            });
        }
    }

    fn result(self, name: &'static str, note: String) -> CheckResult {
        CheckResult {
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
    }
}

/// Every order a browser was told is placed is in a database, as it was told.
fn no_lost_order(ev: &Evidence) -> CheckResult {
    let stored: BTreeMap<u64, &Order> = ev
        .world
        .dbs
        .iter()
        .flat_map(|db| db.orders.iter().map(|o| (o.id, o)))
        .collect();
    let mut found = Found::new(ev.log);
    for a in ev.acked {
        let at_s = a.at.as_secs_f64();
        match stored.get(&a.order_id) {
            None => found.add(
                at_s,
                format!("order {} (session {})", a.order_id, a.session),
                "acknowledged to the customer, but no database holds it".into(),
            ),
            Some(o) if o.customer_id != a.customer || o.total_cents != a.total_cents => found.add(
                at_s,
                format!("order {} (session {})", a.order_id, a.session),
                format!(
                    "acknowledged as customer {} / {} cents, stored as customer {} / {} cents",
                    a.customer, a.total_cents, o.customer_id, o.total_cents
                ),
            ),
            Some(_) => {}
        }
    }
    found.result(
        "no-lost-order",
        format!("{} acknowledged order(s) looked up", ev.acked.len()),
    )
}

/// No cart is paid for twice (see `cart_once`).
fn one_order_per_cart(ev: &Evidence) -> CheckResult {
    let mut found = Found::new(ev.log);
    for p in cart_once::paid_twice(&ev.world.dbs, ev.acked) {
        found.add(p.at_s, p.ids, p.message);
    }
    found.result("one-order-per-cart", "orders that share a payment".into())
}

/// Every acknowledged order has exactly one confirmation email in the customer's inbox;
/// no email confirms an order that does not exist.
fn one_confirmation_email(ev: &Evidence) -> CheckResult {
    let mut found = Found::new(ev.log);
    for a in ev.acked {
        let n = ev.world.inbox.get(&a.order_id).copied().unwrap_or(0);
        if n != 1 {
            found.add(
                a.at.as_secs_f64(),
                format!("order {} (session {})", a.order_id, a.session),
                if n == 0 {
                    "acknowledged, but no confirmation email arrived by the end of the drain".into()
                } else {
                    format!("{n} different confirmation emails for one order")
                },
            );
        }
    }
    let known: std::collections::BTreeSet<u64> = ev
        .world
        .dbs
        .iter()
        .flat_map(|db| db.orders.iter().map(|o| o.id))
        .collect();
    for &order in ev.world.inbox.keys() {
        if !known.contains(&order) {
            found.add(
                f64::MAX,
                format!("order {order}"),
                "a confirmation email for an order no database holds".into(),
            );
        }
    }
    found.result(
        "one-confirmation-email",
        format!(
            "{} acknowledged order(s), {} inbox(es)",
            ev.acked.len(),
            ev.world.inbox.len()
        ),
    )
}

/// No product sold more units than it had, and stock adds up with the orders.
fn no_oversell(ev: &Evidence) -> CheckResult {
    let mut found = Found::new(ev.log);
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
    found.result("no-oversell", "stock and orders of every product".into())
}

/// A browser never sees its cart forgotten between two successful requests.
fn cart_survives(ev: &Evidence) -> CheckResult {
    let mut found = Found::new(ev.log);
    for c in ev.carts_lost {
        found.add(
            c.at.as_secs_f64(),
            format!("session {}", c.session),
            c.what.clone(),
        );
    }
    let mut r = found.result(
        "cart-survives",
        "browsers compare their cart with the shop's".into(),
    );
    if r.status == Status::Violated && ev.design == Design::Vertical && ev.app_killed {
        r.status = Status::Expected;
        r.note = "the naive design keeps sessions in its memory: they die with the node".into();
    }
    r
}

/// Every order is stored on the shard its customer maps to.
fn orders_on_their_shard(ev: &Evidence) -> CheckResult {
    let Some(map) = &ev.world.shard_map else {
        return not_applicable("orders-on-their-shard", "one database, no shards");
    };
    let mut found = Found::new(ev.log);
    for (shard, db) in ev.world.dbs.iter().enumerate() {
        for o in &db.orders {
            let home = map.shard_for(o.customer_id);
            if home as usize != shard {
                found.add(
                    f64::MAX,
                    format!("order {} of customer {}", o.id, o.customer_id),
                    format!("stored on shard {shard}, but the shard map says shard {home}"),
                );
            }
        }
    }
    found.result(
        "orders-on-their-shard",
        "every order against the shard map".into(),
    )
}

/// After each broker outage ends, consumer lag gets back to where it was before, in time.
fn lag_recovers(ev: &Evidence) -> CheckResult {
    if !matches!(ev.design, Design::Queued | Design::Sharded) {
        return not_applicable("lag-recovers", "no broker: side work is done inline");
    }
    let mut found = Found::new(ev.log);
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
    found.result("lag-recovers", note)
}

/// Once every fault has healed, the shop comes back: to its level before the first fault
/// while traffic flows, and to taking the liveness probe's order after the drain healed
/// whatever was left (see `recovery`).
fn recovers(ev: &Evidence) -> CheckResult {
    if ev.recovery.is_empty() {
        return not_applicable("recovers", "no fault hit this design");
    }
    let mut found = Found::new(ev.log);
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
    found.result("recovers", seen.join("; "))
}
