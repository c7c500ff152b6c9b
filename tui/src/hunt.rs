//! `scalelab hunt`: many seeds of one scenario, looking for violations.
//!
//! Owns running seeds in parallel (each design of each seed on a fresh thread, as every run
//! is), the progress bar, the summary of failing seeds grouped by invariant, and writing a
//! repro for each failing seed. Must not: judge runs itself; the checkers in `scalelab_sim`
//! do. Slicing the seeds over many machines and the results table are `hunt_fleet`'s; this
//! file only asks it for its slice and hands it each seed's outcome.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::ops::Range;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scalelab_sim::faults::inject::Event;
use scalelab_sim::scenario::fault::FaultKind;
use scalelab_sim::{Design, Report};

use crate::hunt_fleet::{self, Fleet, Results};
use crate::{repro, scenario_file, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_VIOLATION};

/// Parses `A..B` (B excluded).
pub fn parse_seeds(s: &str) -> Result<Range<u64>, String> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| format!("expected seeds as A..B (e.g. 0..200), got '{s}'"))?;
    let a: u64 = a
        .trim()
        .parse()
        .map_err(|_| format!("'{a}' is not a seed (a whole number)"))?;
    let b: u64 = b
        .trim()
        .parse()
        .map_err(|_| format!("'{b}' is not a seed (a whole number)"))?;
    if a >= b {
        return Err(format!("the range {a}..{b} holds no seed (B is excluded)"));
    }
    Ok(a..b)
}

/// One seed's outcome: which (design, invariant) pairs it broke, and the reports for a repro.
struct Outcome {
    seed: u64,
    broken: Vec<(&'static str, &'static str)>,
    /// The checks this seed put to the test.
    exercised: Vec<&'static str>,
    /// How often each of the shop's rarer paths ran, over the seed's designs.
    paths: BTreeMap<&'static str, u64>,
    /// The kinds of fault that began and applied in some design of the seed.
    faults: Vec<FaultKind>,
    reports: Vec<Report>,
}

