//! `scalelab`: the command line of the lab.
//!
//! Owns argument parsing, loading scenarios and reporting their errors, progress on a terminal,
//! printing results, and exit codes. Must not: hold simulation logic; it calls
//! `scalelab_sim` and formats what comes back.
//!
//! Exit codes: 0 every check held; 1 a checker found a violation; 2 bad input (flags,
//! scenario or repro file); 3 the simulator failed; 4 a replay diverged from its repro.
//! `lesson check` uses the same numbers: 0 passed, 1 a target missed, 2 the answer cannot be
//! judged.
//!
//! Two worlds: everything in this file is the sim world's command line (`--cfg madsim`); the
//! real world's (`scalelab serve`, built by `cargo xtask serve`) is in `serve.rs`.

#[cfg(madsim)]
mod bench;
#[cfg(madsim)]
mod bench_against;
#[cfg(madsim)]
mod compare;
#[cfg(madsim)]
mod demo;
#[cfg(madsim)]
mod format;
#[cfg(madsim)]
mod hunt;
#[cfg(madsim)]
mod hunt_fleet;
#[cfg(madsim)]
mod hunt_report;
#[cfg(madsim)]
mod lesson;
#[cfg(madsim)]
mod out;
#[cfg(madsim)]
mod repro;
#[cfg(madsim)]
mod scenario_file;
#[cfg(not(madsim))]
mod serve;
#[cfg(madsim)]
mod shrink;
#[cfg(madsim)]
mod suggest;
#[cfg(madsim)]
mod summary;
#[cfg(madsim)]
mod threshold;
#[cfg(madsim)]
mod validate;

#[cfg(madsim)]
use std::io::IsTerminal;
#[cfg(madsim)]
use std::path::PathBuf;
use std::process::ExitCode;
#[cfg(madsim)]
use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(madsim)]
use std::sync::Arc;
#[cfg(madsim)]
use std::time::{Duration, Instant};

#[cfg(madsim)]
use clap::{Parser, Subcommand};
#[cfg(madsim)]
use serde::Serialize;

// A simulated shop allocates on every message, timer and task; the system allocator's malloc
// and free were 15% of a black-friday run, mimalloc's about half that. The choice of
// allocator cannot change a run: nothing in the simulator depends on addresses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(madsim)]
#[derive(Parser)]
#[command(
    name = "scalelab",
    version,
    about = "A deterministic lab for scaling a web shop"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[cfg(madsim)]
