//! The grader: runs an answer on the exercise's seeds (public and held back), measures each
//! target's figure from the reports, and writes one line per target: the figure, the target,
//! PASS or FAIL, and on a failure what to look at.
//!
//! Deterministic by construction: every figure comes from seeded runs or pure computations,
//! seeds and designs are listed in a fixed order, and nothing here reads the wall clock (the
//! caller may time the whole check on stderr). Held-back seeds are never named.
//!
//! Must not: print (it returns text), or let a student's code bring the grader down: a
//! panicking simulation is a failed target, and a panicking placement function is caught.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use scalelab_sim::judge::check::Status;
use scalelab_sim::{Design, Report, RunError, RunOptions, Scenario};
use scalelab_system::exercises::{Code, Exercise as Swap};
use scalelab_system::shard::ShardMap;

use super::answer::{locate, Answer};
use super::catalog::{Cmp, CodeExercise, Exercise, Figure, Over, RunFigure, Target, Unit};
use crate::format::{ms, thousands};

/// Which seed a run was, as the output may name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedLabel {
    Public(u64),
    /// Never named in output.
    HeldBack,
    /// The seed the answer named (lesson 9's failing seed).
    Found(u64),
}

impl SeedLabel {
    fn describe(self) -> String {
        match self {
            SeedLabel::Public(s) | SeedLabel::Found(s) => format!("seed {s}"),
            SeedLabel::HeldBack => "a held-back seed".into(),
        }
    }
}

/// One simulation to run.
struct Job {
    label: SeedLabel,
    seed: u64,
    design: Design,
    /// On the lesson's starting configuration rather than the answer's.
    base: bool,
}

/// One simulation's outcome.
pub struct Outcome {
    pub label: SeedLabel,
    pub design: Design,
    pub base: bool,
    pub report: Result<Report, RunError>,
}

/// What the grader needs besides the exercise: the answer, the scenario with the answer's
/// knobs in it, the lesson's own scenario, and whose code a code exercise runs.
pub struct Case<'a> {
    pub exercise: &'a Exercise,
    pub answer: &'a Answer,
    pub scenario: &'a Scenario,
    pub base: &'a Scenario,
    pub base_text: &'a str,
    pub code: Option<Code>,
}

/// The verdict: the text to print and whether every target passed.
pub struct Verdict {
    pub text: String,
    pub passed: bool,
    /// The simulator itself failed in a lesson without student code (a scalelab bug).
    pub internal_error: bool,
}

/// A measured value.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Num(f64),
    Bool(bool),
    Text(String),
}

/// The designs a case runs: the answer's choice, or the exercise's list.
pub fn designs(case: &Case) -> Result<Vec<Design>, String> {
    if let Some(field) = &case.exercise.design_field {
        let name = match case.answer.field(field) {
            Some(toml::Value::String(s)) => s.clone(),
            _ => return Err(format!("the answer's `{field}` names no design")),
        };
        return Design::parse(&name)
            .map(|d| vec![d])
            .ok_or_else(|| format!("no design named `{name}`"));
    }
    case.exercise
        .designs
        .iter()
        .map(|d| Design::parse(d).ok_or_else(|| format!("no design named `{d}` (course data)")))
        .collect()
}

