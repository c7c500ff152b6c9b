//! The readable summary of a run, for a terminal or a log.
//!
//! Must not: compute anything the report does not hold; this only lays it out (how each
//! figure reads is `format`'s).

use std::fmt::Write;

use scalelab_sim::judge::check::{CheckResult, Status};
use scalelab_sim::judge::recovery::{Judge, Outcome};
use scalelab_sim::Report;

use crate::format::{dollars, ms, pct, thousands};

/// How fast the simulation ran, measured on the wall clock outside it.
pub struct Wall {
    pub seconds: f64,
    /// Simulated requests of every design in the run.
    pub requests: u64,
}

fn wall_line(s: &mut String, duration_s: f64, wall: &Wall) {
    let _ = writeln!(
        s,
        "simulated {:.0} s in {:.2} s wall ({:.1}x real time, {} simulated requests/s)\n",
        duration_s,
        wall.seconds,
        duration_s / wall.seconds.max(1e-9),
        thousands((wall.requests as f64 / wall.seconds.max(1e-9)) as u64)
    );
}

fn repeat_line(
    s: &mut String,
    seed: u64,
    seed_picked: bool,
    scenario_path: &str,
    design: Option<&str>,
) {
    if seed_picked {
        let _ = writeln!(s, "the seed was picked for this run; to repeat it exactly:");
    } else {
        let _ = writeln!(s, "to repeat this run exactly:");
    }
    let design = design.map(|d| format!(" --design {d}")).unwrap_or_default();
    let _ = writeln!(s, "  scalelab run {scenario_path} --seed {seed}{design}");
}

/// The rows of the side-by-side table: each figure's label and its value in each design
/// (the first row: the designs' names). The terminal summary and the HTML report share them.
pub fn side_by_side_rows(reports: &[Report]) -> Vec<(&'static str, Vec<String>)> {
    let mut rows = Vec::new();
    let mut row = |label: &'static str, cell: &dyn Fn(&Report) -> String| {
        rows.push((label, reports.iter().map(cell).collect()));
    };
    row("", &|r| r.design.to_owned());
    row("availability", &|r| pct(r.availability));
    row("worst window", &|r| {
        r.worst_window
            .as_ref()
            .map_or("-".into(), |w| pct(w.availability))
    });
    row("throughput (req/s)", &|r| {
        format!("{:.1}", r.throughput_rps)
    });
    row("p50", &|r| ms(r.latency.p50_ms));
    row("p95", &|r| ms(r.latency.p95_ms));
    row("p99", &|r| ms(r.latency.p99_ms));
    row("mean", &|r| ms(r.latency.mean_ms));
    // Little's law, measured both ways: the time-average of requests in the system, and
    // the rate they were sent at times the mean latency.
    row("in system (L / λW)", &|r| {
        format!("{:.1} / {:.1}", r.little.l, r.little.lambda_w)
    });
    row("errors", &|r| thousands(r.errors.values().sum()));
    row("app hosts (min-max)", &|r| {
        if r.replicas_min == r.replicas_max {
            format!("{} x {} cores", r.replicas_max, r.cpu.app_cores)
        } else {
            format!(
                "{}-{} x {} cores",
                r.replicas_min, r.replicas_max, r.cpu.app_cores
            )
        }
    });
    row("app cpu mean/peak", &|r| {
        format!(
            "{:.0}% / {:.0}%",
            r.cpu.app_mean * 100.0,
            r.cpu.app_peak * 100.0
        )
    });
    row("db cpu mean/peak", &|r| {
        format!(
            "{:.0}% / {:.0}%",
            r.cpu.db_mean * 100.0,
            r.cpu.db_peak * 100.0
        )
    });
    row("db cpu per shard", &|r| {
        let shards: Vec<String> = r
            .cpu
            .shard_cpu_mean
            .iter()
            .map(|u| format!("{:.0}", u * 100.0))
            .collect();
        format!("{}%", shards.join("/"))
    });
    row("db writes/s (peak)", &|r| {
        format!("{:.0}", r.db_writes_per_s_peak)
    });
    row("orders", &|r| thousands(r.orders));
    row("orders never shown", &|r| {
        r.paths
            .iter()
            .find(|(name, _)| *name == scalelab_sim::judge::check::UNSEEN_ORDERS)
            .map_or("-".into(), |(_, n)| thousands(*n))
    });
    row("emails sent", &|r| thousands(r.emails_sent));
    row("emails delivered", &|r| thousands(r.emails_delivered));
    row("emails/min (peak)", &|r| {
        format!("{:.0}", r.emails_per_min_peak)
    });
    row("queue lag (max)", &|r| thousands(r.queue_lag_max));
    row("revenue", &|r| dollars(r.revenue_cents));
    row("revenue lost", &|r| dollars(r.revenue_lost_cents));
    row("sessions left (slow)", &|r| {
        thousands(r.sessions.abandoned_slow)
    });
    row("sessions left (error)", &|r| {
        thousands(r.sessions.abandoned_error)
    });
    rows
}

