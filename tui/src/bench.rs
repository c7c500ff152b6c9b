//! `scalelab bench`: how fast the simulator runs, measured on this machine.
//!
//! Reports medians of several runs (the machine is shared and noisy), the cost of one simulated
//! HTTP request as a multiple of a bare simulated TCP round trip measured in the same process,
//! how cost grows with the size of the workload, and peak memory against the run's length
//! (each length in its own process, so that one run's peak cannot hide another's).
//!
//! Must not: assert anything. It prints figures; people and notes judge them.

use std::process::{Command, ExitCode};
use std::time::Instant;

use scalelab_sim::harness::bench::{flat_scenario, flat_text, tcp_ping_pong};

use crate::format::thousands;

/// Target of the issue: simulated HTTP requests per wall second on one core.
const TARGET_REQUESTS_PER_S: f64 = 25_000.0;

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

struct Size {
    rate: f64,
    requests: u64,
    wall_s: f64,
}

pub fn main(quick: bool) -> ExitCode {
    let runs = if quick { 1 } else { 5 };
    let (duration_s, round_trips) = if quick {
        (20.0, 2_000)
    } else {
        (120.0, 20_000)
    };
    let build = if cfg!(debug_assertions) {
        "debug build (figures not comparable)"
    } else {
        "release build"
    };
    println!("scalelab bench · medians of {runs} run(s) · {build} · each run on one thread\n");

    // 1. The floor: a bare TCP round trip in madsim.
    let rtt_ns = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let n = tcp_ping_pong(round_trips);
                t.elapsed().as_nanos() as f64 / n.max(1) as f64
            })
            .collect(),
    );
    println!(
        "bare simulated TCP round trip ({} round trips)     {:>10.0} ns",
        thousands(round_trips),
        rtt_ns
    );

    // 2. The naive design at two workload sizes (both under the server's capacity).
    let mut sizes = Vec::new();
    for rate in [60.0, 240.0] {
        let scenario = match flat_scenario(rate, duration_s) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: the benchmark scenario is invalid: {e}");
                return ExitCode::from(crate::EXIT_INTERNAL);
            }
        };
        let mut walls = Vec::new();
        let mut requests = 0;
        let mut engine = Default::default();
        for seed in 0..runs {
            let t = Instant::now();
            match scalelab_sim::run(
                &scenario,
                scalelab_sim::Design::Vertical,
                seed as u64 + 1,
                None,
            ) {
                Ok(r) => {
                    requests = r.requests;
                    engine = r.engine;
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(crate::EXIT_INTERNAL);
                }
            }
            walls.push(t.elapsed().as_secs_f64());
        }
        let wall_s = median(walls);
        let per_request_ns = wall_s * 1e9 / requests.max(1) as f64;
        println!(
            "naive design, {rate:>3.0} sessions/s x {duration_s:.0} s: {:>9} requests in {wall_s:.2} s · {:>7} simulated requests/s · {:>6.1}x real time · {:>6.0} ns/request = {:.1}x a TCP round trip",
            thousands(requests),
            thousands((requests as f64 / wall_s) as u64),
            duration_s / wall_s,
            per_request_ns,
            per_request_ns / rtt_ns
        );
        println!("    {}", per_request("naive", requests, &engine));
        sizes.push(Size {
            rate,
            requests,
            wall_s,
        });
    }
    if let [small, big] = &sizes[..] {
        println!(
            "cost growth: {:.2}x the requests took {:.2}x the wall time ({:.0} -> {:.0} sessions/s)",
            big.requests as f64 / small.requests.max(1) as f64,
            big.wall_s / small.wall_s,
            small.rate,
            big.rate
        );
        let best = sizes
            .iter()
            .map(|s| s.requests as f64 / s.wall_s)
            .fold(0.0, f64::max);
        println!(
            "target >= {} simulated requests/s: {} ({})",
            thousands(TARGET_REQUESTS_PER_S as u64),
            if best >= TARGET_REQUESTS_PER_S {
                "met"
            } else {
                "NOT met"
            },
            thousands(best as u64)
        );
    }

    // 3. Memory against run length, each in a fresh process.
    let lengths = if quick { [20.0, 80.0] } else { [120.0, 960.0] };
    let mut peaks = Vec::new();
    for length in lengths {
        match peak_rss_of_run(240.0, length) {
            Ok(kib) => peaks.push((length, kib)),
            Err(e) => {
                println!("peak memory: not measured ({e})");
                return ExitCode::SUCCESS;
            }
        }
    }
    if let [(l1, m1), (l2, m2)] = peaks[..] {
        println!(
            "peak memory, naive design, 240 sessions/s: {l1:.0} s run {:.1} MiB · {l2:.0} s run {:.1} MiB · {:.1}x the length, {:.2}x the memory",
            m1 as f64 / 1024.0,
            m2 as f64 / 1024.0,
            l2 / l1,
            m2 as f64 / m1.max(1) as f64
        );
    }
    ExitCode::SUCCESS
}