/// The seed the answer names in the exercise's `seed_field`, if any.
fn found_seed(case: &Case) -> Option<u64> {
    let field = case.exercise.seed_field.as_ref()?;
    match case.answer.field(field)? {
        toml::Value::Integer(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// Runs everything the case needs, `threads` simulations at a time, calling `done` after
/// each with how many have finished and how many there are.
pub fn run_all(
    case: &Case,
    threads: usize,
    done: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<Outcome>, String> {
    let designs = designs(case)?;
    let mut seeds: Vec<(SeedLabel, u64)> = case
        .exercise
        .seeds
        .iter()
        .map(|&s| (SeedLabel::Public(s), s))
        .chain(
            case.exercise
                .held_back
                .iter()
                .map(|&s| (SeedLabel::HeldBack, s)),
        )
        .collect();
    let found = found_seed(case);
    if let Some(s) = found {
        if !seeds.iter().any(|&(_, seed)| seed == s) {
            seeds.push((SeedLabel::Found(s), s));
        }
    }
    let mut jobs: Vec<Job> = Vec::new();
    for &(label, seed) in &seeds {
        for &design in &designs {
            jobs.push(Job {
                label,
                seed,
                design,
                base: false,
            });
        }
    }
    let wants_base = case.exercise.figures()?.contains(&Figure::BaseFails);
    if let (true, Some(s)) = (wants_base, found) {
        for &design in &designs {
            jobs.push(Job {
                label: SeedLabel::Found(s),
                seed: s,
                design,
                base: true,
            });
        }
    }
    let swap = swap(case);
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(jobs.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else {
                    break;
                };
                let (scenario, exercise) = if job.base {
                    (case.base, Swap::default())
                } else {
                    (case.scenario, swap)
                };
                let options = RunOptions {
                    exercise,
                    ..RunOptions::default()
                };
                let report = scalelab_sim::run_with(scenario, job.design, job.seed, None, options);
                let outcome = Outcome {
                    label: job.label,
                    design: job.design,
                    base: job.base,
                    report,
                };
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(outcome);
                done(finished.fetch_add(1, Ordering::Relaxed) + 1, jobs.len());
            });
        }
    });
    Ok(results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect())
}

/// The student code a case swaps into the simulator.
fn swap(case: &Case) -> Swap {
    match (case.exercise.code, case.code) {
        (Some(CodeExercise::Worker), Some(code)) => Swap {
            worker: Some(code),
            ..Swap::default()
        },
        (Some(CodeExercise::ShardKey), Some(code)) => Swap {
            shard_key: Some(code),
            ..Swap::default()
        },
        _ => Swap::default(),
    }
}

/// One run's value of a figure.
fn run_value(figure: &RunFigure, r: &Report) -> Value {
    let held = |name: &str| {
        r.checks
            .iter()
            .find(|c| c.name == name)
            .is_none_or(|c| matches!(c.status, Status::Held | Status::NotApplicable))
    };
    match figure {
        RunFigure::Availability => Value::Num(r.availability),
        RunFigure::WorstWindow => {
            Value::Num(r.worst_window.as_ref().map_or(1.0, |w| w.availability))
        }
        RunFigure::P99 => Value::Num(r.latency.p99_ms),
        RunFigure::Orders => Value::Num(r.orders as f64),
        RunFigure::EmailsSent => Value::Num(r.emails_sent as f64),
        RunFigure::ReplicaMinutes => Value::Num(replica_minutes(r)),
        RunFigure::ReplicasMax => Value::Num(f64::from(r.replicas_max)),
        RunFigure::QueueLagMax => Value::Num(r.queue_lag_max as f64),
        RunFigure::LagClearedAt(above) => Value::Num(lag_cleared_at(r, *above)),
        RunFigure::CoreMinutes => Value::Num(replica_minutes(r) * f64::from(r.cpu.app_cores)),
        RunFigure::CartsLost => Value::Num(
            r.checks
                .iter()
                .find(|c| c.name == "cart-survives")
                .map_or(0.0, |c| c.violations as f64),
        ),
        RunFigure::ChecksHeld => Value::Bool(r.checks.iter().all(|c| !c.failed())),
        RunFigure::Check(name) => Value::Bool(held(name)),
        RunFigure::Violations(name) => Value::Num(
            r.checks
                .iter()
                .find(|c| c.name == name)
                .map_or(0.0, |c| c.violations as f64),
        ),
        RunFigure::ShardCpuRatio => Value::Num(shard_cpu_ratio(&r.cpu.shard_cpu_mean)),
        RunFigure::DbCpuPeak => Value::Num(r.cpu.db_peak),
        RunFigure::DbCoresTotal => {
            Value::Num(f64::from(r.cpu.db_cores) * r.cpu.shard_cpu_mean.len().max(1) as f64)
        }
        RunFigure::SessionsStarted => Value::Num(r.sessions.started as f64),
        RunFigure::Throughput => Value::Num(r.throughput_rps),
    }
}