/// Several designs on the same traffic, one column each.
pub fn render_side_by_side(
    reports: &[Report],
    wall: &Wall,
    seed_picked: bool,
    scenario_path: &str,
) -> String {
    let mut s = String::new();
    let Some(first) = reports.first() else {
        return s;
    };
    let names: Vec<&str> = reports.iter().map(|r| r.design).collect();
    let _ = writeln!(
        s,
        "scalelab run · {} · {} · seed {}",
        first.scenario,
        names.join(" vs "),
        first.seed
    );
    wall_line(&mut s, first.duration_s, wall);
    let width = 22;
    for (label, cells) in side_by_side_rows(reports) {
        let _ = write!(s, "  {label:<20}");
        for cell in cells {
            let _ = write!(s, "{cell:>width$}");
        }
        s.push('\n');
    }
    s.push('\n');
    for r in reports {
        let _ = writeln!(
            s,
            "{:<12} seed {}  trace {}  ({} events)",
            r.design,
            r.seed,
            r.trace_hash,
            thousands(r.trace_events)
        );
    }
    repeat_line(&mut s, first.seed, seed_picked, scenario_path, None);
    s
}

pub fn render(r: &Report, wall: &Wall, seed_picked: bool, scenario_path: &str) -> String {
    let mut s = String::new();
    let rtf = r.duration_s / wall.seconds.max(1e-9);
    let _ = writeln!(
        s,
        "scalelab run · {} · design {} · seed {}",
        r.scenario, r.design, r.seed
    );
    let _ = writeln!(
        s,
        "simulated {:.0} s in {:.2} s wall ({:.1}x real time, {} simulated requests/s)\n",
        r.duration_s,
        wall.seconds,
        rtf,
        thousands((r.requests as f64 / wall.seconds.max(1e-9)) as u64)
    );
    let _ = writeln!(
        s,
        "  requests      {}   availability {} (answered within the {} SLO)",
        thousands(r.requests),
        pct(r.availability),
        ms(r.slo_timeout_ms)
    );
    let _ = writeln!(
        s,
        "  throughput    {:.1} req/s answered in SLO while shoppers arrived ({:.1} with the drain after)",
        r.throughput_rps, r.throughput_with_drain_rps
    );
    let l = &r.latency;
    let _ = writeln!(
        s,
        "  latency       p50 {}  p95 {}  p99 {}  p99.9 {}  max {}  mean {}",
        ms(l.p50_ms),
        ms(l.p95_ms),
        ms(l.p99_ms),
        ms(l.p999_ms),
        ms(l.max_ms),
        ms(l.mean_ms)
    );
    let little = &r.little;
    let _ = writeln!(
        s,
        "  in system     {:.2} requests on average (L); {:.1} req/s sent x {} mean = {:.2} (λW, Little's law)",
        little.l,
        little.lambda_rps,
        ms(little.w_ms),
        little.lambda_w
    );
    let errors = if r.errors.is_empty() {
        "none".to_owned()
    } else {
        r.errors
            .iter()
            .map(|(k, v)| format!("{k} {}", thousands(*v)))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let _ = writeln!(s, "  errors        {errors}");
    let ss = &r.sessions;
    let _ = writeln!(
        s,
        "  sessions      {} started · {} completed · {} left (slow) · {} left (errors) · {} still going at the end",
        thousands(ss.started),
        thousands(ss.completed),
        thousands(ss.abandoned_slow),
        thousands(ss.abandoned_error),
        thousands(ss.cut)
    );
    let _ = writeln!(
        s,
        "  orders        {} · revenue {} · lost {} (orders shoppers came to place, turned away by errors or slow pages) · out of stock {}",
        thousands(r.orders),
        dollars(r.revenue_cents),
        dollars(r.revenue_lost_cents),
        thousands(r.out_of_stock)
    );
    let _ = writeln!(
        s,
        "  emails        {} sent, {} delivered (a send the provider knew by its key was not delivered again)",
        thousands(r.emails_sent),
        thousands(r.emails_delivered)
    );
    if r.replicas_max > 1 {
        let _ = writeln!(
            s,
            "  replicas      {} to {} ({} scaling decisions)",
            r.replicas_min, r.replicas_max, r.scale_events
        );
    }
    let c = &r.cpu;
    let _ = writeln!(
        s,
        "  cpu           app {} cores (worth {:.1} at full load): {} mean, {} peak · db {} cores: {} mean, {} peak",
        c.app_cores,
        c.app_capacity_cores,
        pct(c.app_mean),
        pct(c.app_peak),
        c.db_cores,
        pct(c.db_mean),
        pct(c.db_peak)
    );
    if let Some(w) = &r.worst_window {
        let _ = writeln!(
            s,
            "  worst window  {:.0}-{:.0} s: availability {}, p99 {} (as shoppers saw it), {:.0} req/s answered",
            w.t_s,
            w.t_s + w.span_s,
            pct(w.availability),
            match w.seen_ms(0.99, r.slo_timeout_ms) {
                (v, true) => format!("≥{}", ms(v)),
                (v, false) => ms(v),
            },
            w.throughput_rps
        );
    }
    let _ = writeln!(
        s,
        "\n  {:<10} {:>10} {:>9} {:>10} {:>10}",
        "kind", "requests", "avail", "p50", "p99"
    );
    for k in &r.by_kind {
        let _ = writeln!(
            s,
            "  {:<10} {:>10} {:>9} {:>10} {:>10}",
            k.kind,
            thousands(k.requests),
            pct(k.availability),
            ms(k.latency.p50_ms),
            ms(k.latency.p99_ms)
        );
    }
    let _ = writeln!(
        s,
        "\nseed {}  trace {}  ({} events)",
        r.seed,
        r.trace_hash,
        thousands(r.trace_events)
    );
    repeat_line(&mut s, r.seed, seed_picked, scenario_path, Some(r.design));
    s
}

/// How long each design took to come back once every fault had healed (see `recovers`).
fn render_recovery(s: &mut String, reports: &[Report]) {
    if reports.iter().all(|r| r.recovery.is_empty()) {
        return;
    }
    let _ = writeln!(
        s,
        "\nrecovery (once every fault had healed, until the shop was back at its level before the first fault)"
    );
    for r in reports {
        for (i, rec) in r.recovery.iter().enumerate() {
            let name = if i == 0 { r.design } else { "" };
            let when = match rec.judge {
                Judge::Traffic => format!("healed at {:.1} s", rec.healed_at_s),
                Judge::Probe => format!("probe from {:.1} s", rec.healed_at_s),
            };
            let what = match (&rec.outcome, rec.judge) {
                (Outcome::Recovered { after_s }, Judge::Traffic) => {
                    format!("back after {after_s:.0} s")
                }
                (Outcome::Recovered { after_s }, Judge::Probe) => {
                    format!("order taken after {after_s:.1} s")
                }
                (Outcome::Never { waited_s, seen }, _) => {
                    format!("NOT BACK after {waited_s:.0} s: {seen}")
                }
                (Outcome::NotJudged { why }, _) => format!("not judged: {why}"),
            };
            let _ = writeln!(s, "  {name:<11} {when:<20} {what}");
        }
    }
}

/// How a check fared, in one cell: held, n/a, expected (N) or VIOLATED (N).
pub fn check_cell(c: &CheckResult) -> String {
    match c.status {
        Status::Held => "held".to_owned(),
        Status::NotApplicable => "n/a".to_owned(),
        Status::Expected => format!("expected ({})", thousands(c.violations)),
        Status::Violated => format!("VIOLATED ({})", thousands(c.violations)),
    }
}

/// The faults each design saw and how its checkers fared, with the first violations and
/// their trails. Empty when there were no faults and every check held or did not apply.
pub fn render_faults_and_checks(reports: &[Report]) -> String {
    let mut s = String::new();
    let Some(first) = reports.first() else {
        return s;
    };
    if reports.iter().any(|r| !r.faults.is_empty()) {
        let _ = writeln!(s, "\nfaults");
        // A swarm seed's world, varied the same for every design.
        for line in &first.varied {
            let _ = writeln!(s, "  {:>8} s  {line}", "0.0");
        }
        // The same faults reach every design at the same tick, but heal only where they
        // applied: list each (time, fault) once, with what it did in each design.
        let mut keys: Vec<(f64, String)> = Vec::new();
        for r in reports {
            for f in &r.faults {
                let what = f.what();
                if !keys.iter().any(|(t, w)| *t == f.at_s && *w == what) {
                    keys.push((f.at_s, what));
                }
            }
        }
        keys.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (at_s, what) in keys {
            let _ = writeln!(s, "  {at_s:>8.1} s  {what}");
            for r in reports {
                if let Some(g) = r.faults.iter().find(|f| f.at_s == at_s && f.what() == what) {
                    let _ = writeln!(s, "  {:>10}  {:<11} {}", "", r.design, g.effect);
                }
            }
        }
    }
    render_recovery(&mut s, reports);
    if let Some(ticks) = first.cut_after_ticks {
        let _ = writeln!(
            s,
            "\nchecks: not run (the runs stopped after {ticks} ticks; the checkers judge whole runs)"
        );
        return s;
    }
    let _ = writeln!(s, "\nchecks");
    let width = 14;
    let _ = write!(s, "  {:<24}", "");
    for r in reports {
        let _ = write!(s, "{:>width$}", r.design);
    }
    s.push('\n');
    for (i, c) in first.checks.iter().enumerate() {
        let _ = write!(s, "  {:<24}", c.name);
        for r in reports {
            let cell = r.checks.get(i).map_or("-".to_owned(), check_cell);
            let _ = write!(s, "{cell:>width$}");
        }
        // One design: room for what each check looked at (how many orders, emails, reads),
        // so a figure such as "emails sent" above can be explained from here.
        if let [only] = reports {
            if let Some(c) = only.checks.get(i).filter(|c| !c.note.is_empty()) {
                let _ = write!(s, "  {}", c.note);
            }
        }
        s.push('\n');
    }
    for r in reports {
        for c in r.checks.iter().filter(|c| c.status == Status::Expected) {
            let _ = writeln!(s, "  {} · {}: expected: {}", r.design, c.name, c.note);
        }
    }
    for r in reports {
        for c in r.checks.iter().filter(|c| c.failed()) {
            let _ = writeln!(
                s,
                "\nviolation · {} · {} · seed {} · {} in all",
                r.design,
                c.name,
                r.seed,
                thousands(c.violations)
            );
            for v in &c.examples {
                let when = if v.at_s == f64::MAX {
                    "at the end".to_owned()
                } else {
                    format!("at {:.3} s", v.at_s)
                };
                let _ = writeln!(s, "  {when} · {}: {}", v.ids, v.message);
                for line in &v.trail {
                    let _ = writeln!(s, "      {line}");
                }
            }
        }
    }
    s
}
