//! Shrinking: from a run that breaks an invariant to a smaller run that breaks the same one.
//!
//! A swarm seed that fails after six faults over a minute of traffic is hard to read; the same
//! violation from one fault in ten seconds is a diagnosis. The search here is delta debugging
//! (Zeller's ddmin, complement-only) over the fault timeline, followed by greedy halvings of
//! everything else that makes a run big: fault lengths, how late the faults come, the run's
//! length, the traffic, and the numbers of replicas, shards and workers. Each candidate is one
//! deterministic run of one design, judged by one question: does it still break this
//! invariant? So the search itself is deterministic: the same input gives the same result.
//!
//! Candidates are edits of the scenario's TOML table, not of the parsed struct: every
//! candidate then passes the scenario's own rules (a cut that makes it invalid, such as a hot
//! product beyond the catalogue, is skipped without a run), and the smallest case found is a
//! plain scenario file that anyone can read and replay.
//!
//! Must not: print (the caller does, through `on_step`), judge runs itself (the checkers do),
//! or keep a cut it did not see fail.

use toml::{Table, Value};

use crate::deployment::design::Design;
use crate::harness::launch::run_with;
use crate::harness::report::Report;
use crate::harness::run::RunOptions;
use crate::judge::check::CHECKS;
use crate::scenario::fault::{Command, Scheduled, TimedFault};
use crate::scenario::{parse, Scenario};
use scalelab_system::bugs::Bugs;

/// What to shrink.
pub struct Request<'a> {
    /// The scenario's TOML text (a repro's embedded scenario).
    pub scenario_text: &'a str,
    pub seed: u64,
    /// The designs the failure was seen on; the search keeps the first that breaks the
    /// invariant.
    pub designs: &'a [Design],
    /// The invariant to keep broken (by default the first one broken, in the checkers' order).
    pub invariant: Option<&'a str>,
    /// Live commands a repro recorded: their faults join the timeline at their ticks (a
    /// heal-all cannot, and is refused).
    pub commands: &'a [Scheduled],
    /// At most this many runs, the first ones included.
    pub budget: usize,
    /// Planted bugs (tests only; `Bugs::default()` is the shop as it is).
    pub bugs: Bugs,
}

/// One candidate tried.
#[derive(Debug, Clone)]
pub struct Step {
    /// How many runs the search has made, this one included.
    pub run: usize,
    /// What the candidate cut, e.g. "run 60 s -> 30 s".
    pub what: String,
    /// It still broke the invariant, so the cut was kept.
    pub kept: bool,
}

/// The smallest failing case found.
pub struct Shrunk {
    pub invariant: &'static str,
    pub design: Design,
    /// The first run, as the request described it.
    pub before: Report,
    pub before_faults: usize,
    /// The smallest run found, and its scenario's text.
    pub after: Report,
    pub after_faults: usize,
    pub scenario_text: String,
    pub runs: usize,
    /// The budget ran out before the search had tried every cut.
    pub out_of_budget: bool,
}