pub fn main(
    path: &Path,
    seeds: Range<u64>,
    jobs: Option<usize>,
    mut designs: Vec<Design>,
    out: &Path,
    shrink: Option<usize>,
    fleet: &Fleet,
) -> ExitCode {
    let scenario = match scenario_file::load(path) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{}", e.render(std::io::stderr().is_terminal()));
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    if designs.is_empty() {
        designs = Design::ALL.to_vec();
    }
    designs.dedup();
    let jobs = jobs
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
        .max(1);
    let label = hunt_fleet::seeds_label(fleet.shard, &seeds);
    let whole = seeds;
    let seeds = fleet.shard.slice(&whole);
    let all: Vec<u64> = seeds.clone().collect();
    if all.is_empty() {
        println!("{label} holds no seed: nothing to hunt");
        return ExitCode::SUCCESS;
    }
    let hunted = hunt_fleet::Hunted {
        scenario_name: &scenario.name,
        scenario_text: &text,
        scenario_path: &path.display().to_string(),
        whole,
        shard: fleet.shard,
    };
    let results = match Results::open(fleet, &hunted) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    eprintln!(
        "hunting {} over {label} ({} seeds, {jobs} at a time, {} design(s) each){}",
        path.display(),
        all.len(),
        designs.len(),
        results
            .target()
            .map_or(String::new(), |t| format!(", recording to {t}"))
    );
    let bar = ProgressBar::with_draw_target(
        Some(all.len() as u64),
        if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} seeds · {elapsed} · {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let failing = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    let internal: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(all.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = all.get(i).filter(|_| !results.stopped()) else {
                    break;
                };
                let seed_started = SystemTime::now();
                let mut reports = Vec::new();
                for &design in &designs {
                    match scalelab_sim::run(&scenario, design, seed, None) {
                        Ok(r) => reports.push(r),
                        Err(e) => {
                            *internal.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some(e.to_string());
                        }
                    }
                }
                let broken: Vec<(&'static str, &'static str)> = reports
                    .iter()
                    .flat_map(|r| {
                        r.checks
                            .iter()
                            .filter(|c| c.failed())
                            .map(move |c| (r.design, c.name))
                    })
                    .collect();
                // The checks some design of this seed exercised (see `CheckResult::exercised`).
                let exercised: Vec<&'static str> = scalelab_sim::judge::check::CHECKS
                    .into_iter()
                    .filter(|name| {
                        reports
                            .iter()
                            .any(|r| r.checks.iter().any(|c| c.name == *name && c.exercised))
                    })
                    .collect();
                let mut paths: BTreeMap<&'static str, u64> = BTreeMap::new();
                for (name, n) in reports.iter().flat_map(|r| r.paths.iter()) {
                    *paths.entry(name).or_default() += n;
                }
                let mut faults: Vec<FaultKind> = reports
                    .iter()
                    .flat_map(|r| r.faults.iter())
                    .filter(|a| a.applicable)
                    .filter_map(|a| match &a.event {
                        Event::Began { fault, .. } => Some(fault.kind()),
                        _ => None,
                    })
                    .collect();
                faults.sort();
                faults.dedup();
                results.record(seed, seed_started, &reports);
                if !broken.is_empty() {
                    let n = failing.fetch_add(1, Ordering::Relaxed) + 1;
                    bar.set_message(format!("{n} failing"));
                }
                let keep = if broken.is_empty() {
                    Vec::new()
                } else {
                    reports
                };
                outcomes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Outcome {
                        seed,
                        broken,
                        exercised,
                        paths,
                        faults,
                        reports: keep,
                    });
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();
    match results.finish() {
        Ok(Some(said)) => eprintln!("{said}"),
        Ok(None) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INTERNAL);
        }
    }
    if let Some(e) = internal.into_inner().unwrap_or_else(|p| p.into_inner()) {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_INTERNAL);
    }
    let mut outcomes = outcomes.into_inner().unwrap_or_else(|p| p.into_inner());
    outcomes.sort_by_key(|o| o.seed);

    // Failing seeds grouped by invariant, then design.
    let mut by_check: BTreeMap<(&str, &str), Vec<u64>> = BTreeMap::new();
    for o in &outcomes {
        for &(design, check) in &o.broken {
            by_check.entry((check, design)).or_default().push(o.seed);
        }
    }
    println!(
        "scalelab hunt · {} · {label} · {:.1} s wall · {:.1} seeds/min",
        scenario.name,
        wall,
        all.len() as f64 * 60.0 / wall.max(1e-9)
    );
    print!("{}", coverage(&outcomes));
    let failing: Vec<&Outcome> = outcomes.iter().filter(|o| !o.broken.is_empty()).collect();
    if failing.is_empty() {
        println!("every invariant held on every seed");
        return ExitCode::SUCCESS;
    }
    println!(
        "{} of {} seeds broke an invariant:",
        failing.len(),
        all.len()
    );
    print!("{}", failing_lines(&by_check));
    for o in &failing {
        let target = out.join(format!("{}-seed-{}.toml", scenario.name, o.seed));
        if let Err(e) = repro::save(&target, &text, &path.display().to_string(), &o.reports) {
            eprintln!("error: could not save {}: {e}", target.display());
        }
    }
    println!(
        "repro files in {}/ (replay one with: scalelab replay {}/{}-seed-N.toml)",
        out.display(),
        out.display(),
        scenario.name
    );
    if let Some(budget) = shrink {
        println!("shrinking each failing seed (at most {budget} runs each):");
        let seeds: Vec<u64> = failing.iter().map(|o| o.seed).collect();
        for line in shrink_all(
            &text,
            path,
            &scenario.name,
            &seeds,
            &designs,
            budget,
            jobs,
            out,
        ) {
            println!("{line}");
        }
    }
    ExitCode::from(EXIT_VIOLATION)
}

