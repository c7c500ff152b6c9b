//! Launching runs: each on a fresh OS thread with its own madsim `Runtime`, seeded with the
//! run's seed and configured from the scenario (std's hash maps are seeded per thread, and a
//! madsim runtime must not share its thread with another run); several designs at once, with
//! their progress readable from another thread.
//!
//! Must not: read the wall clock inside a run (here it only paces the `watch` callback).

use std::sync::Arc;

use madsim::runtime::Runtime;

use crate::deployment::design::Design;
use crate::harness::report::Report;
use crate::harness::run::{config, simulate, Progress, RunOptions};
use crate::scenario::Scenario;

/// Why a run did not produce a report.
#[derive(Debug)]
pub enum RunError {
    /// The simulation panicked: a bug in scalelab. The message and the seed reproduce it.
    Panicked { seed: u64, message: String },
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Panicked { seed, message } => {
                write!(f, "the simulation panicked (seed {seed}): {message}")
            }
        }
    }
}

impl std::error::Error for RunError {}

/// Runs `design` on `scenario` with `seed` on a fresh OS thread (std's hash maps are seeded
/// per thread, and madsim's runtime must not share a thread with another run).
pub fn run(
    scenario: &Scenario,
    design: Design,
    seed: u64,
    progress: Option<Arc<Progress>>,
) -> Result<Report, RunError> {
    run_with(scenario, design, seed, progress, RunOptions::default())
}

/// [`run`] with commands to apply during the run.
pub fn run_with(
    scenario: &Scenario,
    design: Design,
    seed: u64,
    progress: Option<Arc<Progress>>,
    options: RunOptions,
) -> Result<Report, RunError> {
    let scenario = Arc::new(scenario.clone());
    std::thread::Builder::new()
        .name(format!("sim-{}-seed-{seed}", design.name()))
        .spawn(move || {
            let rt = Runtime::with_seed_and_config(seed, config(&scenario));
            rt.block_on(simulate(scenario, design, progress, options))
        })
        .map_err(|e| RunError::Panicked {
            seed,
            message: format!("could not start the simulation thread: {e}"),
        })?
        .join()
        .map_err(|panic| RunError::Panicked {
            seed,
            message: panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "unknown panic".into()),
        })
}

/// Runs several designs of `scenario` with the same `seed` at once, each on its own thread
/// (via [`run`]), and calls `watch` about every 20 ms of wall time until all have finished, so
/// a caller can show or time their `progress` (one per design). Reports come back in the
/// order of `designs`.
pub fn run_designs(
    scenario: &Scenario,
    designs: &[Design],
    seed: u64,
    progress: &[Arc<Progress>],
    watch: impl FnMut(),
) -> Vec<Result<Report, RunError>> {
    let options = designs.iter().map(|_| RunOptions::default()).collect();
    run_designs_with(scenario, designs, seed, progress, options, watch)
}

/// [`run_designs`] with each design's options (in the order of `designs`).
pub fn run_designs_with(
    scenario: &Scenario,
    designs: &[Design],
    seed: u64,
    progress: &[Arc<Progress>],
    options: Vec<RunOptions>,
    mut watch: impl FnMut(),
) -> Vec<Result<Report, RunError>> {
    let mut options = options.into_iter();
    std::thread::scope(|scope| {
        let handles: Vec<_> = designs
            .iter()
            .enumerate()
            .map(|(i, &design)| {
                let p = progress.get(i).cloned();
                let o = options.next().unwrap_or_default();
                scope.spawn(move || run_with(scenario, design, seed, p, o))
            })
            .collect();
        while handles.iter().any(|h| !h.is_finished()) {
            std::thread::sleep(std::time::Duration::from_millis(20));
            watch();
        }
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(RunError::Panicked {
                        seed,
                        message: "a simulation thread died".into(),
                    })
                })
            })
            .collect()
    })
}