/// Searches for the smallest run that still breaks the invariant, calling `on_step` after
/// every run. An error says why there is nothing to shrink (no invariant broken, an unknown
/// invariant, a scenario that does not parse).
pub fn shrink(req: &Request, on_step: &mut dyn FnMut(&Step)) -> Result<Shrunk, String> {
    if req.designs.is_empty() {
        return Err("no design to shrink on".into());
    }
    let wanted = match req.invariant {
        Some(name) => Some(CHECKS.into_iter().find(|c| *c == name).ok_or_else(|| {
            format!(
                "unknown invariant `{name}`, expected one of: {}",
                CHECKS.join(", ")
            )
        })?),
        None => None,
    };
    let original = parse(req.scenario_text).map_err(|e| format!("the scenario: {}", e.message))?;
    let commanded = commanded_faults(req.commands, original.metrics.interval_s.0)?;
    let mut search = Search {
        seed: req.seed,
        bugs: req.bugs,
        budget: req.budget.max(1),
        runs: 0,
        invariant: "",
        design: req.designs[0],
        best: None,
        on_step,
    };
    let (invariant, design, before) = search.first_failure(&original, req, wanted)?;
    search.invariant = invariant;
    search.design = design;
    let before_faults = timeline_len(&original, req.seed) + commanded.len();

    // The swarm's faults and variations, written out: from here on they are a timeline that
    // can be cut fault by fault.
    let mut table: Table = toml::from_str(req.scenario_text)
        .map_err(|e| format!("the scenario: {}", e.message().trim()))?;
    let written = write_out(&mut table, &original, req.seed, &commanded)?;
    let mut current = table;
    if written {
        let what = format!(
            "{} fault(s) of {} for seed {}, written out as a timeline",
            before_faults - original.faults.len(),
            match (original.swarm.is_some(), commanded.is_empty()) {
                (true, true) => "the swarm",
                (true, false) => "the swarm and the live commands",
                _ => "the live commands",
            },
            req.seed
        );
        if !search.try_candidate(&current, &what)? {
            return Err(format!(
                "written out as a timeline, seed {}'s swarm faults no longer break `{invariant}` \
                 on {}: this scenario cannot be shrunk (please report it)",
                req.seed,
                design.name()
            ));
        }
    } else {
        search.best = Some((render(&current)?, before.clone()));
    }

    // Greedy passes until a whole pass keeps nothing (or the budget is spent).
    loop {
        let start = search.runs;
        let mut kept = false;
        kept |= search.cut_faults(&mut current)?;
        kept |= search.faults_earlier(&mut current)?;
        kept |= search.shorter_run(&mut current)?;
        kept |= search.shorter_faults(&mut current)?;
        kept |= search.smaller_world(&mut current)?;
        if !kept || search.spent() || search.runs == start {
            break;
        }
    }
    let out_of_budget = search.spent();
    let (scenario_text, after) = search.best.take().ok_or("the search kept no failing run")?;
    let after_faults = parse(&scenario_text)
        .map(|s| s.faults.len())
        .unwrap_or_default();
    Ok(Shrunk {
        invariant,
        design,
        before,
        before_faults,
        after,
        after_faults,
        scenario_text,
        runs: search.runs,
        out_of_budget,
    })
}

/// A repro's live commands as timeline faults at their ticks' start.
fn commanded_faults(commands: &[Scheduled], interval_s: f64) -> Result<Vec<TimedFault>, String> {
    let mut faults = Vec::new();
    for s in commands {
        match &s.command {
            Command::Inject {
                only: Some(design), ..
            } => {
                return Err(format!(
                    "the repro's fault at tick {} was aimed at {design} alone: shrinking turns \
                     commands into the scenario's timeline, which every design shares, so \
                     this run cannot be shrunk yet",
                    s.tick
                ))
            }
            Command::Inject { fault, only: None } => faults.push(TimedFault {
                at_s: s.tick as f64 * interval_s,
                fault: fault.clone(),
            }),
            Command::HealAll => {
                return Err(format!(
                    "the repro heals every fault by hand at tick {}: a heal-all has no place in \
                     a scenario's timeline, so this run cannot be shrunk (faults with a \
                     duration can)",
                    s.tick
                ))
            }
        }
    }
    Ok(faults)
}

/// Faults the run of `seed` meets: the timeline's and the swarm's.
fn timeline_len(scn: &Scenario, seed: u64) -> usize {
    scn.faults.len() + swarm_faults(scn, seed).len()
}

fn swarm_faults(scn: &Scenario, seed: u64) -> Vec<TimedFault> {
    scn.swarm.as_ref().map_or_else(Vec::new, |swarm| {
        swarm.get_ref().schedule(
            seed,
            scn.duration_s(),
            scn.sharded.shards.get(),
            scn.workload().products.get(),
        )
    })
}