/// Shrinks `seeds`, `jobs` at a time (each search is sequential and deterministic, so the
/// lines come out the same however they are spread), in seed order.
#[allow(clippy::too_many_arguments)]
fn shrink_all(
    text: &str,
    path: &Path,
    name: &str,
    seeds: &[u64],
    designs: &[Design],
    budget: usize,
    jobs: usize,
    out: &Path,
) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let lines: Mutex<Vec<(u64, String)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(seeds.len()) {
            scope.spawn(|| {
                while let Some(&seed) = seeds.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let target = out.join(format!("{name}-seed-{seed}-shrunk.toml"));
                    let line = crate::shrink::hunt_seed(
                        text,
                        &path.display().to_string(),
                        seed,
                        designs,
                        budget,
                        &target,
                    );
                    lines
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((seed, line));
                }
            });
        }
    });
    let mut lines = lines.into_inner().unwrap_or_else(|p| p.into_inner());
    lines.sort_by_key(|(seed, _)| *seed);
    lines.into_iter().map(|(_, l)| l).collect()
}

/// The failing seeds, one line per (invariant, design): how many, and the first dozen. The
/// hunt and `hunt report` print the same lines, so a sliced hunt reads like one.
pub fn failing_lines(by_check: &BTreeMap<(&str, &str), Vec<u64>>) -> String {
    let mut s = String::new();
    for ((check, design), seeds) in by_check {
        let shown: Vec<String> = seeds.iter().take(12).map(u64::to_string).collect();
        let more = if seeds.len() > 12 {
            format!(" and {} more", seeds.len() - 12)
        } else {
            String::new()
        };
        s.push_str(&format!(
            "  {check:<24} {design:<11} {} seed(s): {}{more}\n",
            seeds.len(),
            shown.join(", ")
        ));
    }
    s
}

/// The coverage lines: for each check, on how many seeds some design met the situation it
/// guards. A check that held on seeds that never tested it proved nothing there, so a hunt
/// says how often each one was really put to the test.
fn coverage(outcomes: &[Outcome]) -> String {
    let seeds = outcomes.len().max(1);
    let mut s = String::from("coverage (seeds that put each check to the test):\n");
    for name in scalelab_sim::judge::check::CHECKS {
        let n = outcomes
            .iter()
            .filter(|o| o.exercised.contains(&name))
            .count();
        let pct = n as f64 * 100.0 / seeds as f64;
        let flag = if n == 0 { "  never exercised" } else { "" };
        s.push_str(&format!(
            "  {name:<24} {n:>5} of {seeds} ({pct:.0}%){flag}\n"
        ));
    }
    s.push_str("paths (seeds on which some design ran each; times in all):\n");
    let names: Vec<&str> = outcomes
        .first()
        .map_or_else(Vec::new, |o| o.paths.keys().copied().collect());
    for name in names {
        let n = outcomes
            .iter()
            .filter(|o| o.paths.get(name).is_some_and(|&c| c > 0))
            .count();
        let total: u64 = outcomes.iter().filter_map(|o| o.paths.get(name)).sum();
        let pct = n as f64 * 100.0 / seeds as f64;
        let flag = if n == 0 { "  never ran" } else { "" };
        s.push_str(&format!(
            "  {name:<42} {n:>5} of {seeds} ({pct:.0}%) {total:>8} times{flag}\n"
        ));
    }
    s.push_str("faults (seeds on which some design met each kind):\n");
    for kind in FaultKind::ALL {
        let n = outcomes.iter().filter(|o| o.faults.contains(&kind)).count();
        let pct = n as f64 * 100.0 / seeds as f64;
        let flag = if n == 0 { "  never" } else { "" };
        s.push_str(&format!(
            "  {:<24} {n:>5} of {seeds} ({pct:.0}%){flag}\n",
            kind.name()
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::parse_seeds;

    #[test]
    fn seeds_are_a_half_open_range() {
        assert_eq!(parse_seeds("0..200"), Ok(0..200));
        assert!(parse_seeds("5..5").unwrap_err().contains("holds no seed"));
        assert!(parse_seeds("7").unwrap_err().contains("A..B"));
        assert!(parse_seeds("a..3")
            .unwrap_err()
            .contains("'a' is not a seed"));
    }
}
