//! `scalelab shrink`: a failing repro cut down to the smallest run that still breaks the same
//! invariant, and the same for each failing seed of `hunt --shrink`.
//!
//! Owns printing each step of the search, the before/after table, and writing the minimal
//! repro (which `scalelab replay` replays like any other). Must not: search or run anything
//! itself; `scalelab_sim::harness::shrink` does.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use scalelab_sim::harness::shrink::{self, Request, Shrunk, Step};
use scalelab_sim::scenario::fault::Scheduled;
use scalelab_sim::{Design, Report};
use scalelab_system::bugs::Bugs;

use crate::{repro, EXIT_BAD_INPUT, EXIT_VIOLATION};

/// How many runs a shrink may make unless told otherwise: about a minute of one-design swarm
/// runs on two cores, and enough for the searches the tests make to reach their fixed point.
pub const DEFAULT_BUDGET: usize = 200;

/// `scalelab shrink REPRO`.
pub fn main(path: &Path, invariant: Option<&str>, budget: usize, out: Option<PathBuf>) -> ExitCode {
    let r = match repro::load(path) {
        Ok(r) => r,
        Err(e) => {
            eprint!("{}", e.render(std::io::stderr().is_terminal()));
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    if let Some(n) = r.ticks {
        eprintln!(
            "error: {} was saved part-way through a live session (its first {n} ticks): a run \
             that did not reach its end ran no checks, so it breaks no invariant to shrink",
            path.display()
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let text = r.scenario_text.clone();
    let target = out.unwrap_or_else(|| shrunk_path(path));
    eprintln!(
        "shrinking {} (seed {}, {}), at most {budget} runs ...",
        path.display(),
        r.seed,
        r.designs
            .iter()
            .map(|d| d.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let started = Instant::now();
    let mut print = |s: &Step| {
        println!(
            "  run {:>3}  {}  {}",
            s.run,
            if s.kept {
                "still fails, kept"
            } else {
                "holds, undone    "
            },
            s.what
        );
    };
    let req = Request {
        scenario_text: &text,
        seed: r.seed,
        designs: &r.designs,
        invariant,
        commands: &r.commands,
        budget,
        bugs: Bugs::default(),
    };
    match shrink::shrink(&req, &mut print) {
        Ok(s) => {
            let wall = started.elapsed().as_secs_f64();
            print!("{}", before_after(&s, &text, wall));
            match save(&target, &s, &path.display().to_string()) {
                Ok(()) => {
                    println!(
                        "smallest repro: {} (scalelab replay {})",
                        target.display(),
                        target.display()
                    );
                    ExitCode::from(EXIT_VIOLATION)
                }
                Err(e) => {
                    eprintln!("error: could not save {}: {e}", target.display());
                    ExitCode::from(crate::EXIT_INTERNAL)
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Shrinks one failing seed of a hunt, quietly, and saves the result beside its repro.
/// Returns the line the hunt prints for it.
pub fn hunt_seed(
    scenario_text: &str,
    scenario_path: &str,
    seed: u64,
    designs: &[Design],
    budget: usize,
    target: &Path,
) -> String {
    let req = Request {
        scenario_text,
        seed,
        designs,
        invariant: None,
        commands: &[] as &[Scheduled],
        budget,
        bugs: Bugs::default(),
    };
    match shrink::shrink(&req, &mut |_| {}) {
        Ok(s) => {
            let saved = match save(target, &s, scenario_path) {
                Ok(()) => target.display().to_string(),
                Err(e) => format!("not saved: {e}"),
            };
            format!(
                "  seed {seed}: {} on {}: {} fault(s), {} s -> {} fault(s), {} s ({} runs{}) -> {saved}",
                s.invariant,
                s.design.name(),
                s.before_faults,
                s.before.duration_s,
                s.after_faults,
                s.after.duration_s,
                s.runs,
                if s.out_of_budget { ", budget spent" } else { "" }
            )
        }
        Err(e) => format!("  seed {seed}: not shrunk: {e}"),
    }
}

/// `dir/name.toml` -> `dir/name-shrunk.toml`.
fn shrunk_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "repro".into(), |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}-shrunk.toml"))
}

fn save(target: &Path, s: &Shrunk, from: &str) -> std::io::Result<()> {
    let text = format!(
        "# Shrunk by `scalelab shrink` from {from}: the smallest run found (in {} runs) that \
         still breaks {} on {}.\n{}",
        s.runs,
        s.invariant,
        s.design.name(),
        s.scenario_text
    );
    // The repro's scenario is the text above; its expectation is the run that was judged.
    let mut after = s.after.clone();
    after.commands.clear();
    repro::save(target, &text, &format!("{from} (shrunk)"), &[after])
}

/// The before/after table: what the shrink cut, and the violation on each side.
fn before_after(s: &Shrunk, before_text: &str, wall_s: f64) -> String {
    let peak = |text: &str| {
        scalelab_sim::parse(text).ok().map_or(0.0, |scn| {
            scn.workload()
                .curve
                .iter()
                .map(|p| p.sessions_per_s.0)
                .fold(0.0, f64::max)
        })
    };
    let mut out = format!(
        "\n{} on {} · {} runs in {wall_s:.1} s wall{}\n",
        s.invariant,
        s.design.name(),
        s.runs,
        if s.out_of_budget {
            " (budget spent: a larger --budget may cut more)"
        } else {
            ""
        }
    );
    let row = |name: &str, a: String, b: String| format!("  {name:<16} {a:>18} {b:>18}\n");
    out.push_str(&row("", "before".into(), "after".into()));
    out.push_str(&row(
        "faults",
        s.before_faults.to_string(),
        s.after_faults.to_string(),
    ));
    out.push_str(&row(
        "run",
        format!("{} s", s.before.duration_s),
        format!("{} s", s.after.duration_s),
    ));
    out.push_str(&row(
        "peak traffic",
        format!("{} sessions/s", peak(before_text)),
        format!("{} sessions/s", peak(&s.scenario_text)),
    ));
    out.push_str(&row(
        "requests",
        s.before.requests.to_string(),
        s.after.requests.to_string(),
    ));
    out.push_str(&row(
        "trace events",
        s.before.trace_events.to_string(),
        s.after.trace_events.to_string(),
    ));
    out.push_str(&row(
        "violations",
        violations(&s.before, s.invariant).to_string(),
        violations(&s.after, s.invariant).to_string(),
    ));
    if let Ok(scn) = scalelab_sim::parse(&s.scenario_text) {
        out.push_str("the faults left:\n");
        if scn.faults.is_empty() {
            out.push_str("  none: the invariant breaks without a fault\n");
        }
        for f in &scn.faults {
            out.push_str(&format!(
                "  at {} s: {}\n",
                f.get_ref().at_s,
                f.get_ref().fault
            ));
        }
    }
    for (side, r) in [("before", &s.before), ("after", &s.after)] {
        if let Some(v) = r
            .checks
            .iter()
            .find(|c| c.name == s.invariant)
            .and_then(|c| c.examples.first())
        {
            out.push_str(&format!(
                "first violation {side}, at {:.1} s: {} ({})\n",
                v.at_s, v.message, v.ids
            ));
            for line in &v.trail {
                out.push_str(&format!("    {line}\n"));
            }
        }
    }
    out
}

fn violations(r: &Report, invariant: &str) -> u64 {
    r.checks
        .iter()
        .find(|c| c.name == invariant)
        .map_or(0, |c| c.violations)
}
