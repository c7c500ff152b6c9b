//! Liveness: once every fault has healed, does the shop come back?
//!
//! The other checkers ask whether the shop kept its promises (safety). A shop that stops taking
//! orders after a fault keeps every one of them, so this module asks the other question, as
//! TigerBeetle's simulator does when it ends a run by healing everything and waiting for the
//! cluster to converge. It judges each moment the last active fault healed, in one of two ways:
//!
//! - **With the run's own traffic**, when the heal comes while shoppers still arrive: within
//!   `recovery_s`, some ten-second span must be back at the level the shop held before the
//!   run's first fault (orders per arriving session, availability and p99, each within the
//!   scenario's tolerance). The recovery time is when that span begins.
//! - **With a probe**, at the end: the drain heals whatever is still broken, then a probe
//!   shopper tries once a second to log in, fill a cart and check out. The shop must take its
//!   order within `recovery_s`.
//!
//! Must not: change the run. It reads per-window samples, the spans of time when some fault
//! was in force, and the probe's result.

use serde::Serialize;

use crate::metrics::Point;

/// The span over which a recovered shop must hold its level.
pub const SETTLE_S: f64 = 10.0;
/// Traffic more than this far from the baseline's (as a share) is not comparable.
const TRAFFIC_SLACK: f64 = 0.25;
/// Fewer orders than this before the first fault make no baseline.
const MIN_BASELINE_ORDERS: u64 = 10;

/// What the scenario allows (its `[checks]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// The shop must be back within this many seconds of the heal.
    pub within_s: f64,
    /// Orders per arriving session at least this share of the baseline's.
    pub orders: f64,
    /// Availability at most this much (absolute) under the baseline's.
    pub availability_drop: f64,
    /// p99 at most this many times the baseline's.
    pub p99: f64,
}

/// How a heal was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Judge {
    /// Against the run's own traffic, while shoppers still arrived.
    Traffic,
    /// By the probe shopper of the liveness phase, after the drain healed everything.
    Probe,
}

/// What became of the shop after one heal.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    /// Back to its level this long after the heal.
    Recovered { after_s: f64 },
    /// Not back after waiting this long; `seen` says how far off it was.
    Never { waited_s: f64, seen: String },
    /// Could not be judged (too little traffic before the first fault or after the heal).
    NotJudged { why: String },
}

/// One heal and what followed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recovery {
    /// When the last fault in force healed.
    pub healed_at_s: f64,
    pub judge: Judge,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The liveness phase's probe: when the drain healed everything, and when (if) the shop took
/// the probe's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub healed_at_s: f64,
    pub order_at_s: Option<f64>,
    pub tries: u32,
    /// Why the last try failed, if none succeeded.
    pub last_error: Option<String>,
    /// The admin's sales report, read after the probe's order, and when.
    pub sales: Option<(f64, scalelab_system::model::SalesReport)>,
}

/// The level of a stretch of windows.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Level {
    sessions_per_s: f64,
    /// Orders per arriving session.
    conversion: f64,
    availability: f64,
    /// The median of the windows' p99s, in ms.
    p99_ms: f64,
    orders: u64,
}

impl Level {
    fn of(windows: &[&Point]) -> Level {
        let span: f64 = windows.iter().map(|p| p.span_s).sum();
        let sessions: u64 = windows.iter().map(|p| p.sessions).sum();
        let orders: u64 = windows.iter().map(|p| p.orders).sum();
        let requests: u64 = windows.iter().map(|p| p.requests).sum();
        let answered: u64 = windows.iter().map(|p| p.answered_in_slo).sum();
        let mut p99s: Vec<f64> = windows
            .iter()
            .filter(|p| p.requests > 0)
            .map(|p| p.p99_ms)
            .collect();
        p99s.sort_by(f64::total_cmp);
        Level {
            sessions_per_s: sessions as f64 / span.max(f64::MIN_POSITIVE),
            conversion: orders as f64 / sessions.max(1) as f64,
            availability: if requests > 0 {
                answered as f64 / requests as f64
            } else {
                0.0
            },
            p99_ms: p99s.get(p99s.len() / 2).copied().unwrap_or(0.0),
            orders,
        }
    }

