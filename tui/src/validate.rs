//! `scalelab validate`: the simulator held to queueing theory. Runs the cases of
//! `scalelab_sim::harness::validate` (the scenarios in `scenarios/validate/`) on their named
//! seeds, a few at a time, and prints one table: model, parameters, simulated, theory, error,
//! the 95% interval, PASS/FAIL. Exit 1 if any case fails.
//!
//! Must not: measure or judge anything itself; the rows come from the sim crate.

use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use scalelab_sim::harness::validate::{cases, run_case, Case, Measure, Row, SEEDS};

/// Runs every case (only the quick ones with `quick`) on `seeds`, `jobs` at a time.
/// One case's run on one seed: (case index, seed, its row or why it could not run).
type Outcome = (usize, u64, Result<Row, String>);

pub fn main(quick: bool, seeds: Option<std::ops::Range<u64>>, jobs: Option<usize>) -> ExitCode {
    // The quick form runs the first named seed only, unless told otherwise.
    let named = if quick { &SEEDS[..1] } else { &SEEDS[..] };
    let seeds: Vec<u64> = seeds.map_or_else(|| named.to_vec(), |r| r.collect());
    if seeds.is_empty() {
        eprintln!("error: no seeds to run (--seeds A..B runs A to B-1)");
        return ExitCode::from(crate::EXIT_BAD_INPUT);
    }
    let all = cases();
    let chosen: Vec<&Case> = all.iter().filter(|c| !quick || c.quick).collect();
    let work: Vec<(usize, u64)> = (0..chosen.len())
        .flat_map(|i| seeds.iter().map(move |&s| (i, s)))
        .collect();
    let jobs = jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, work.len().max(1));
    eprintln!(
        "validate: {} case(s) x {} seed(s), {jobs} at a time{}",
        chosen.len(),
        seeds.len(),
        if quick { " (quick form)" } else { "" }
    );
    let wall = Instant::now();
    let next = Mutex::new(work.iter());
    let results: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let item = next
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .next()
                    .copied();
                let Some((i, seed)) = item else { break };
                let row = run_case(chosen[i], seed).map_err(|e| e.to_string());
                results
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((i, seed, row));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|&(i, seed, _)| (i, seed));
    print_table(&results);
    let failed = results
        .iter()
        .filter(|(_, _, r)| !r.as_ref().is_ok_and(Row::passed))
        .count();
    println!(
        "\n{} of {} passed · seeds {} · {:.1} s wall",
        results.len() - failed,
        results.len(),
        seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        wall.elapsed().as_secs_f64()
    );
    if results.iter().any(|(_, _, r)| r.is_err()) {
        ExitCode::from(crate::EXIT_INTERNAL)
    } else if failed > 0 {
        ExitCode::from(crate::EXIT_VIOLATION)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_table(results: &[Outcome]) {
    println!(
        "{:<7} {:<34} {:>4} {:>9} {:>12} {:>11} {:>8} {:>8} {:>6}  result",
        "model",
        "parameters",
        "seed",
        "requests",
        "simulated",
        "theory",
        "error",
        "95% ci",
        "limit"
    );
    for (_, seed, row) in results {
        match row {
            Ok(r) => println!("{}", line(r)),
            Err(e) => println!("{:<7} {:<34} {seed:>4} error: {e}", "?", ""),
        }
    }
}

fn line(r: &Row) -> String {
    let t = &r.theory;
    let mut params = format!(
        "rho {:.2}, lambda {}/s, S {} ms",
        t.rho(),
        t.lambda,
        t.s * 1000.0
    );
    if let scalelab_sim::scenario::Service::Lognormal { cv } = t.service {
        params.push_str(&format!(", cv {cv}"));
    }
    let (sim, theory) = match r.measure {
        Measure::Response => (
            format!("W {:.2} ms", r.simulated * 1e3),
            format!("{:.2} ms", r.expected * 1e3),
        ),
        Measure::Wait => (
            format!("Wq {:.2} ms", r.simulated * 1e3),
            format!("{:.2} ms", r.expected * 1e3),
        ),
        Measure::Little => (
            format!("L {:.4}", r.simulated),
            format!("lW {:.4}", r.expected),
        ),
    };
    format!(
        "{:<7} {:<34} {:>4} {:>9} {:>12} {:>11} {:>+7.2}% {:>7.2}% {:>5.0}%  {}",
        r.model,
        params,
        r.seed,
        crate::format::thousands(r.arrivals),
        sim,
        theory,
        r.error * 100.0,
        r.half_width * 100.0,
        r.limit * 100.0,
        if r.passed() { "PASS" } else { "FAIL" }
    )
}