/// App hosts taking traffic, integrated over the run: sum of replicas x window length.
pub fn replica_minutes(r: &Report) -> f64 {
    r.series
        .iter()
        .map(|p| f64::from(p.replicas) * p.span_s)
        .sum::<f64>()
        / 60.0
}

/// The end of the last window whose queue lag was above `above` orders (0 if it never was);
/// infinite if the lag was still above it at the end of the arrivals.
pub fn lag_cleared_at(r: &Report, above: u64) -> f64 {
    match r.series.last() {
        Some(last) if last.queue_lag > above => f64::INFINITY,
        _ => r
            .series
            .iter()
            .filter(|p| p.queue_lag > above)
            .map(|p| p.t_s + p.span_s)
            .fold(0.0, f64::max),
    }
}

/// The busiest shard's mean CPU over the shards' mean (1 with one shard or no load).
pub fn shard_cpu_ratio(shards: &[f64]) -> f64 {
    let mean = shards.iter().sum::<f64>() / shards.len().max(1) as f64;
    if shards.len() < 2 || mean <= 0.0 {
        return 1.0;
    }
    shards.iter().copied().fold(0.0, f64::max) / mean
}

/// How the answer places customers on `n` shards.
type Placement<'a> = Box<dyn Fn(u64, u32) -> u32 + 'a>;

fn placement<'a>(case: &Case<'a>) -> Placement<'a> {
    match (case.exercise.code, case.code) {
        (Some(CodeExercise::ShardKey), Some(code)) => {
            Box::new(move |c, n| scalelab_system::exercises::shard_for(code, c, n))
        }
        _ => {
            let map = scalelab_sim::deployment::design::shard_map(case.scenario);
            Box::new(move |c, n| {
                if n == map.shards() {
                    map.shard_for(c)
                } else {
                    ShardMap::resized(&map, n).shard_for(c)
                }
            })
        }
    }
}

/// Pure placement figures over the scenario's customers: the share that moves from `n` to
/// `n + 1` shards, the fullest shard over the mean at `n`, and customers placed out of range.
/// `None` if the placement panicked (a student's code), with the panic's message.
fn placement_figures(case: &Case) -> Result<(f64, f64, f64), String> {
    let customers = u64::from(case.scenario.workload().customers.get());
    let n = case.scenario.sharded.shards.get();
    let place = placement(case);
    let computed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut moved = 0u64;
        let mut outside = 0u64;
        let mut per_shard = vec![0u64; n as usize];
        for c in 1..=customers {
            let before = place(c, n);
            let after = place(c, n + 1);
            if before != after {
                moved += 1;
            }
            if before >= n {
                outside += 1;
            } else {
                per_shard[before as usize] += 1;
            }
            if after > n {
                outside += 1;
            }
        }
        let mean = customers as f64 / f64::from(n);
        let fullest = per_shard.iter().copied().max().unwrap_or(0) as f64;
        (
            moved as f64 / customers.max(1) as f64,
            fullest / mean.max(f64::MIN_POSITIVE),
            outside as f64,
        )
    }));
    computed.map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic".into())
    })
}

/// A figure, combined over the seeds, and where it was worst.
struct Measured {
    value: Result<Value, String>,
    /// Where the combined value came from: "seed 4", "a held-back seed".
    at: Option<String>,
    /// Per public seed, in order, for the table (run figures only).
    by_seed: Vec<(u64, Value)>,
    /// Over the held-back seeds, combined the same way.
    held: Option<Value>,
}