    /// What falls short of `base` under `tol`, if anything.
    fn shortfall(&self, base: &Level, tol: &Tolerance) -> Option<String> {
        let mut short = Vec::new();
        if self.conversion < base.conversion * tol.orders {
            short.push(format!(
                "{:.1} orders per 100 arriving sessions (before: {:.1})",
                self.conversion * 100.0,
                base.conversion * 100.0
            ));
        }
        if self.availability < base.availability - tol.availability_drop {
            short.push(format!(
                "availability {:.1}% (before: {:.1}%)",
                self.availability * 100.0,
                base.availability * 100.0
            ));
        }
        // A millisecond of room: a p99 of 3 ms against 2 ms is not a failure to recover.
        if self.p99_ms > base.p99_ms * tol.p99 + 1.0 {
            short.push(format!(
                "p99 {:.0} ms (before: {:.0} ms)",
                self.p99_ms, base.p99_ms
            ));
        }
        (!short.is_empty()).then(|| short.join(", "))
    }
}

/// Judges every heal: those during the run's traffic against the level before the first
/// fault, and the liveness phase's by its probe. `disturbed` holds the spans when at least
/// one fault was in force (`None`: until the drain healed it); `windows` the run's windows in
/// time order, unmerged.
pub fn judge(
    windows: &[Point],
    disturbed: &[(f64, Option<f64>)],
    probe: Option<&Probe>,
    tol: &Tolerance,
) -> Vec<Recovery> {
    let mut out = Vec::new();
    let traffic_end = windows.last().map_or(0.0, |p| p.t_s + p.span_s);
    let baseline = disturbed
        .first()
        .and_then(|&(first, _)| baseline(windows, first));
    for (i, &(_, healed)) in disturbed.iter().enumerate() {
        let Some(healed) = healed else { continue };
        if healed >= traffic_end {
            continue;
        }
        let next = disturbed.get(i + 1).map_or(traffic_end, |&(from, _)| from);
        let outcome = match &baseline {
            None => Outcome::NotJudged {
                why: "too little fault-free traffic before the first fault to compare with".into(),
            },
            Some(base) => after_heal(windows, healed, next, base, tol),
        };
        out.push(Recovery {
            healed_at_s: healed,
            judge: Judge::Traffic,
            outcome,
        });
    }
    if let Some(p) = probe {
        out.push(Recovery {
            healed_at_s: p.healed_at_s,
            judge: Judge::Probe,
            outcome: match p.order_at_s {
                Some(at) => Outcome::Recovered {
                    after_s: at - p.healed_at_s,
                },
                None => Outcome::Never {
                    waited_s: tol.within_s,
                    seen: format!(
                        "{} probe checkout(s) failed, the last: {}",
                        p.tries,
                        p.last_error.as_deref().unwrap_or("no answer")
                    ),
                },
            },
        });
    }
    out
}

/// The level before the first fault: the last minute before it, or its second half if the
/// fault came earlier (the first seconds are the shop warming up).
fn baseline(windows: &[Point], first_fault_s: f64) -> Option<Level> {
    let from = (first_fault_s / 2.0).max(first_fault_s - 60.0);
    let before: Vec<&Point> = windows
        .iter()
        .filter(|p| p.t_s >= from && p.t_s + p.span_s <= first_fault_s + 1e-9)
        .collect();
    let span: f64 = before.iter().map(|p| p.span_s).sum();
    let level = Level::of(&before);
    (span >= SETTLE_S && level.orders >= MIN_BASELINE_ORDERS).then_some(level)
}

