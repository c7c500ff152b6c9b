//! `scalelab demo`: the live view. Four designs side by side under the same traffic, paced
//! against the wall clock, with keys that inject faults into all of them at once.
//!
//! Owns the terminal (raw mode and the alternate screen, restored on every way out: q, Esc,
//! Ctrl-C, an error, a panic) and the frame loop. The state is in `app`, drawing in `view`,
//! keys in `keymap`, pacing in `pace`. Must not: hold simulation logic (`scalelab_sim::live`
//! runs the designs).

pub mod app;
pub mod bench;
pub mod keymap;
pub mod pace;
pub mod view;

#[cfg(test)]
mod tests;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event};
use ratatui::backend::Backend;
use ratatui::Terminal;

use app::{App, Setup};
use pace::Speed;

/// The scenario the demo runs when given none: the case study, built into the binary so the
/// demo works from any directory.
pub const BLACK_FRIDAY: &str = include_str!("../../../scenarios/black-friday.toml");
const BLACK_FRIDAY_PATH: &str = "scenarios/black-friday.toml";

/// `scalelab demo`'s flags.
#[derive(clap::Args)]
pub struct Args {
    /// The scenario file (TOML); the built-in black-friday if absent.
    pub scenario: Option<PathBuf>,
    /// The seed; the same scenario, seed and keys at the same ticks give the same run.
    /// Picked at random if absent (the view shows it).
    #[arg(long, env = "SCALELAB_SEED")]
    pub seed: Option<u64>,
    /// Virtual seconds per wall second at the start: 1, 2, 5, 10, 50 or max.
    #[arg(long, default_value = "10x", value_parser = Speed::parse)]
    pub speed: Speed,
    /// Start paused (space runs, `.` steps one tick).
    #[arg(long)]
    pub paused: bool,
    /// Frames drawn per second, at most.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=240))]
    pub fps: u32,
    /// Where `s` saves repro files (and where the session is saved when it ends).
    #[arg(long, default_value = "scalelab-repros")]
    pub repro_dir: PathBuf,
    /// Run at full speed to this moment of virtual time (H:MM:SS, M:SS or seconds), then
    /// pause there: a talk starts at the interesting minute.
    #[arg(long, value_name = "TIME", value_parser = pace::parse_clock)]
    pub start_at: Option<f64>,
    /// On quitting, also write the files `run --out` writes (report.html, charts, JTL,
    /// .hgrm, trace.json) into DIR, for what ran: the session's saved repro is replayed
    /// headless with `replay --out`, which also proves the files are of the same run.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Loads the scenario named on the command line, or the built-in black-friday.
pub fn load(
    scenario: Option<&PathBuf>,
) -> Result<(scalelab_sim::Scenario, String, String), ExitCode> {
    match scenario {
        Some(path) => {
            let scn = crate::scenario_file::load(path).map_err(|e| {
                eprint!("{}", e.render(std::io::stderr().is_terminal()));
                ExitCode::from(crate::EXIT_BAD_INPUT)
            })?;
            let text = std::fs::read_to_string(path).unwrap_or_default();
            Ok((scn, text, path.display().to_string()))
        }
        None => match scalelab_sim::parse(BLACK_FRIDAY) {
            Ok(scn) => Ok((scn, BLACK_FRIDAY.to_owned(), BLACK_FRIDAY_PATH.to_owned())),
            Err(e) => {
                eprintln!("error: the built-in black-friday scenario is invalid: {e}");
                Err(ExitCode::from(crate::EXIT_INTERNAL))
            }
        },
    }
}

pub fn main(args: Args) -> ExitCode {
    let (scenario, scenario_text, scenario_path) = match load(args.scenario.as_ref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Some(at) = args.start_at.filter(|at| *at >= scenario.duration_s()) {
        eprintln!(
            "error: --start-at {} is not before the end of {}'s arrivals ({})",
            app::clock(at),
            scenario.name,
            app::clock(scenario.duration_s())
        );
        return ExitCode::from(crate::EXIT_BAD_INPUT);
    }
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        eprintln!(
            "error: scalelab demo draws in a terminal, and this one has no terminal to draw in.\n\
             For a headless run of the same scenario: scalelab run {scenario_path}"
        );
        return ExitCode::from(crate::EXIT_BAD_INPUT);
    }
    let out = args.out.map(|dir| crate::OutRequest::new(dir, None));
    if let Some(Err(code)) = out.as_ref().map(crate::OutRequest::prepare) {
        return code;
    }
    let seed = args.seed.unwrap_or_else(crate::pick_seed);
    let mut app = App::start(Setup {
        scenario,
        scenario_text,
        scenario_path,
        seed,
        speed: args.speed,
        paused: args.paused,
        repro_dir: args.repro_dir,
    });
    if let Some(at) = args.start_at {
        app.jump_to_s(at);
    }
    let outcome = run_in_terminal(app, args.fps);
    let (mut app, result) = match outcome {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("error: the terminal failed: {e}");
            return ExitCode::from(crate::EXIT_INTERNAL);
        }
    };
    if let Err(e) = result {
        eprintln!("error: the terminal failed: {e}");
    }
    let saved = match app.save_on_quit() {
        Some(Ok(path)) => Some(path),
        Some(Err(e)) => {
            eprintln!("error: could not save the session's repro: {e}");
            None
        }
        None => None,
    };
    print!("{}", farewell(&app));
    let failed = app.panes.iter().any(|p| matches!(&p.report, Some(Err(_))));
    drop(app.stop());
    if failed {
        return ExitCode::from(crate::EXIT_INTERNAL);
    }
    match (out, saved) {
        (Some(out), Some(path)) => {
            println!(
                "writing the session's files: replaying {} headless ...",
                path.display()
            );
            // A violation the replay reports is the session's own finding, not a failure
            // of the demo; a divergence or a write that failed is.
            match crate::replay(&path, Some(out)) {
                code if code == ExitCode::from(crate::EXIT_VIOLATION) => ExitCode::SUCCESS,
                code => code,
            }
        }
        (Some(_), None) => {
            eprintln!("--out: nothing ran, so there is nothing to write");
            ExitCode::SUCCESS
        }
        (None, _) => ExitCode::SUCCESS,
    }
}

