//! `scalelab bench --demo`: how smoothly the live view runs on this machine. The real app and
//! frame loop, all four designs live, drawn through crossterm at 120x40 into a sink instead
//! of a terminal (the terminal emulator's own work is another process's).
//!
//! Reports, as medians over runs: frames per second, the time to draw one frame, the CPU
//! share of one core the UI thread used (read from Linux's per-thread schedstat: drawing,
//! taking in frames, pacing), and the virtual speed the designs achieved meanwhile. Must not:
//! assert anything; it prints figures.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

use super::app::{App, Setup};
use super::pace::Speed;
use crate::bench::median;

pub struct Options {
    pub scenario: Option<std::path::PathBuf>,
    pub speed: Speed,
    pub fps: u32,
    /// Wall seconds measured per run.
    pub seconds: f64,
    /// Virtual second to start measuring at (reached at full speed, unmeasured).
    pub from_s: f64,
    pub runs: u64,
}

/// CPU time this thread has used, in ns (Linux: /proc/thread-self/schedstat).
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

struct Run {
    fps: f64,
    draw_ms_median: f64,
    draw_ms_p99: f64,
    cpu_share: Option<f64>,
    achieved: f64,
}

pub fn main(o: Options) -> ExitCode {
    let (scenario, text, path) = match super::load(o.scenario.as_ref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let build = if cfg!(debug_assertions) {
        "debug build (figures not comparable)"
    } else {
        "release build"
    };
    println!(
        "scalelab bench --demo · {} from {:.0} s virtual · {} · fps cap {} · 120x40 · {:.0} s per run · medians of {} · {build}",
        scenario.name, o.from_s, o.speed, o.fps, o.seconds, o.runs
    );
    let mut runs = Vec::new();
    for seed in 1..=o.runs.max(1) {
        let mut app = App::start(Setup {
            scenario: scenario.clone(),
            scenario_text: text.clone(),
            scenario_path: path.clone(),
            seed,
            speed: Speed::Max,
            paused: false,
            repro_dir: std::env::temp_dir(),
        });
        // Get to the window to measure, unmeasured and undrawn.
        let ticks = (o.from_s / app.interval_s()).floor() as u64;
        while app.completed() < ticks && !app.finished() {
            app.pump(Instant::now());
            std::thread::sleep(Duration::from_millis(5));
        }
        app.pacer.set_speed(o.speed);
        let backend = CrosstermBackend::new(std::io::sink());
        let mut terminal = match Terminal::with_options(
            backend,
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, 120, 40)),
            },
        ) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: could not set up the terminal: {e}");
                return ExitCode::from(crate::EXIT_INTERNAL);
            }
        };
        let ticks_before = app.completed();
        let cpu_before = thread_cpu_ns();
        let started = Instant::now();
        let stats = super::drive(
            &mut terminal,
            &mut app,
            o.fps,
            Some(started + Duration::from_secs_f64(o.seconds)),
            |timeout| {
                std::thread::sleep(timeout);
                Ok(None)
            },
        );
        let wall = started.elapsed().as_secs_f64();
        let cpu_after = thread_cpu_ns();
        let stats = match stats {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: drawing failed: {e}");
                return ExitCode::from(crate::EXIT_INTERNAL);
            }
        };
        let achieved = (app.completed() - ticks_before) as f64 * app.interval_s() / wall.max(1e-9);
        let mut draws: Vec<f64> = stats.draw_ns.iter().map(|n| *n as f64 / 1e6).collect();
        draws.sort_by(f64::total_cmp);
        let p99 = draws
            .get(((draws.len() as f64 * 0.99) as usize).min(draws.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN);
        let run = Run {
            fps: stats.frames as f64 / wall,
            draw_ms_median: median(draws.clone()),
            draw_ms_p99: p99,
            cpu_share: cpu_before
                .zip(cpu_after)
                .map(|(a, b)| (b - a) as f64 / 1e9 / wall),
            achieved,
        };
        println!(
            "  seed {seed}: {:.1} fps · draw {:.2} ms median, {:.2} ms p99 · UI thread {} of a core · designs at {:.1}x",
            run.fps,
            run.draw_ms_median,
            run.draw_ms_p99,
            run.cpu_share
                .map_or("?".into(), |c| format!("{:.1}%", c * 100.0)),
            run.achieved
        );
        runs.push(run);
        drop(app.stop());
    }
    let cpu: Vec<f64> = runs.iter().filter_map(|r| r.cpu_share).collect();
    println!(
        "median: {:.1} fps (aim >= 30) · draw {:.2} ms · p99 {:.2} ms · UI thread {} of a core (aim < 20%) · designs at {:.1}x (asked {})",
        median(runs.iter().map(|r| r.fps).collect()),
        median(runs.iter().map(|r| r.draw_ms_median).collect()),
        median(runs.iter().map(|r| r.draw_ms_p99).collect()),
        if cpu.is_empty() {
            "? (no /proc/thread-self/schedstat)".to_owned()
        } else {
            format!("{:.1}%", median(cpu) * 100.0)
        },
        median(runs.iter().map(|r| r.achieved).collect()),
        o.speed
    );
    ExitCode::SUCCESS
}