/// Looks for the first settle span after `healed` (and before `next`, when the next fault
/// begins or traffic ends) that is back at `base`.
fn after_heal(windows: &[Point], healed: f64, next: f64, base: &Level, tol: &Tolerance) -> Outcome {
    let after: Vec<&Point> = windows
        .iter()
        .filter(|p| p.t_s >= healed - 1e-9 && p.t_s + p.span_s <= next + 1e-9)
        .collect();
    let mut last_seen = None;
    for start in 0..after.len() {
        let since = after[start].t_s - healed;
        if since > tol.within_s {
            break;
        }
        let mut end = start;
        let mut span = 0.0;
        while end < after.len() && span < SETTLE_S - 1e-9 {
            span += after[end].span_s;
            end += 1;
        }
        if span < SETTLE_S - 1e-9 {
            break;
        }
        let level = Level::of(&after[start..end]);
        let ratio = level.sessions_per_s / base.sessions_per_s.max(f64::MIN_POSITIVE);
        if (ratio - 1.0).abs() > TRAFFIC_SLACK {
            return Outcome::NotJudged {
                why: format!(
                    "traffic changed: {:.0} sessions/s after the heal against {:.0} before the first fault",
                    level.sessions_per_s, base.sessions_per_s
                ),
            };
        }
        match level.shortfall(base, tol) {
            None => return Outcome::Recovered { after_s: since },
            Some(seen) => last_seen = Some(seen),
        }
    }
    let fault_free = next - healed;
    if fault_free >= tol.within_s + SETTLE_S {
        Outcome::Never {
            waited_s: tol.within_s,
            seen: last_seen.unwrap_or_else(|| "no traffic".into()),
        }
    } else {
        Outcome::NotJudged {
            why: format!(
                "only {fault_free:.0} s of fault-free traffic after the heal (needs {:.0})",
                tol.within_s + SETTLE_S
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(t_s: f64, sessions: u64, orders: u64, answered: u64, p99_ms: f64) -> Point {
        Point {
            t_s,
            span_s: 1.0,
            requests: 100,
            answered_in_slo: answered,
            p99_ms,
            orders,
            sessions,
            ..Point::default()
        }
    }

    fn tol() -> Tolerance {
        Tolerance {
            within_s: 30.0,
            orders: 0.8,
            availability_drop: 0.02,
            p99: 1.5,
        }
    }

    /// 100 s of traffic: healthy, broken from 40 s (the fault healed at `_heal` s), healthy
    /// again from `back` s (or never).
    fn run(_heal: f64, back: Option<f64>) -> Vec<Point> {
        (0..100)
            .map(|t| {
                let t = f64::from(t);
                let broken = t >= 40.0 && back.is_none_or(|b| t < b);
                if broken {
                    window(t, 10, 0, 60, 2000.0)
                } else {
                    window(t, 10, 3, 99, 20.0)
                }
            })
            .collect()
    }

    #[test]
    fn a_shop_back_at_its_level_recovers_when_it_gets_there() {
        let r = judge(&run(50.0, Some(57.0)), &[(40.0, Some(50.0))], None, &tol());
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].outcome, Outcome::Recovered { after_s: 7.0 });
        assert_eq!(r[0].judge, Judge::Traffic);
    }

    #[test]
    fn a_shop_that_never_takes_another_order_is_caught() {
        let r = judge(&run(50.0, None), &[(40.0, Some(50.0))], None, &tol());
        match &r[0].outcome {
            Outcome::Never { waited_s, seen } => {
                assert_eq!(*waited_s, 30.0);
                assert!(seen.contains("0.0 orders per 100"), "{seen}");
                assert!(seen.contains("availability 60.0%"), "{seen}");
                assert!(seen.contains("p99 2000 ms"), "{seen}");
            }
            other => panic!("expected never, got {other:?}"),
        }
    }

    #[test]
    fn too_little_time_after_the_heal_is_not_judged() {
        let r = judge(&run(90.0, None), &[(40.0, Some(90.0))], None, &tol());
        assert!(matches!(&r[0].outcome, Outcome::NotJudged { why } if why.contains("only 10 s")));
    }

    #[test]
    fn a_fault_at_the_start_leaves_nothing_to_compare_with() {
        let r = judge(&run(50.0, Some(50.0)), &[(4.0, Some(50.0))], None, &tol());
        assert!(
            matches!(&r[0].outcome, Outcome::NotJudged { why } if why.contains("before the first fault"))
        );
    }

    #[test]
    fn changed_traffic_is_not_judged_against_the_old_level() {
        let mut w = run(50.0, Some(50.0));
        for p in w.iter_mut().filter(|p| p.t_s >= 50.0) {
            p.sessions = 30;
        }
        let r = judge(&w, &[(40.0, Some(50.0))], None, &tol());
        assert!(
            matches!(&r[0].outcome, Outcome::NotJudged { why } if why.contains("traffic changed"))
        );
    }

    #[test]
    fn the_probe_judges_the_liveness_phase() {
        let ok = Probe {
            healed_at_s: 101.0,
            order_at_s: Some(103.5),
            tries: 3,
            last_error: None,
            sales: None,
        };
        let r = judge(&run(50.0, Some(50.0)), &[(40.0, None)], Some(&ok), &tol());
        assert_eq!(r.len(), 1, "a span healed only by the drain is the probe's");
        assert_eq!(r[0].outcome, Outcome::Recovered { after_s: 2.5 });
        let failed = Probe {
            order_at_s: None,
            tries: 30,
            last_error: Some("checkout: http 503".into()),
            ..ok
        };
        let r = judge(&[], &[(40.0, None)], Some(&failed), &tol());
        assert!(
            matches!(&r[0].outcome, Outcome::Never { seen, .. } if seen.contains("30 probe checkout(s) failed, the last: checkout: http 503"))
        );
    }
}