/// Replaces `[swarm]` by what it gives `seed`, and live commands by timeline faults: the
/// swarm's and the commands' faults appended to the timeline (the schedule merges them in
/// time order after the timeline's own, as here) and the swarm's variations of the world set
/// as plain values. Returns whether anything was written out.
fn write_out(
    table: &mut Table,
    scn: &Scenario,
    seed: u64,
    commanded: &[TimedFault],
) -> Result<bool, String> {
    if scn.swarm.is_none() && commanded.is_empty() {
        return Ok(false);
    }
    let mut faults = match table.remove("faults") {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    for f in swarm_faults(scn, seed).iter().chain(commanded) {
        faults.push(Value::try_from(f).map_err(|e| format!("writing out a fault: {e}"))?);
    }
    table.insert("faults".into(), Value::Array(faults));
    if let Some(swarm) = &scn.swarm {
        let v = swarm.get_ref().variation(seed, scn.mail.timeout_ms.0);
        if let Some(stock) = v.stock_per_product {
            set(
                table,
                &["database", "stock_per_product"],
                Value::Integer(stock.into()),
            );
        }
        if let Some(ms) = v.mail_latency_ms_mean {
            set(table, &["mail", "latency_ms_mean"], Value::Float(ms));
        }
        table.remove("swarm");
    }
    Ok(true)
}

/// Sets the value at `path`, making the tables on the way.
fn set(table: &mut Table, path: &[&str], value: Value) {
    let Some((last, rest)) = path.split_last() else {
        return;
    };
    let mut t = table;
    for key in rest {
        let entry = t
            .entry(key.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        let Value::Table(inner) = entry else { return };
        t = inner;
    }
    t.insert(last.to_string(), value);
}

fn render(table: &Table) -> Result<String, String> {
    toml::to_string(table).map_err(|e| format!("writing the scenario: {e}"))
}

/// A number as TOML holds it: integers stay integers, so `customers` stays a count.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// The value at `path` in the scenario with its defaults filled in.
fn current(full: &Value, path: &[&str]) -> Option<f64> {
    let mut v = full;
    for key in path {
        v = v.get(key)?;
    }
    number(v)
}

struct Search<'a> {
    seed: u64,
    bugs: Bugs,
    budget: usize,
    runs: usize,
    invariant: &'static str,
    design: Design,
    /// The smallest failing case so far: its scenario text and its run.
    best: Option<(String, Report)>,
    on_step: &'a mut dyn FnMut(&Step),
}

impl Search<'_> {
    /// Runs the request's designs in order until one breaks the invariant (`wanted`, or any):
    /// that invariant, that design and its run. An error says what the runs broke instead.
    fn first_failure(
        &mut self,
        original: &Scenario,
        req: &Request,
        wanted: Option<&'static str>,
    ) -> Result<(&'static str, Design, Report), String> {
        let mut seen = Vec::new();
        for &design in req.designs {
            let report = self.run_with(original, design, req.commands.to_vec())?;
            let failed: Vec<&'static str> = report
                .checks
                .iter()
                .filter(|c| c.failed())
                .map(|c| c.name)
                .collect();
            if let Some(&name) = failed.iter().find(|n| wanted.is_none_or(|w| w == **n)) {
                return Ok((name, design, report));
            }
            seen.extend(failed.iter().map(|n| format!("{n} on {}", design.name())));
        }
        let names: Vec<&str> = req.designs.iter().map(|d| d.name()).collect();
        Err(match (wanted, seen.is_empty()) {
            (Some(w), false) => format!(
                "seed {} does not break `{w}` on {}; it breaks {}",
                req.seed,
                names.join(", "),
                seen.join(", ")
            ),
            _ => format!(
                "seed {} breaks no invariant{} on {}: nothing to shrink",
                req.seed,
                wanted.map_or(String::new(), |w| format!(" (`{w}`)")),
                names.join(", ")
            ),
        })
    }

    fn spent(&self) -> bool {
        self.runs >= self.budget
    }

    fn run(&mut self, scn: &Scenario, design: Design) -> Result<Report, String> {
        self.run_with(scn, design, Vec::new())
    }

    fn run_with(
        &mut self,
        scn: &Scenario,
        design: Design,
        commands: Vec<Scheduled>,
    ) -> Result<Report, String> {
        self.runs += 1;
        let options = RunOptions {
            commands,
            bugs: self.bugs,
            ..RunOptions::default()
        };
        run_with(scn, design, self.seed, None, options).map_err(|e| e.to_string())
    }

    /// Runs `candidate` if it is a valid scenario and the budget allows; keeps it as the best
    /// case when it still breaks the invariant.
    fn try_candidate(&mut self, candidate: &Table, what: &str) -> Result<bool, String> {
        if self.spent() {
            return Ok(false);
        }
        let text = render(candidate)?;
        let Ok(scn) = parse(&text) else {
            // The cut broke one of the scenario's rules: not a run, not a step.
            return Ok(false);
        };
        let report = self.run(&scn, self.design)?;
        let kept = report
            .checks
            .iter()
            .any(|c| c.name == self.invariant && c.failed());
        (self.on_step)(&Step {
            run: self.runs,
            what: what.to_owned(),
            kept,
        });
        if kept {
            self.best = Some((text, report));
        }
        Ok(kept)
    }

    /// Tries `edit` of `table`; keeps it there when it still fails.
    fn attempt(
        &mut self,
        table: &mut Table,
        what: &str,
        edit: impl FnOnce(&mut Table),
    ) -> Result<bool, String> {
        let mut candidate = table.clone();
        edit(&mut candidate);
        if candidate == *table {
            return Ok(false);
        }
        let kept = self.try_candidate(&candidate, what)?;
        if kept {
            *table = candidate;
        }
        Ok(kept)
    }

    /// Delta debugging over the fault timeline: drop chunks of it, smaller and smaller,
    /// while the rest still fails.
    fn cut_faults(&mut self, table: &mut Table) -> Result<bool, String> {
        let mut kept_any = false;
        let mut chunks = 2usize;
        loop {
            let faults = faults_of(table);
            let n = faults.len();
            if n == 0 || self.spent() {
                return Ok(kept_any);
            }
            let chunks_now = chunks.min(n);
            let mut cut = false;
            for c in 0..chunks_now {
                let (from, to) = (n * c / chunks_now, n * (c + 1) / chunks_now);
                let names = describe_faults(table, from..to);
                let what = if to - from == n {
                    format!("drop every fault ({names})")
                } else {
                    format!("drop fault(s) {}-{} of {n} ({names})", from + 1, to)
                };
                let rest: Vec<Value> = faults
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i < from || *i >= to)
                    .map(|(_, f)| f.clone())
                    .collect();
                if self.attempt(table, &what, |t| {
                    t.insert("faults".into(), Value::Array(rest));
                })? {
                    kept_any = true;
                    cut = true;
                    chunks = (chunks_now - 1).max(2);
                    break;
                }
            }
            if !cut {
                if chunks_now >= n {
                    return Ok(kept_any);
                }
                chunks = (chunks_now * 2).min(n);
            }
        }
    }

    /// Halves each fault's length (and a kill's time until its restart) while it still fails.
    fn shorter_faults(&mut self, table: &mut Table) -> Result<bool, String> {
        let mut kept_any = false;
        for i in 0..faults_of(table).len() {
            for key in ["duration_s", "restart_after_s"] {
                loop {
                    let faults = faults_of(table);
                    let Some(old) = faults.get(i).and_then(|f| f.get(key)).and_then(number) else {
                        break;
                    };
                    let new = (old / 2.0).floor().max(1.0);
                    if new >= old || self.spent() {
                        break;
                    }
                    let what = format!(
                        "fault {} ({}): {key} {old} -> {new}",
                        i + 1,
                        describe_faults(table, i..i + 1)
                    );
                    let kept = self.attempt(table, &what, |t| {
                        if let Some(Value::Array(fs)) = t.get_mut("faults") {
                            if let Some(Value::Table(f)) = fs.get_mut(i) {
                                f.insert(key.into(), Value::Float(new));
                            }
                        }
                    })?;
                    kept_any |= kept;
                    if !kept {
                        break;
                    }
                }
            }
        }
        Ok(kept_any)
    }

    /// Moves the whole timeline earlier, by halves of the time before its first fault, so that
    /// the run can end sooner.
    fn faults_earlier(&mut self, table: &mut Table) -> Result<bool, String> {
        let mut kept_any = false;
        loop {
            let starts: Vec<f64> = faults_of(table)
                .iter()
                .filter_map(|f| f.get("at_s").and_then(number))
                .collect();
            let Some(first) = starts.iter().copied().reduce(f64::min) else {
                return Ok(kept_any);
            };
            // A second of traffic before the first fault, so that there is something to break.
            let shift = ((first - 1.0) / 2.0).ceil();
            if shift < 1.0 || self.spent() {
                return Ok(kept_any);
            }
            let what = format!("every fault {shift} s earlier (the first at {first} s)");
            let kept = self.attempt(table, &what, |t| {
                if let Some(Value::Array(fs)) = t.get_mut("faults") {
                    for f in fs.iter_mut() {
                        if let Value::Table(f) = f {
                            if let Some(at) = f.get("at_s").and_then(number) {
                                f.insert("at_s".into(), Value::Float(at - shift));
                            }
                        }
                    }
                }
            })?;
            kept_any |= kept;
            if !kept {
                return Ok(kept_any);
            }
        }
    }

    /// Shortens the run: to just after the last fault starts at once, or else by halves.
    fn shorter_run(&mut self, table: &mut Table) -> Result<bool, String> {
        let mut kept_any = false;
        let mut tried_least = false;
        loop {
            let Some(old) = table.get("duration_s").and_then(number) else {
                return Ok(kept_any);
            };
            let last = faults_of(table)
                .iter()
                .filter_map(|f| f.get("at_s").and_then(number))
                .fold(0.0, f64::max);
            let least = last.floor() + 1.0;
            let new = if tried_least {
                (old / 2.0).ceil().max(least)
            } else {
                least
            };
            // The halving has reached the least, which was tried already.
            if new >= old || (tried_least && new <= least) || self.spent() {
                return Ok(kept_any);
            }
            let what = format!("run {old} s -> {new} s");
            let kept = self.attempt(table, &what, |t| {
                t.insert("duration_s".into(), Value::Float(new));
            })?;
            kept_any |= kept;
            if !kept && tried_least {
                return Ok(kept_any);
            }
            tried_least = true;
        }
    }

    /// Less traffic and a smaller shop: halves the arrival rates, the customers and products,
    /// and the numbers of replicas, shards and workers, each while the run still fails.
    fn smaller_world(&mut self, table: &mut Table) -> Result<bool, String> {
        let mut kept_any = false;
        // Arrival rates: every point of the curve at once.
        while let Some(Value::Array(curve)) =
            table.get("workload").and_then(|w| w.get("curve")).cloned()
        {
            let peak = curve
                .iter()
                .filter_map(|p| p.get("sessions_per_s").and_then(number))
                .fold(0.0, f64::max);
            if peak <= 1.0 || self.spent() {
                break;
            }
            let halved: Vec<Value> = curve
                .into_iter()
                .map(|mut p| {
                    if let Value::Table(point) = &mut p {
                        if let Some(r) = point.get("sessions_per_s").and_then(number) {
                            point.insert("sessions_per_s".into(), Value::Float(r / 2.0));
                        }
                    }
                    p
                })
                .collect();
            let what = format!(
                "half the traffic (peak {peak} -> {} sessions/s)",
                peak / 2.0
            );
            let kept = self.attempt(table, &what, |t| {
                set(t, &["workload", "curve"], Value::Array(halved));
            })?;
            kept_any |= kept;
            if !kept {
                break;
            }
        }
        // Counts, smallest first and then halved, while the run still fails; read with the
        // scenario's defaults filled in. Only the design's own: the vertical design has no
        // replicas to cut, and a cut it cannot feel proves nothing.
        let mut counts: Vec<&[&str]> = vec![&["workload", "customers"], &["workload", "products"]];
        if self.design != Design::Vertical {
            counts.extend([
                &["horizontal", "max_replicas"][..],
                &["horizontal", "min_replicas"],
            ]);
        }
        if matches!(self.design, Design::Queued | Design::Sharded) {
            counts.extend([
                &["queued", "email_workers"][..],
                &["queued", "stock_workers"],
                &["queued", "label_workers"],
                &["queued", "partitions"],
            ]);
        }
        if self.design == Design::Sharded {
            counts.push(&["sharded", "shards"]);
        }
        for path in counts {
            let mut tried_least = false;
            loop {
                if self.spent() {
                    return Ok(kept_any);
                }
                let Some(full) = render(table)
                    .ok()
                    .and_then(|t| parse(&t).ok())
                    .and_then(|s| Value::try_from(&s).ok())
                else {
                    return Ok(kept_any);
                };
                let Some(old) = current(&full, path) else {
                    break;
                };
                let old = old as i64;
                let new = if tried_least { (old / 2).max(1) } else { 1 };
                // The halving has reached 1, which was tried already.
                if new >= old || (tried_least && new == 1) {
                    break;
                }
                let what = format!("{} {old} -> {new}", path.join("."));
                let kept = self.attempt(table, &what, |t| {
                    set(t, path, Value::Integer(new));
                })?;
                kept_any |= kept;
                if !kept && tried_least {
                    break;
                }
                tried_least = true;
            }
        }
        Ok(kept_any)
    }
}

fn faults_of(table: &Table) -> Vec<Value> {
    match table.get("faults") {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    }
}

/// The faults `range` of the timeline, as people read them ("kill app at 12 s, ...").
fn describe_faults(table: &Table, range: std::ops::Range<usize>) -> String {
    faults_of(table)
        .get(range)
        .unwrap_or_default()
        .iter()
        .map(|f| match f.clone().try_into::<TimedFault>() {
            Ok(tf) => format!("{} at {} s", tf.fault, tf.at_s),
            Err(_) => "a fault".into(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}