#[derive(Subcommand)]
enum Command {
    /// Run a scenario headless and print a summary, its seed and its trace hash.
    Run {
        /// The scenario file (TOML), e.g. scenarios/flash-sale.toml.
        scenario: PathBuf,
        /// The seed; the same scenario and seed give the same run. Picked at random if absent.
        #[arg(long, env = "SCALELAB_SEED")]
        seed: Option<u64>,
        /// Print the whole report (with the time series) as JSON instead of the summary.
        #[arg(long)]
        json: bool,
        /// Which designs to run, comma-separated; all of them if absent. Each runs on its own
        /// thread, on the same seeded traffic.
        #[arg(long, value_delimiter = ',', value_parser = parse_design)]
        design: Vec<scalelab_sim::Design>,
        /// Save a repro file of this run (to PATH, or to scalelab-repros/ by default). A run
        /// with a violation saves one anyway.
        #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "")]
        save_repro: Option<PathBuf>,
        /// Also write the run's files into DIR: report.html (summary, checks, charts),
        /// one SVG per chart, report.json, DESIGN.jtl (JMeter), DESIGN.hgrm (HdrHistogram)
        /// and trace.json (Perfetto).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// With --out: at most this many rows in each DESIGN.jtl; past it, an even sample of
        /// the requests (between half this and this many). Every request if absent.
        #[arg(long, value_name = "N", requires = "out", value_parser = clap::value_parser!(u64).range(2..))]
        jtl_max_rows: Option<u64>,
    },
    /// Watch the four designs live, side by side, and inject faults with keys (`?` in the
    /// view lists them). Needs a terminal of at least 80x24.
    Demo(demo::Args),
    /// Run a repro file again and check that every design reproduces its trace hash.
    Replay {
        /// A repro file written by `run`, `hunt` or `demo` (its `s` key).
        repro: PathBuf,
        /// Also write the replayed run's files into DIR, as `run --out` does.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// With --out: at most this many rows in each DESIGN.jtl (every request if absent).
        #[arg(long, value_name = "N", requires = "out", value_parser = clap::value_parser!(u64).range(2..))]
        jtl_max_rows: Option<u64>,
    },
    /// Run a scenario with many seeds and report which invariants broke, and where.
    /// `hunt report` reads back what slices recorded with --results.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Hunt {
        #[command(subcommand)]
        report: Option<HuntCommand>,
        /// The scenario file (TOML), e.g. scenarios/swarm.toml.
        #[arg(required = true)]
        scenario: Option<PathBuf>,
        /// The seeds, as A..B (B excluded), e.g. 0..200.
        #[arg(long, required = true, value_parser = hunt::parse_seeds)]
        seeds: Option<std::ops::Range<u64>>,
        /// Run only the I-th of N equal slices of the seeds, counting from 0 (e.g. 0/4, or
        /// $(JOB_COMPLETION_INDEX)/4 in a Kubernetes Indexed Job).
        #[arg(long, value_name = "I/N", value_parser = hunt_fleet::Shard::parse)]
        shard: Option<hunt_fleet::Shard>,
        /// Record each seed's outcome in a PostgreSQL table (postgres://user@host:port/db),
        /// once per scenario, build, seed and design, so that slices and reruns add up.
        #[arg(
            long,
            value_name = "URL",
            env = "SCALELAB_RESULTS_URL",
            hide_env_values = true
        )]
        results: Option<String>,
        /// Seeds run at once, each on fresh threads (default: the machine's cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Which designs to run per seed, comma-separated; all of them if absent.
        #[arg(long, value_delimiter = ',', value_parser = parse_design)]
        design: Vec<scalelab_sim::Design>,
        /// Where to write a repro file for each failing seed.
        #[arg(long, default_value = "scalelab-repros")]
        out: PathBuf,
        /// Shrink every failing seed too, and save its smallest repro beside the seed's
        /// (`NAME-seed-N-shrunk.toml`).
        #[arg(long)]
        shrink: bool,
        /// With --shrink: at most this many runs per failing seed.
        #[arg(long, default_value_t = shrink::DEFAULT_BUDGET)]
        budget: usize,
    },
    /// Cut a failing repro down to the smallest run that still breaks the same invariant:
    /// fewer and shorter faults, a shorter run, less traffic, a smaller shop, one design.
    Shrink {
        /// A repro file that breaks an invariant (from `run`, `hunt` or `demo`).
        repro: PathBuf,
        /// The invariant to keep broken (default: the first one the repro breaks).
        #[arg(long)]
        invariant: Option<String>,
        /// At most this many runs (each a deterministic run of one design).
        #[arg(long, default_value_t = shrink::DEFAULT_BUDGET)]
        budget: usize,
        /// Where to write the smallest repro (default: beside REPRO, as NAME-shrunk.toml).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Measure the simulator itself: simulated requests per wall second, real-time factor,
    /// cost of a request against a bare simulated TCP round trip, memory against run length.
    Bench {
        /// Fewer and shorter runs (a smoke test of the benchmark, not figures to report).
        #[arg(long)]
        quick: bool,
        /// Instead: run every design on this scenario at once, as `run` does, and report the
        /// real-time factor overall and through the peak window.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Start of the peak window, in virtual seconds.
        #[arg(long, default_value_t = 0.0)]
        peak_from_s: f64,
        /// End of the peak window, in virtual seconds (default: the end of the run).
        #[arg(long)]
        peak_to_s: Option<f64>,
        /// Runs to take the median of, with the scenario.
        #[arg(long, default_value_t = 3)]
        runs: u64,
        /// Instead: the live view's frame rate and CPU share, with all four designs running
        /// at `--speed` from `--peak-from-s` (the scenario: --scenario, or black-friday).
        #[arg(long)]
        demo: bool,
        /// The live view's speed, with --demo.
        #[arg(long, default_value = "10x", value_parser = demo::pace::Speed::parse)]
        speed: demo::pace::Speed,
        /// Frames per second at most, with --demo.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=240))]
        fps: u32,
        /// Wall seconds measured per run, with --demo.
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        /// Instead: this build beside another `scalelab` binary (say the previous release,
        /// built into another folder), each figure measured in both, alternating, as ratios:
        /// each design alone, the four at once, black-friday's peak and events per request,
        /// the 200-seed hunt, peak memory. Run it from the repository's root.
        #[arg(long, value_name = "OTHER_SCALELAB")]
        against: Option<PathBuf>,
        /// Rounds to take the median of, with --against.
        #[arg(long, default_value_t = 3)]
        rounds: u64,
    },
    /// Compare two runs design by design (their `run --json` output, or `run --out`
    /// folders), with each difference and its direction; exit 1 if a threshold is broken.
    Compare {
        /// The first run (the baseline): a JSON report or an --out folder.
        a: PathBuf,
        /// The second run, which thresholds judge.
        b: PathBuf,
        /// k6-style: `p99<800ms`, `availability>99.9%`, `errors<1%`, `sharded:p99<800ms`;
        /// may be repeated.
        #[arg(long, value_name = "EXPR")]
        threshold: Vec<String>,
    },
    /// Hold the simulator to queueing theory: M/M/1 (rho 0.5, 0.7, 0.9), M/M/c (Erlang C),
    /// M/D/1 (Pollaczek-Khinchine) and Little's law, each a scenario in scenarios/validate/,
    /// on named seeds; prints simulated against theory and exits 1 if any is off by more
    /// than its limit (5%; 3% for M/M/1).
    Validate {
        /// Only the cases whose runs are short (M/M/1 at rho 0.5, M/D/1, Little's law), on
        /// seed 1 (for CI: under a minute).
        #[arg(long)]
        quick: bool,
        /// The seeds, as A..B (B excluded); the named seeds 1, 2, 3 if absent (1 with --quick).
        #[arg(long, value_parser = hunt::parse_seeds)]
        seeds: Option<std::ops::Range<u64>>,
        /// Runs at once, each on its own thread (default: the machine's cores).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// The course: ten lessons with graded exercises (`scalelab lesson list` to begin).
    Lesson(lesson::Args),
    /// Serve the shop for real: only in the real-world build (`cargo xtask serve`).
    #[command(disable_help_flag = true)]
    Serve {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[cfg(madsim)]
#[derive(Subcommand)]
enum HuntCommand {
    /// Print the failures recorded by every slice of a hunt (--results), grouped by invariant
    /// and design, with the distinct seeds and the seeds per minute of the whole.
    Report(hunt_report::Args),
}

#[cfg(madsim)]
pub const EXIT_VIOLATION: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;
pub const EXIT_INTERNAL: u8 = 3;
#[cfg(madsim)]
pub const EXIT_DIVERGED: u8 = 4;

#[cfg(not(madsim))]
fn main() -> ExitCode {
    serve::main()
}

#[cfg(madsim)]
fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            scenario,
            seed,
            json,
            design,
            save_repro,
            out,
            jtl_max_rows,
        } => run(
            scenario,
            seed,
            json,
            design,
            save_repro,
            out.map(|dir| OutRequest::new(dir, jtl_max_rows)),
        ),
        Command::Replay {
            repro,
            out,
            jtl_max_rows,
        } => replay(&repro, out.map(|dir| OutRequest::new(dir, jtl_max_rows))),
        Command::Demo(args) => demo::main(args),
        Command::Lesson(args) => lesson::main(args),
        Command::Compare { a, b, threshold } => compare::main(&a, &b, &threshold),
        Command::Validate { quick, seeds, jobs } => validate::main(quick, seeds, jobs),
        Command::Hunt {
            report: Some(HuntCommand::Report(args)),
            ..
        } => hunt_report::main(&args),
        Command::Hunt {
            report: None,
            scenario: Some(scenario),
            seeds: Some(seeds),
            jobs,
            design,
            out,
            shrink,
            budget,
            shard,
            results,
        } => {
            let fleet = hunt_fleet::Fleet {
                shard: shard.unwrap_or(hunt_fleet::Shard::WHOLE),
                // An empty SCALELAB_RESULTS_URL is an unset one.
                results: results.filter(|url| !url.is_empty()),
            };
            hunt::main(
                &scenario,
                seeds,
                jobs,
                design,
                &out,
                shrink.then_some(budget),
                &fleet,
            )
        }
        Command::Hunt { .. } => {
            // clap requires both without a subcommand; kept for the compiler.
            eprintln!("error: hunt needs a scenario and --seeds A..B");
            ExitCode::from(EXIT_BAD_INPUT)
        }
        Command::Shrink {
            repro,
            invariant,
            budget,
            out,
        } => shrink::main(&repro, invariant.as_deref(), budget, out),
        Command::Bench {
            against: Some(other),
            rounds,
            quick,
            ..
        } => bench_against::main(&other, rounds, quick),
        Command::Bench {
            demo: true,
            scenario,
            peak_from_s,
            runs,
            speed,
            fps,
            seconds,
            ..
        } => demo::bench::main(demo::bench::Options {
            scenario,
            speed,
            fps,
            seconds,
            from_s: peak_from_s,
            runs,
        }),
        Command::Bench {
            quick,
            scenario: None,
            ..
        } => bench::main(quick),
        Command::Bench {
            scenario: Some(path),
            peak_from_s,
            peak_to_s,
            runs,
            ..
        } => bench::designs_together(&path, peak_from_s, peak_to_s, runs),
        Command::Serve { args } => {
            eprintln!(
                "error: `scalelab serve` runs the shop on real sockets and services, which only \
                 the real-world build has (this is the simulator's build).\n\
                 Use: cargo xtask serve -- {}",
                args.join(" ")
            );
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

#[cfg(madsim)]
fn parse_design(s: &str) -> Result<scalelab_sim::Design, String> {
    scalelab_sim::Design::parse(s).ok_or_else(|| {
        let names: Vec<&str> = scalelab_sim::Design::ALL.iter().map(|d| d.name()).collect();
        format!(
            "no design named '{s}'; the designs are {}",
            names.join(", ")
        )
    })
}

#[cfg(madsim)]
/// A seed for a run that was given none: from the clock and the process id, outside any
/// simulation. It is printed, so the run can be repeated.
fn pick_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mixed = (nanos ^ (u64::from(std::process::id()) << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // Keep seeds short enough to type.
    mixed % 1_000_000
}

#[cfg(madsim)]
/// Peak resident memory of this process in KiB (Linux), to show that memory stays bounded.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(madsim)]
#[derive(Serialize)]
struct WallFigures {
    seconds: f64,
    real_time_factor: f64,
    simulated_requests_per_s: f64,
    peak_rss_kib: Option<u64>,
}

/// The version of the JSON report's layout (`run --json`, report.json), described by
/// tui/schema/report.schema.json. Raised when a field changes meaning or goes away; new fields
/// do not raise it.
#[cfg(madsim)]
pub const SCHEMA_VERSION: u32 = 2;

#[cfg(madsim)]
#[derive(Serialize)]
struct JsonOutput<'a> {
    schema_version: u32,
    scenario: &'a str,
    seed: u64,
    /// One report per design, in the order of `--design` (or of the simulator's list).
    designs: &'a [scalelab_sim::Report],
    /// Measured on the wall clock: varies from run to run, unlike everything above.
    wall: WallFigures,
}

/// Simulated requests one design gets through per second of wall time on one core (flash-sale
/// seed 42: 17,124 per second for four designs sharing two cores), for the estimate below.
#[cfg(madsim)]
const REQUESTS_PER_CORE_S: f64 = 8_500.0;

/// Says before it starts that a run will take more than an hour, with the estimate, so that
/// nobody waits for hours on a typo.
#[cfg(madsim)]
fn warn_if_long(scenario: &scalelab_sim::Scenario, designs: usize) {
    let requests = scalelab_sim::expected_requests(scenario) * designs as f64;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let wall_s = requests / (REQUESTS_PER_CORE_S * designs.min(cores).max(1) as f64);
    if wall_s > 3600.0 {
        eprintln!(
            "note: this run is estimated to take about {:.1} hours of wall time ({:.0} million \
             simulated requests over {designs} design(s), at about {REQUESTS_PER_CORE_S} per \
             second per core on {cores} core(s)); Ctrl-C stops it",
            wall_s / 3600.0,
            requests / 1e6
        );
    }
}

#[cfg(madsim)]
fn run(
    path: PathBuf,
    seed: Option<u64>,
    json: bool,
    mut designs: Vec<scalelab_sim::Design>,
    save_repro: Option<PathBuf>,
    out: Option<OutRequest>,
) -> ExitCode {
    if let Some(Err(code)) = out.as_ref().map(OutRequest::prepare) {
        return code;
    }
    let scenario = match scenario_file::load(&path) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{}", e.render(std::io::stderr().is_terminal()));
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    if designs.is_empty() {
        designs = scalelab_sim::Design::ALL.to_vec();
    }
    designs.dedup();
    warn_if_long(&scenario, designs.len());
    let seed_picked = seed.is_none();
    let seed = seed.unwrap_or_else(pick_seed);
    if !json {
        let names: Vec<&str> = designs.iter().map(|d| d.name()).collect();
        eprintln!(
            "running {} with seed {seed}: {} ...",
            path.display(),
            names.join(", ")
        );
    }

    let progress: Vec<Arc<scalelab_sim::Progress>> =
        designs.iter().map(|_| Arc::default()).collect();
    let done = Arc::new(AtomicBool::new(false));
    let show_progress = !json && std::io::stderr().is_terminal();
    let ticker = show_progress.then(|| {
        let (progress, done) = (progress.clone(), done.clone());
        let total_s = scenario.duration_s();
        std::thread::spawn(move || progress_line(&progress, &done, total_s))
    });

    // Every design on its own thread, all on the same seed.
    let started = Instant::now();
    // With --out, each run keeps its requests for the files (see `RunOptions::request_log`).
    let options = designs
        .iter()
        .map(|_| scalelab_sim::RunOptions {
            request_log: out.as_ref().map(|o| o.rows),
            ..Default::default()
        })
        .collect();
    let results =
        scalelab_sim::run_designs_with(&scenario, &designs, seed, &progress, options, || {});
    let wall_s = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    if let Some(t) = ticker {
        let _ = t.join();
    }

    let reports = match all_reports(results, seed) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let requests: u64 = reports.iter().map(|r| r.requests).sum();
    let as_json = match (json || out.is_some())
        .then(|| json_report(&scenario, seed, &reports, wall_s))
        .transpose()
    {
        Ok(text) => text.unwrap_or_default(),
        Err(code) => return code,
    };
    if json {
        println!("{as_json}");
    } else {
        let wall = summary::Wall {
            seconds: wall_s,
            requests,
        };
        let shown = path.display().to_string();
        let text = match &reports[..] {
            [one] => summary::render(one, &wall, seed_picked, &shown),
            many => summary::render_side_by_side(many, &wall, seed_picked, &shown),
        };
        print!("{text}");
        print!("{}", summary::render_faults_and_checks(&reports));
    }
    if let Some(o) = &out {
        let info = out::RunInfo {
            scenario: &scenario.name,
            description: &scenario.description,
            seed,
            command: format!("scalelab run {} --seed {seed}", path.display()),
        };
        if let Err(code) = o.write(&info, &reports, &as_json) {
            return code;
        }
    }
    let violated = reports.iter().any(|r| r.violated());
    if violated || save_repro.is_some() {
        let target = match save_repro {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => repro::default_path(&scenario.name, seed),
        };
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        match repro::save(&target, &text, &path.display().to_string(), &reports) {
            Ok(()) => eprintln!(
                "repro saved: {} (replay it with: scalelab replay {})",
                target.display(),
                target.display()
            ),
            Err(e) => eprintln!(
                "error: could not save the repro to {}: {e}",
                target.display()
            ),
        }
    }
    if violated {
        ExitCode::from(EXIT_VIOLATION)
    } else {
        ExitCode::SUCCESS
    }
}

/// What `run --out` asked for: the folder, and the most rows of each design's JTL file.
#[cfg(madsim)]
pub(crate) struct OutRequest {
    dir: PathBuf,
    rows: usize,
}

#[cfg(madsim)]
impl OutRequest {
    fn new(dir: PathBuf, jtl_max_rows: Option<u64>) -> OutRequest {
        let rows = jtl_max_rows.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        OutRequest { dir, rows }
    }

    /// Makes the folder now, so that one that cannot be made says so before a long run.
    fn prepare(&self) -> Result<(), ExitCode> {
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            eprintln!(
                "error: --out {}: cannot create the folder: {e}",
                self.dir.display()
            );
            ExitCode::from(EXIT_BAD_INPUT)
        })
    }

    /// Writes the run's files (`out::write_all`) and says where; `json` is the JSON report.
    fn write(
        &self,
        info: &out::RunInfo<'_>,
        reports: &[scalelab_sim::Report],
        json: &str,
    ) -> Result<(), ExitCode> {
        let writing = Instant::now();
        match out::write_all(&self.dir, info, reports, json) {
            Ok(files) => {
                eprintln!(
                    "wrote {} files to {} in {:.1} s (open {})",
                    files.len(),
                    self.dir.display(),
                    writing.elapsed().as_secs_f64(),
                    self.dir.join("report.html").display()
                );
                Ok(())
            }
            Err(e) => {
                eprintln!("error: --out: {e}");
                Err(ExitCode::from(EXIT_BAD_INPUT))
            }
        }
    }
}

/// The JSON report of a run (`run --json`, report.json).
#[cfg(madsim)]
fn json_report(
    scenario: &scalelab_sim::Scenario,
    seed: u64,
    reports: &[scalelab_sim::Report],
    wall_s: f64,
) -> Result<String, ExitCode> {
    let requests: u64 = reports.iter().map(|r| r.requests).sum();
    serde_json::to_string_pretty(&JsonOutput {
        schema_version: SCHEMA_VERSION,
        scenario: &scenario.name,
        seed,
        designs: reports,
        wall: WallFigures {
            seconds: wall_s,
            real_time_factor: scenario.duration_s() / wall_s.max(1e-9),
            simulated_requests_per_s: requests as f64 / wall_s.max(1e-9),
            peak_rss_kib: peak_rss_kib(),
        },
    })
    .map_err(|e| {
        eprintln!("error: could not write the report as JSON: {e}");
        ExitCode::from(EXIT_INTERNAL)
    })
}

/// Every design's report, or (having said why) the exit code of a simulator that failed.
#[cfg(madsim)]
fn all_reports(
    results: Vec<Result<scalelab_sim::Report, scalelab_sim::RunError>>,
    seed: u64,
) -> Result<Vec<scalelab_sim::Report>, ExitCode> {
    results
        .into_iter()
        .map(|r| {
            r.map_err(|e| {
                eprintln!("error: {e}");
                eprintln!("this is a bug in scalelab; rerun with --seed {seed} to reproduce it");
                ExitCode::from(EXIT_INTERNAL)
            })
        })
        .collect()
}

/// Runs what a repro holds again: its designs on its scenario and seed, with its commands at
/// their ticks, for its ticks (or to the end).
#[cfg(all(madsim, test))]
fn rerun(repro: &repro::Repro) -> Vec<Result<scalelab_sim::Report, scalelab_sim::RunError>> {
    rerun_keeping(repro, None)
}

/// [`rerun`], keeping at most `request_log` requests per design for `--out`.
#[cfg(madsim)]
fn rerun_keeping(
    repro: &repro::Repro,
    request_log: Option<usize>,
) -> Vec<Result<scalelab_sim::Report, scalelab_sim::RunError>> {
    let options = repro
        .designs
        .iter()
        .map(|_| scalelab_sim::RunOptions {
            commands: repro.commands.clone(),
            ticks: repro.ticks,
            request_log,
            ..Default::default()
        })
        .collect();
    scalelab_sim::run_designs_with(
        &repro.scenario,
        &repro.designs,
        repro.seed,
        &[],
        options,
        || {},
    )
}

/// Runs a repro again and compares every design's trace with the recorded one.
#[cfg(madsim)]
fn replay(path: &std::path::Path, out: Option<OutRequest>) -> ExitCode {
    if let Some(Err(code)) = out.as_ref().map(OutRequest::prepare) {
        return code;
    }
    let repro = match repro::load(path) {
        Ok(r) => r,
        Err(e) => {
            eprint!("{}", e.render(std::io::stderr().is_terminal()));
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let names: Vec<&str> = repro.designs.iter().map(|d| d.name()).collect();
    if !repro.edited.is_empty() {
        eprintln!(
            "{} was edited after it was saved: {} (its checksums differ); replaying it as it is now",
            path.display(),
            repro.edited.join(", ")
        );
    }
    eprintln!(
        "replaying {} (seed {}, {} command(s){}): {} ...",
        path.display(),
        repro.seed,
        repro.commands.len(),
        repro
            .ticks
            .map_or(String::new(), |n| format!(", the first {n} ticks")),
        names.join(", ")
    );
    if !repro.markers.is_empty() {
        let interval = repro.scenario.metrics.interval_s.0;
        let marks: Vec<String> = repro
            .markers
            .iter()
            .map(|m| {
                format!(
                    "{} at {} (tick {})",
                    m.label,
                    demo::app::clock(m.tick as f64 * interval),
                    m.tick
                )
            })
            .collect();
        eprintln!("markers set in the live session: {}", marks.join(", "));
    }
    let started = Instant::now();
    let results = rerun_keeping(&repro, out.as_ref().map(|o| o.rows));
    let wall_s = started.elapsed().as_secs_f64();
    let reports = match all_reports(results, repro.seed) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if let Some(o) = &out {
        let info = out::RunInfo {
            scenario: &repro.scenario.name,
            description: &repro.scenario.description,
            seed: repro.seed,
            command: format!("scalelab replay {}", path.display()),
        };
        let written = json_report(&repro.scenario, repro.seed, &reports, wall_s)
            .and_then(|json| o.write(&info, &reports, &json));
        if let Err(code) = written {
            return code;
        }
    }
    let interval = repro.scenario.metrics.interval_s.0;
    let mut diverged = false;
    for r in &reports {
        let Some(expected) = repro.expected.iter().find(|e| e.design == r.design) else {
            continue;
        };
        match repro::compare(expected, r) {
            repro::Verdict::Same => println!("{:<11} same trace {}", r.design, r.trace_hash),
            repro::Verdict::Diverged {
                tick,
                expected,
                got,
            } => {
                diverged = true;
                println!(
                    "{:<11} DIVERGED: first in tick {tick} ({:.1}-{:.1} s virtual): expected hash {expected}, got {got}; whole run: expected {}, got {}",
                    r.design,
                    tick as f64 * interval,
                    (tick + 1) as f64 * interval,
                    repro
                        .expected
                        .iter()
                        .find(|e| e.design == r.design)
                        .map_or("?", |e| e.trace_hash.as_str()),
                    r.trace_hash
                );
            }
        }
    }
    print!("{}", summary::render_faults_and_checks(&reports));
    if diverged && !repro.edited.is_empty() {
        eprintln!(
            "the replay diverged because the file was edited after it was saved ({}): the \
             expected hashes are those of the run before the edit",
            repro.edited.join(", ")
        );
        ExitCode::from(EXIT_DIVERGED)
    } else if diverged {
        eprintln!("the replay diverged: a different build, or a source of nondeterminism");
        ExitCode::from(EXIT_DIVERGED)
    } else if reports.iter().any(|r| r.violated()) {
        ExitCode::from(EXIT_VIOLATION)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(madsim)]
/// Shows virtual time done and speed on one terminal line, once a run has taken two seconds.
fn progress_line(progress: &[Arc<scalelab_sim::Progress>], done: &AtomicBool, total_s: f64) {
    let started = Instant::now();
    let mut shown = false;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        let wall = started.elapsed().as_secs_f64();
        if wall < 2.0 {
            continue;
        }
        // The slowest design sets the pace.
        let virtual_ms = progress
            .iter()
            .map(|p| p.virtual_ms.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0);
        let virtual_s = virtual_ms as f64 / 1000.0;
        let requests: u64 = progress
            .iter()
            .map(|p| p.requests.load(Ordering::Relaxed))
            .sum();
        eprint!(
            "\r  {virtual_s:>6.0} / {total_s:.0} s virtual · {:>5.1}x real time · {} requests   ",
            virtual_s / wall,
            format::thousands(requests)
        );
        shown = true;
    }
    if shown {
        eprint!("\r{:80}\r", "");
    }
}