/// Sets up the terminal, runs the frame loop, and restores the terminal whatever happened.
fn run_in_terminal(mut app: App, fps: u32) -> std::io::Result<(App, std::io::Result<Stats>)> {
    install_panic_hook();
    // Not `ratatui::try_init`: its panic hook restores the terminal on a panic in any thread.
    crossterm::terminal::enable_raw_mode()?;
    if let Err(e) =
        crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)
    {
        let _ = restore();
        return Err(e);
    }
    let mut terminal =
        match Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout())) {
            Ok(t) => t,
            Err(e) => {
                let _ = restore();
                return Err(e);
            }
        };
    let result = drive(&mut terminal, &mut app, fps, None, |timeout| {
        if event::poll(timeout)? {
            event::read().map(Some)
        } else {
            Ok(None)
        }
    });
    restore()?;
    Ok((app, result))
}

/// Gives the terminal back as it was: cooked mode, the main screen, a visible cursor.
fn restore() -> std::io::Result<()> {
    crossterm::terminal::disable_raw_mode()?;
    crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    )
}

/// The UI thread's name: a panic there restores the terminal before it is reported.
const UI_THREAD: &str = "main";

/// A panic on the UI thread restores the terminal first, so its message is readable and the
/// shell usable. A panic on a simulation thread is caught by its run and shown in the event
/// log (with the seed that reproduces it); it must not tear the screen down or print over it.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let ui = std::thread::current().name() == Some(UI_THREAD);
        if ui {
            let _ = restore();
            previous(info);
        }
    }));
}

/// Frames drawn and the time each took.
#[derive(Debug, Default)]
pub struct Stats {
    pub frames: u64,
    pub draw_ns: Vec<u64>,
}

/// The frame loop: take in frames from the designs, pace them, draw at most `fps` times a
/// second (and at once after a key), and hand keys to the app, until it quits or `until`.
pub fn drive<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    fps: u32,
    until: Option<Instant>,
    mut next_event: impl FnMut(Duration) -> std::io::Result<Option<Event>>,
) -> std::io::Result<Stats> {
    let period = Duration::from_secs_f64(1.0 / f64::from(fps.max(1)));
    let mut stats = Stats::default();
    let mut next_frame = Instant::now();
    let panic_after_first = std::env::var_os("SCALELAB_DEMO_TEST_PANIC").is_some();
    loop {
        let now = Instant::now();
        app.pump(now);
        if app.quit || until.is_some_and(|u| now >= u) {
            return Ok(stats);
        }
        if now >= next_frame {
            let started = Instant::now();
            let drawn = terminal.draw(|f| view::render(app, f))?;
            // Keys are judged against the screen they were pressed at (too small or not).
            app.set_size(drawn.area.width, drawn.area.height);
            stats.draw_ns.push(started.elapsed().as_nanos() as u64);
            stats.frames += 1;
            // Keep to the cadence; after a stall, start it again from now.
            next_frame += period;
            if next_frame < now {
                next_frame = now + period;
            }
            if panic_after_first {
                panic!("SCALELAB_DEMO_TEST_PANIC: a deliberate panic, to test that the terminal is restored");
            }
        }
        match next_event(next_frame.saturating_duration_since(Instant::now()))? {
            Some(Event::Key(key)) => {
                app.on_key(key, Instant::now());
                next_frame = Instant::now();
            }
            Some(Event::Resize(..)) => {
                terminal.autoresize()?;
                next_frame = Instant::now();
            }
            _ => {}
        }
    }
}

/// What the demo prints when it ends: where the run got to and how to get back there.
fn farewell(app: &App) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let ticks = app.completed();
    let _ = writeln!(
        s,
        "scalelab demo: {} seed {}, {} of {} virtual ({} ticks)",
        app.scenario.name,
        app.seed,
        app::clock(ticks as f64 * app.interval_s()),
        app::clock(app.scenario.duration_s()),
        ticks
    );
    for (design, hash) in app.hashes() {
        let _ = writeln!(
            s,
            "  {:<11} trace hash {}",
            design.name(),
            hash.map_or("-".into(), |h| format!("{h:016x}"))
        );
    }
    // The commands of the ticks the hashes are of: one given after the last shown tick
    // never ran, and a saved repro leaves it out too.
    let commands = app.commands(ticks);
    let _ = writeln!(s, "  {} live command(s)", commands.len());
    for path in &app.saved {
        let _ = writeln!(
            s,
            "  saved: {} (scalelab replay {})",
            path.display(),
            path.display()
        );
    }
    if app.saved.is_empty() {
        let _ = writeln!(s, "  nothing saved: no tick had finished");
    }
    s
}