fn default_over(t: &Target) -> Over {
    match (&t.value, t.cmp) {
        (toml::Value::Boolean(_), _) => Over::Every,
        (_, Cmp::Ge | Cmp::Gt) => Over::Min,
        _ => Over::Max,
    }
}

/// Combines per-run values; returns the value and the index of the run it came from.
fn combine(over: Over, values: &[Value]) -> Option<(Value, Option<usize>)> {
    let nums: Vec<(usize, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| match v {
            Value::Num(n) => Some((i, *n)),
            _ => None,
        })
        .collect();
    match over {
        Over::Every => {
            let first_no = values.iter().position(|v| *v != Value::Bool(true));
            Some((Value::Bool(first_no.is_none()), first_no))
        }
        Over::Min => nums
            .iter()
            .copied()
            .reduce(|a, b| if b.1 < a.1 { b } else { a })
            .map(|(i, n)| (Value::Num(n), Some(i))),
        Over::Max => nums
            .iter()
            .copied()
            .reduce(|a, b| if b.1 > a.1 { b } else { a })
            .map(|(i, n)| (Value::Num(n), Some(i))),
        Over::Mean => (!nums.is_empty()).then(|| {
            (
                Value::Num(nums.iter().map(|(_, n)| n).sum::<f64>() / nums.len() as f64),
                None,
            )
        }),
        Over::Sum => Some((Value::Num(nums.iter().map(|(_, n)| n).sum()), None)),
    }
}

fn measure_run(
    case: &Case,
    target: &Target,
    figure: &RunFigure,
    outcomes: &[Outcome],
    several_designs: bool,
) -> Measured {
    let chosen: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| !o.base)
        .filter(|o| {
            target
                .design
                .as_deref()
                .is_none_or(|d| o.design.name() == d)
        })
        .collect();
    let over = target.over.unwrap_or_else(|| default_over(target));
    let mut values = Vec::new();
    for o in &chosen {
        match &o.report {
            Ok(r) => values.push(run_value(figure, r)),
            Err(e) => {
                let whose = if case.exercise.code.is_some() {
                    "your code"
                } else {
                    "the simulation"
                };
                let message = match e {
                    RunError::Panicked { message, .. } => message.clone(),
                };
                return Measured {
                    value: Err(format!(
                        "{whose} panicked on {} ({}): {message}",
                        o.label.describe(),
                        o.design.name()
                    )),
                    at: None,
                    by_seed: Vec::new(),
                    held: None,
                };
            }
        }
    }
    let Some((value, index)) = combine(over, &values) else {
        return Measured {
            value: Err("nothing to measure (no run of this design)".into()),
            at: None,
            by_seed: Vec::new(),
            held: None,
        };
    };
    let at = index.and_then(|i| chosen.get(i)).map(|o| {
        if several_designs && target.design.is_none() {
            format!("{}, {}", o.label.describe(), o.design.name())
        } else {
            o.label.describe()
        }
    });
    // The table shows one design per row: the target's, or the only one.
    let by_seed = chosen
        .iter()
        .zip(&values)
        .filter_map(|(o, v)| match o.label {
            SeedLabel::Public(s) | SeedLabel::Found(s) => Some((s, v.clone())),
            SeedLabel::HeldBack => None,
        })
        .collect();
    let held_values: Vec<Value> = chosen
        .iter()
        .zip(&values)
        .filter(|(o, _)| o.label == SeedLabel::HeldBack)
        .map(|(_, v)| v.clone())
        .collect();
    let held = combine(over, &held_values)
        .filter(|_| !held_values.is_empty())
        .map(|(v, _)| v);
    Measured {
        value: Ok(value),
        at,
        by_seed,
        held,
    }
}

fn plain(value: Result<Value, String>) -> Measured {
    Measured {
        value,
        at: None,
        by_seed: Vec::new(),
        held: None,
    }
}