/// The simulator's events behind one request of a design, on average over a run's mix.
fn per_request(design: &str, requests: u64, e: &scalelab_sim::harness::report::Engine) -> String {
    let per = |n: u64| n as f64 / requests.max(1) as f64;
    format!(
        "{design:<10} per request: {:.1} simulator events = {:.1} messages + {:.1} timer events + {:.1} task runs",
        per(e.events()),
        per(e.messages),
        per(e.timers),
        per(e.polls)
    )
}

/// Runs `scalelab run` of the naive design on a flat scenario in a child process and reads
/// its peak RSS.
fn peak_rss_of_run(rate: f64, duration_s: f64) -> Result<u64, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let dir = std::env::temp_dir().join(format!("scalelab-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!("flat-{rate}-{duration_s}.toml"));
    let text = flat_text(rate, duration_s);
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let out = Command::new(exe)
        .args([
            "run",
            &path.to_string_lossy(),
            "--seed",
            "1",
            "--json",
            "--design",
            "vertical",
        ])
        .output()
        .map_err(|e| format!("cannot run the child: {e}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() {
        return Err(format!(
            "the child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("bad JSON from the child: {e}"))?;
    v["wall"]["peak_rss_kib"]
        .as_u64()
        .ok_or_else(|| "no peak_rss_kib (not Linux?)".into())
}

/// Every design on one scenario at once, as `scalelab run` does: the real-time factor over the
/// whole run and through the peak window, and simulated requests per wall second. The slowest
/// design sets the pace, so the window is timed on the smallest virtual time of the designs.
pub fn designs_together(
    path: &std::path::Path,
    from_s: f64,
    to_s: Option<f64>,
    runs: u64,
) -> ExitCode {
    let scenario = match crate::scenario_file::load(path) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{}", e.render(false));
            return ExitCode::from(crate::EXIT_BAD_INPUT);
        }
    };
    let to_s = to_s
        .unwrap_or(scenario.duration_s())
        .min(scenario.duration_s());
    if from_s.is_nan() || from_s >= to_s {
        eprintln!("error: the peak window {from_s}..{to_s} s is empty");
        return ExitCode::from(crate::EXIT_BAD_INPUT);
    }
    let designs = scalelab_sim::Design::ALL;
    println!(
        "scalelab bench · {} · {} designs at once · medians of {runs} run(s) · peak window {from_s:.0}-{to_s:.0} s",
        scenario.name,
        designs.len()
    );
    let (mut whole, mut peak, mut rps) = (Vec::new(), Vec::new(), Vec::new());
    for seed in 1..=runs.max(1) {
        let progress: Vec<std::sync::Arc<scalelab_sim::Progress>> =
            designs.iter().map(|_| Default::default()).collect();
        let started = Instant::now();
        let mut crossed: [Option<f64>; 2] = [None, None];
        let results = scalelab_sim::run_designs(&scenario, &designs, seed, &progress, || {
            let slowest_ms = progress
                .iter()
                .map(|p| p.virtual_ms.load(std::sync::atomic::Ordering::Relaxed))
                .min();
            let slowest_s = slowest_ms.unwrap_or(0) as f64 / 1000.0;
            for (slot, mark) in crossed.iter_mut().zip([from_s, to_s]) {
                if slot.is_none() && slowest_s >= mark {
                    *slot = Some(started.elapsed().as_secs_f64());
                }
            }
        });
        let wall = started.elapsed().as_secs_f64();
        let mut requests = 0;
        let mut engines = Vec::new();
        for r in results {
            match r {
                Ok(report) => {
                    requests += report.requests;
                    engines.push((report.design, report.requests, report.engine));
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(crate::EXIT_INTERNAL);
                }
            }
        }
        // A window starting at 0 starts with the run.
        let begin = if from_s <= 0.0 { Some(0.0) } else { crossed[0] };
        if let (Some(a), Some(b)) = (begin, crossed[1].or(Some(wall))) {
            peak.push((to_s - from_s) / (b - a).max(1e-9));
        }
        whole.push(scenario.duration_s() / wall);
        rps.push(requests as f64 / wall);
        println!(
            "  run {seed}: {wall:.1} s wall, {:.1}x real time overall, {:.1}x through the peak, {} simulated requests/s",
            scenario.duration_s() / wall,
            peak.last().copied().unwrap_or(f64::NAN),
            thousands((requests as f64 / wall) as u64)
        );
        // The counts are as deterministic as the run: one seed's are enough.
        if seed == 1 {
            for (design, requests, engine) in engines {
                println!("    {}", per_request(design, requests, &engine));
            }
        }
    }
    println!(
        "median: {:.1}x real time overall · {:.1}x through the peak · {} simulated requests/s (all designs together)",
        median(whole),
        median(peak),
        thousands(median(rps) as u64)
    );
    println!("(the peak is timed on the progress the designs report once per metrics interval)");
    ExitCode::SUCCESS
}