fn toml_value(v: &toml::Value) -> Option<Value> {
    match v {
        toml::Value::Integer(n) => Some(Value::Num(*n as f64)),
        toml::Value::Float(f) => Some(Value::Num(*f)),
        toml::Value::Boolean(b) => Some(Value::Bool(*b)),
        toml::Value::String(s) => Some(Value::Text(s.clone())),
        _ => None,
    }
}

/// The value of a knob: the answer's, or the lesson scenario's.
fn knob_value(case: &Case, key: &str) -> Result<Value, String> {
    if let Some(v) = case.answer.knob(key) {
        return toml_value(v).ok_or_else(|| format!("`{key}` is not a number"));
    }
    let raw = locate(case.base_text, key)
        .and_then(|r| case.base_text.get(r))
        .ok_or_else(|| format!("the scenario does not set `{key}`"))?;
    let parsed: toml::Table =
        toml::from_str(&format!("v = {raw}")).map_err(|e| e.message().to_owned())?;
    parsed
        .get("v")
        .and_then(toml_value)
        .ok_or_else(|| format!("`{key}` is not a value"))
}

fn passes(cmp: Cmp, got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Num(g), Value::Num(w)) => match cmp {
            Cmp::Ge => g >= w,
            Cmp::Le => g <= w,
            Cmp::Eq => g == w,
            Cmp::Gt => g > w,
            Cmp::Lt => g < w,
        },
        (Value::Bool(g), Value::Bool(w)) => cmp == Cmp::Eq && g == w,
        (Value::Text(g), Value::Text(w)) => cmp == Cmp::Eq && g.trim() == w.trim(),
        _ => false,
    }
}

fn show(unit: Unit, v: &Value) -> String {
    match v {
        Value::Bool(b) => match unit {
            Unit::Held => if *b { "held" } else { "violated" }.into(),
            _ => if *b { "yes" } else { "no" }.into(),
        },
        Value::Text(t) => format!("\"{t}\""),
        Value::Num(n) if n.is_infinite() => "never".into(),
        Value::Num(n) => match unit {
            Unit::Percent => format!("{:.2}%", n * 100.0),
            Unit::Ms => ms(*n),
            Unit::Seconds => format!("{n:.0} s"),
            Unit::Count => thousands(n.max(0.0).round() as u64),
            Unit::Ratio => format!("{n:.2}x"),
            Unit::ReplicaMinutes => format!("{n:.1} replica-minutes"),
            Unit::CoreMinutes => format!("{n:.1} core-minutes"),
            Unit::Cores => format!("{n:.0} cores"),
            Unit::Held | Unit::YesNo | Unit::Text => format!("{n}"),
        },
    }
}

/// A figure in a table cell, where the row's label already names the unit.
fn show_brief(unit: Unit, v: &Value) -> String {
    match (unit, v) {
        (Unit::ReplicaMinutes | Unit::CoreMinutes, Value::Num(n)) if n.is_finite() => {
            format!("{n:.1}")
        }
        _ => show(unit, v),
    }
}

/// Measures every target and writes the verdict.
pub fn verdict(case: &Case, outcomes: &[Outcome]) -> Result<Verdict, String> {
    let ex = case.exercise;
    let figures = ex.figures()?;
    let designs = designs(case)?;
    let several_designs = designs.len() > 1;
    let mut placement: Option<Result<(f64, f64, f64), String>> = None;
    let mut internal_error = false;
    let mut s = String::new();
    let _ = writeln!(s, "lesson {} · {}", ex.lesson, ex.title);
    let knobs: Vec<String> = case
        .answer
        .knobs
        .iter()
        .filter_map(|(k, g)| {
            case.answer
                .text
                .get(g.value_span.clone())
                .map(|v| format!("{k} = {v}"))
        })
        .chain(case.answer.fields.iter().filter_map(|(k, g)| {
            case.answer
                .text
                .get(g.value_span.clone())
                .map(|v| format!("{k} = {v}"))
        }))
        .collect();
    let _ = writeln!(
        s,
        "answer  {}{}",
        case.answer.shown,
        if knobs.is_empty() {
            String::new()
        } else {
            format!(": {}", knobs.join(", "))
        }
    );
    if let Some(code) = ex.code {
        let whose = if case.code.is_some() && case.code == Code::reference() {
            "the reference solution (lessons/solutions/, test builds only)".to_owned()
        } else {
            format!("{} as built into this binary", code.file())
        };
        let _ = writeln!(s, "code    {whose}");
    }
    let public: Vec<String> = ex.seeds.iter().map(u64::to_string).collect();
    let mut seeds_line = format!("seeds {}", public.join(", "));
    if !ex.held_back.is_empty() {
        let _ = write!(seeds_line, " and {} held back", ex.held_back.len());
    }
    if let Some(found) = found_seed(case) {
        if !ex.seeds.contains(&found) {
            let _ = write!(seeds_line, ", and your seed {found}");
        }
    }
    let names: Vec<&str> = designs.iter().map(|d| d.name()).collect();
    let _ = writeln!(s, "runs    {} on {seeds_line}", names.join(", "));
    s.push('\n');

    let mut missed = 0;
    let mut table: Vec<(String, Unit, Measured)> = Vec::new();
    for (target, figure) in ex.targets.iter().zip(&figures) {
        let measured = match figure {
            Figure::Run(f) => measure_run(case, target, f, outcomes, several_designs),
            Figure::Knob(k) => plain(knob_value(case, k)),
            Figure::Field(k) => plain(
                case.answer
                    .field(k)
                    .and_then(toml_value)
                    .ok_or_else(|| format!("your answer gives no `{k}` in [answer]")),
            ),
            Figure::MovedShare | Figure::CustomerBalance | Figure::OutOfRange => {
                let p = placement.get_or_insert_with(|| placement_figures(case));
                plain(match p {
                    Ok((moved, balance, outside)) => Ok(Value::Num(match figure {
                        Figure::MovedShare => *moved,
                        Figure::CustomerBalance => *balance,
                        _ => *outside,
                    })),
                    Err(panic) => Err(format!("your shard_for panicked: {panic}")),
                })
            }
            Figure::BaseFails => {
                let base: Vec<&Outcome> = outcomes.iter().filter(|o| o.base).collect();
                plain(if base.is_empty() {
                    Err(format!(
                        "your answer names no seed in `{}`",
                        ex.seed_field.as_deref().unwrap_or("?")
                    ))
                } else {
                    Ok(Value::Bool(
                        base.iter()
                            .any(|o| o.report.as_ref().is_ok_and(Report::violated)),
                    ))
                })
            }
        };
        if let (Err(_), Figure::Run(_), None) = (&measured.value, figure, ex.code) {
            internal_error = true;
        }
        let want = toml_value(&target.value)
            .ok_or_else(|| format!("target `{}` has no comparable value", target.id))?;
        let ok = measured
            .value
            .as_ref()
            .is_ok_and(|v| passes(target.cmp, v, &want));
        if !ok {
            missed += 1;
        }
        let got = match &measured.value {
            Ok(v) => {
                let shown = show(target.unit, v);
                match &measured.at {
                    Some(at) => {
                        let word = match target.over.unwrap_or_else(|| default_over(target)) {
                            Over::Min => "lowest",
                            Over::Max => "highest",
                            _ => "first",
                        };
                        match (v, word) {
                            (Value::Bool(true), _) => format!("{shown} on every seed"),
                            (Value::Bool(false), _) => format!("{shown} ({at})"),
                            _ => format!("{shown} ({word}: {at})"),
                        }
                    }
                    None => shown,
                }
            }
            Err(why) => format!("not measured: {why}"),
        };
        let _ = write!(
            s,
            "{}  {}: {got} · want {} {}",
            if ok { "PASS" } else { "FAIL" },
            target.label,
            target.cmp.symbol(),
            show(target.unit, &want)
        );
        for p in ex.predictions.iter().filter(|p| p.beside == target.id) {
            match case.answer.predictions.get(&p.key) {
                Some(written) if !written.is_empty() => {
                    let _ = write!(s, " · you predicted: {written}");
                }
                _ => {
                    let _ = write!(s, " · you predicted: (nothing yet)");
                }
            }
        }
        if !ok {
            let _ = write!(s, " -> {}", target.pointer.trim());
        }
        s.push('\n');
        if !measured.by_seed.is_empty() {
            table.push((target.label.clone(), target.unit, measured));
        }
    }

    if !table.is_empty() {
        let seeds: Vec<u64> = table[0].2.by_seed.iter().map(|(s, _)| *s).collect();
        let width = table
            .iter()
            .map(|(l, _, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        // Every cell as text first, so that a column is as wide as its widest cell.
        let mut header: Vec<String> = seeds.iter().map(|seed| format!("seed {seed}")).collect();
        if !ex.held_back.is_empty() {
            header.push("held back".into());
        }
        let rows: Vec<(&String, Vec<String>)> = table
            .iter()
            .map(|(label, unit, m)| {
                let by: BTreeMap<u64, &Value> = m.by_seed.iter().map(|(s, v)| (*s, v)).collect();
                let mut cells: Vec<String> = seeds
                    .iter()
                    .map(|seed| by.get(seed).map_or("-".into(), |v| show_brief(*unit, v)))
                    .collect();
                if !ex.held_back.is_empty() {
                    cells.push(m.held.as_ref().map_or("-".into(), |h| show_brief(*unit, h)));
                }
                (label, cells)
            })
            .collect();
        let column = |i: usize| {
            rows.iter()
                .filter_map(|(_, cells)| cells.get(i))
                .chain(header.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
                + 2
        };
        let widths: Vec<usize> = (0..header.len()).map(|i| column(i).max(12)).collect();
        let _ = write!(s, "\nby seed  {:width$}", "");
        for (h, w) in header.iter().zip(&widths) {
            let _ = write!(s, "{h:>w$}");
        }
        s.push('\n');
        for (label, cells) in &rows {
            let _ = write!(s, "         {label:width$}");
            for (c, w) in cells.iter().zip(&widths) {
                let _ = write!(s, "{c:>w$}");
            }
            s.push('\n');
        }
    }

    s.push('\n');
    let total = ex.targets.len();
    if missed == 0 {
        let _ = writeln!(
            s,
            "passed: all {total} targets. Lesson {} is done; `scalelab lesson list` shows what is next.",
            ex.lesson
        );
    } else {
        let _ = writeln!(
            s,
            "{missed} of {total} targets missed. Stuck? cargo run --release --bin scalelab -- lesson hint {}",
            ex.lesson
        );
    }
    Ok(Verdict {
        text: s,
        passed: missed == 0,
        internal_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_combine_to_the_worst_and_name_where() {
        let v = [Value::Num(0.99), Value::Num(0.97), Value::Num(0.98)];
        assert_eq!(combine(Over::Min, &v), Some((Value::Num(0.97), Some(1))));
        assert_eq!(combine(Over::Max, &v), Some((Value::Num(0.99), Some(0))));
        let (mean, at) = combine(Over::Mean, &v).expect("a mean");
        assert!(matches!(mean, Value::Num(m) if (m - 0.98).abs() < 1e-12));
        assert_eq!(at, None);
        assert!(
            matches!(combine(Over::Sum, &v), Some((Value::Num(s), None)) if (s - 2.94).abs() < 1e-12)
        );
        let b = [Value::Bool(true), Value::Bool(false), Value::Bool(false)];
        assert_eq!(
            combine(Over::Every, &b),
            Some((Value::Bool(false), Some(1)))
        );
        assert_eq!(
            combine(Over::Every, &[Value::Bool(true)]),
            Some((Value::Bool(true), None))
        );
        assert_eq!(combine(Over::Min, &[]), None);
    }

    #[test]
    fn comparisons_hold_at_the_threshold_and_types_must_match() {
        let n = Value::Num;
        assert!(passes(Cmp::Ge, &n(0.99), &n(0.99)));
        assert!(!passes(Cmp::Gt, &n(0.99), &n(0.99)));
        assert!(passes(Cmp::Le, &n(600.0), &n(600.0)));
        assert!(!passes(Cmp::Le, &n(600.1), &n(600.0)));
        assert!(
            !passes(Cmp::Le, &n(f64::INFINITY), &n(60.0)),
            "never is not in time"
        );
        assert!(passes(Cmp::Eq, &Value::Bool(true), &Value::Bool(true)));
        assert!(!passes(Cmp::Ge, &Value::Bool(true), &Value::Bool(true)));
        assert!(passes(
            Cmp::Eq,
            &Value::Text(" worker ".into()),
            &Value::Text("worker".into())
        ));
        assert!(!passes(Cmp::Eq, &Value::Text("1".into()), &n(1.0)));
    }

    #[test]
    fn figures_show_in_their_units() {
        assert_eq!(show(Unit::Percent, &Value::Num(0.99375)), "99.38%");
        assert_eq!(show(Unit::Count, &Value::Num(4426.0)), "4,426");
        assert_eq!(show(Unit::Ratio, &Value::Num(1.2345)), "1.23x");
        assert_eq!(show(Unit::Seconds, &Value::Num(f64::INFINITY)), "never");
        assert_eq!(show(Unit::Held, &Value::Bool(false)), "violated");
        assert_eq!(show(Unit::YesNo, &Value::Bool(true)), "yes");
        assert_eq!(show(Unit::Cores, &Value::Num(21.0)), "21 cores");
        assert_eq!(
            show(Unit::ReplicaMinutes, &Value::Num(512.34)),
            "512.3 replica-minutes"
        );
    }

    #[test]
    fn shard_ratio_and_lag_figures() {
        assert_eq!(shard_cpu_ratio(&[0.2]), 1.0);
        assert_eq!(shard_cpu_ratio(&[0.0, 0.0]), 1.0);
        assert!((shard_cpu_ratio(&[0.1, 0.1, 0.1, 0.5]) - 2.5).abs() < 1e-12);
        let point = |t_s: f64, queue_lag: u64, replicas: u32| scalelab_sim::metrics::Point {
            t_s,
            span_s: 1.0,
            requests: 1,
            answered_in_slo: 1,
            throughput_rps: 1.0,
            availability: 1.0,
            p50_ms: 1.0,
            p99_ms: 1.0,
            app_cpu: 0.0,
            db_cpu: 0.0,
            orders: 0,
            sessions: 0,
            replicas,
            emails: 0,
            queue_lag,
            ..Default::default()
        };
        let mut r = Report {
            series: vec![point(0.0, 0, 5), point(1.0, 7, 5), point(2.0, 0, 6)],
            ..Report::default()
        };
        assert_eq!(lag_cleared_at(&r, 0), 2.0);
        assert_eq!(lag_cleared_at(&r, 7), 0.0, "never above 7");
        assert!((replica_minutes(&r) - 16.0 / 60.0).abs() < 1e-12);
        r.series.push(point(3.0, 3, 6));
        assert!(
            lag_cleared_at(&r, 2).is_infinite(),
            "still lagging at the end"
        );
        assert_eq!(lag_cleared_at(&r, 3), 2.0, "3 is not above 3");
        r.series.clear();
        assert_eq!(lag_cleared_at(&r, 0), 0.0);
    }
}
