//! The live view driven through its own key handlers, as a person would drive it: snapshots
//! of the whole screen (ratatui's TestBackend + insta) at 120x40, 80x24 and too small; the
//! menus; and a session saved with `s` that `scalelab replay`'s code path reproduces.
//!
//! The session is paused and stepped with `.`, so what is on screen depends only on the
//! scenario, the seed and the keys, never on the machine's speed.

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::app::{App, Mode, Setup};
use super::pace::Speed;
use crate::repro;

const SEED: u64 = 42;

fn app(repro_dir: &std::path::Path) -> App {
    app_of(
        super::BLACK_FRIDAY,
        "scenarios/black-friday.toml",
        repro_dir,
    )
}

/// Black Friday cut to 6 seconds: a whole run, to its end, in a test.
fn short_app(repro_dir: &std::path::Path) -> App {
    let text = super::BLACK_FRIDAY.replace("duration_s = 1200", "duration_s = 6");
    assert_ne!(text, super::BLACK_FRIDAY, "the scenario was shortened");
    app_of(&text, "short-black-friday.toml", repro_dir)
}

fn app_of(text: &str, path: &str, repro_dir: &std::path::Path) -> App {
    let scenario = match scalelab_sim::parse(text) {
        Ok(s) => s,
        Err(e) => panic!("the test's scenario: {e}"),
    };
    App::start(Setup {
        scenario,
        scenario_text: text.to_owned(),
        scenario_path: path.into(),
        seed: SEED,
        speed: Speed::Times(10),
        paused: true,
        repro_dir: repro_dir.to_path_buf(),
    })
}

/// Pumps the app until every design's run has ended (at most ten minutes).
fn run_to_the_end(app: &mut App) {
    let deadline = Instant::now() + std::time::Duration::from_secs(600);
    while !app.finished() && Instant::now() < deadline {
        app.pump(Instant::now());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(app.finished(), "the short run ended");
}

fn key(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE), Instant::now());
}

fn chars(app: &mut App, keys: &str) {
    for c in keys.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// Presses `.` until `ticks` are allowed, and waits until every design has run them.
fn step_to(app: &mut App, ticks: u64) {
    while app.completed() < ticks {
        let before = app.completed();
        chars(app, ".");
        app.wait_for(before + 1);
    }
}

/// For each event-log line that starts with `prefix`, the designs (0-3) it happened in.
fn logged_in(app: &App, prefix: &str) -> Vec<Vec<usize>> {
    app.log
        .iter()
        .filter(|l| l.text.starts_with(prefix))
        .map(|l| l.designs.iter().copied().collect())
        .collect()
}

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|f| super::view::render(app, f))
        .expect("draws");
    terminal.backend().to_string()
}

#[test]
fn the_screen_at_each_size_and_with_each_overlay() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = app(dir.path());
    step_to(&mut app, 30);
    // Kill the app tier (k, then a): it lands in every design at tick 30.
    chars(&mut app, "k");
    assert_eq!(app.mode, Mode::KillMenu(None));
    chars(&mut app, "a");
    assert_eq!(app.mode, Mode::Normal);
    step_to(&mut app, 45);

    // Issue 18: a design that answers nothing does not show the milliseconds of its
    // refusals as latency: failed requests count at the timeout.
    let after_kill = screen(&app, 120, 40);
    assert!(
        after_kill.contains("p50 ≥2.0 s · p99 ≥2.0 s · avail 0.0% now"),
        "{after_kill}"
    );
    insta::assert_snapshot!("120x40_after_kill", after_kill);
    // w: the whole run so far in the charts, the kill marked on their time axis; w again
    // goes back to the last minute.
    chars(&mut app, "w");
    let whole = screen(&app, 120, 40);
    assert!(whole.contains("fault "), "{whole}");
    assert!(whole.contains('▲'), "{whole}");
    insta::assert_snapshot!("120x40_whole_day", whole);
    chars(&mut app, "w");
    assert!(!screen(&app, 120, 40).contains('▲'));
    let small = screen(&app, 80, 24);
    // Issue 18: at 80x24 every pane still shows its mail provider (the healthy groups are
    // named together behind one dot when the strip is narrow).
    for strip in small.lines().filter(|l| l.contains("│app ")) {
        assert_eq!(strip.matches("mail").count(), 2, "{strip}");
    }
    insta::assert_snapshot!("80x24_after_kill", small);
    insta::assert_snapshot!("too_small_79x24", screen(&app, 79, 24));

    chars(&mut app, "k");
    insta::assert_snapshot!("120x40_kill_menu", screen(&app, 120, 40));
    // Esc closes the menu and does not quit.
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.mode, Mode::Normal);
    assert!(!app.quit);

    chars(&mut app, "?");
    insta::assert_snapshot!("120x40_help", screen(&app, 120, 40));
    chars(&mut app, "x");
    assert_eq!(app.mode, Mode::Normal, "any key closes the help");

    // l: the legend, whole at 120x40 and at 80x24; any key closes it.
    chars(&mut app, "l");
    assert_eq!(app.mode, Mode::Legend);
    insta::assert_snapshot!("120x40_legend", screen(&app, 120, 40));
    let small = screen(&app, 80, 24);
    for needle in [
        "dead (killed or down)",
        "below 90%",
        "a fault began",
        "legend",
    ] {
        assert!(small.contains(needle), "{needle} at 80x24:\n{small}");
    }
    chars(&mut app, "q");
    assert_eq!(app.mode, Mode::Normal, "q closes the legend");
    assert!(!app.quit);

    // 2 enlarges the horizontal design; Tab goes on to the next; 3 again goes back.
    chars(&mut app, "2");
    assert_eq!(app.enlarged, Some(1));
    insta::assert_snapshot!("120x40_enlarged_horizontal", screen(&app, 120, 40));
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.enlarged, Some(2));
    chars(&mut app, "3");
    assert_eq!(app.enlarged, None);

    // Ctrl-C quits.
    app.on_key(
        KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
        Instant::now(),
    );
    assert!(app.quit);
    drop(app.stop());
}

#[test]
fn a_session_saved_with_s_replays_to_the_same_hashes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = app(dir.path());
    step_to(&mut app, 20);
    chars(&mut app, "ka"); // kill the app tier
    step_to(&mut app, 26);
    chars(&mut app, "b"); // broker outage, with its defaults
    key(&mut app, KeyCode::Enter);
    step_to(&mut app, 31);
    chars(&mut app, "r"); // heal everything
    step_to(&mut app, 40);
    chars(&mut app, "s");
    let path = app.saved.first().cloned().expect("s saved a repro");
    let status = app.status.clone().unwrap_or_default();
    assert!(status.starts_with("saved "), "{status}");
    // Issue 18: the status line was cut at 120 columns (it held the path twice); now it
    // shows whole there, and at 80 the path still shows whole.
    let wide = screen(&app, 120, 40);
    assert!(wide.contains(&status), "{status} in:\n{wide}");
    let narrow = screen(&app, 80, 40);
    assert!(narrow.contains(&path.display().to_string()), "{narrow}");
    let live = app.hashes();
    drop(app.stop());

    let repro = match repro::load(&path) {
        Ok(r) => r,
        Err(e) => panic!("the saved repro loads: {}", e.render(false)),
    };
    assert_eq!(repro.ticks, Some(40));
    let ticks: Vec<u64> = repro.commands.iter().map(|c| c.tick).collect();
    assert_eq!(
        ticks,
        vec![20, 26, 31],
        "each command at the tick it landed"
    );

    // What `scalelab replay` does with it.
    let results = crate::rerun(&repro);
    for (result, (design, hash)) in results.into_iter().zip(live) {
        let report = result.expect("the replay runs");
        assert_eq!(report.design, design.name());
        let expected = repro
            .expected
            .iter()
            .find(|e| e.design == report.design)
            .expect("an expectation per design");
        assert!(
            matches!(repro::compare(expected, &report), repro::Verdict::Same),
            "{} diverged",
            report.design
        );
        assert_eq!(
            Some(format!("{:016x}", hash.unwrap_or(0))),
            Some(report.trace_hash)
        );
    }
}

/// Issue 18: at `max` the pace once allowed every tick at once, which no key could take back.
#[test]
fn at_max_speed_space_still_pauses_dot_still_steps_and_slower_slows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = app(dir.path());
    app.pacer.set_speed(Speed::Max);
    chars(&mut app, " "); // run at max
    assert!(
        app.allowed() <= app.completed() + 4,
        "max runs a few ticks ahead, not {} ahead",
        app.allowed()
    );
    chars(&mut app, " "); // pause
    let held = app.allowed();
    app.wait_for(held);
    std::thread::sleep(std::time::Duration::from_millis(50));
    app.pump(Instant::now());
    assert_eq!((app.completed(), app.allowed()), (held, held), "paused");
    chars(&mut app, ".");
    assert_eq!(app.allowed(), held + 1, "a step is one tick");
    app.wait_for(held + 1);
    // Down to 50x and running again: still only a few ticks ahead, no backlog.
    chars(&mut app, "- ");
    assert_eq!(app.pacer.speed(), Speed::Times(50));
    assert!(app.allowed() <= app.completed() + 4);
    drop(app.stop());
}

/// Issue 18: an open menu swallows the next key; `q` closes it and does not quit.
#[test]
fn q_closes_the_kill_menu_and_the_help_without_quitting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = app(dir.path());
    chars(&mut app, "kq");
    assert_eq!(app.mode, Mode::Normal);
    assert!(!app.quit, "q cancels the kill menu");
    assert_eq!(app.status.as_deref(), Some("kill cancelled"));
    chars(&mut app, "?q");
    assert_eq!(app.mode, Mode::Normal);
    assert!(!app.quit, "q closes the help");
    chars(&mut app, "q");
    assert!(app.quit, "with no menu open, q quits");
    drop(app.stop());
}

/// Issue 18: keys must not act unseen behind the "too small" screen; quitting still works.
#[test]
fn behind_the_too_small_screen_only_quit_acts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = app(dir.path());
    app.set_size(79, 24);
    chars(&mut app, "k +2bs.");
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.pacer.paused());
    assert_eq!(app.pacer.speed(), Speed::Times(10));
    assert_eq!(app.enlarged, None);
    assert!(app.commands(u64::MAX).is_empty(), "no fault injected");
    assert!(app.saved.is_empty());
    assert_eq!(app.allowed(), 0, "no step");
    // Back at a size the view draws, keys act again.
    app.set_size(80, 24);
    chars(&mut app, "2");
    assert_eq!(app.enlarged, Some(1));
    app.set_size(40, 10);
    chars(&mut app, "q");
    assert!(app.quit);
    drop(app.stop());
}

/// Issue 18: the hashes printed on quitting a run that has ended are the whole runs' (after
/// the drain and the checkers), as the repro saved then holds them and its replay gives.
#[test]
fn quitting_a_whole_run_prints_the_hashes_of_its_repro_and_replay() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = short_app(dir.path());
    step_to(&mut app, 2);
    chars(&mut app, "ka"); // a kill, so that the run drains and heals before it ends
    app.pacer.set_speed(Speed::Max);
    chars(&mut app, " ");
    run_to_the_end(&mut app);
    // The end of the day: the scoreboard stays on screen; t hides it and brings it back.
    assert!(app.scoreboard);
    insta::assert_snapshot!("120x40_scoreboard", screen(&app, 120, 40));
    assert!(
        screen(&app, 80, 24).contains("revenue lost"),
        "it fits at 80x24"
    );
    chars(&mut app, "t");
    assert!(!screen(&app, 120, 40).contains("the whole day"));
    chars(&mut app, "t");
    assert!(screen(&app, 120, 40).contains("the whole day"));
    chars(&mut app, "s");
    let path = app.saved.first().cloned().expect("s saved a repro");
    let farewell = super::farewell(&app);
    let hashes = app.hashes();
    drop(app.stop());

    let repro = match repro::load(&path) {
        Ok(r) => r,
        Err(e) => panic!("the saved repro loads: {}", e.render(false)),
    };
    assert_eq!(repro.ticks, None, "a repro of the whole runs");
    for (design, hash) in &hashes {
        let expected = repro
            .expected
            .iter()
            .find(|e| e.design == design.name())
            .expect("an expectation per design");
        assert_eq!(
            hash.map(|h| format!("{h:016x}")),
            Some(expected.trace_hash.clone())
        );
        assert!(
            farewell.contains(&expected.trace_hash),
            "{farewell}\ndoes not say {}",
            expected.trace_hash
        );
    }
    for result in crate::rerun(&repro) {
        let report = result.expect("the replay runs");
        let (_, hash) = hashes
            .iter()
            .find(|(d, _)| d.name() == report.design)
            .expect("the design was live");
        assert_eq!(hash.map(|h| format!("{h:016x}")), Some(report.trace_hash));
    }
}

/// Issue 18: heal-all's event line names what it restarted.
#[test]
fn heal_all_says_what_it_restarted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = app(dir.path());
    step_to(&mut app, 2);
    chars(&mut app, "ka"); // kill the app tier, for good
    step_to(&mut app, 4);
    chars(&mut app, "r");
    step_to(&mut app, 6);
    let heals: Vec<&str> = app
        .log
        .iter()
        .filter(|l| l.text.starts_with("heal-all"))
        .map(|l| l.text.as_str())
        .collect();
    assert!(!heals.is_empty(), "a heal-all line");
    for text in heals {
        assert!(text.contains("restarted "), "{text}");
    }
    drop(app.stop());
}

/// Issue 18: a second kill of a role picks a live node of it, or says none is left.
#[test]
fn a_second_kill_hits_a_live_node_or_says_none_is_left() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = app(dir.path());
    step_to(&mut app, 2);
    chars(&mut app, "ka");
    step_to(&mut app, 3);
    chars(&mut app, "ka");
    step_to(&mut app, 5);
    let lane = |name: &str| {
        app.panes
            .iter()
            .position(|p| p.design.name() == name)
            .expect("the design is live")
    };
    let kills = |lane: usize| -> Vec<String> {
        app.log
            .iter()
            .filter(|l| l.text.starts_with("kill app") && l.designs.contains(&lane))
            .map(|l| l.text.clone())
            .collect()
    };
    let horizontal = kills(lane("horizontal"));
    assert_eq!(horizontal.len(), 2, "{horizontal:?}");
    assert_ne!(horizontal[0], horizontal[1], "two different hosts");
    let vertical = kills(lane("vertical"));
    assert_eq!(vertical.len(), 2, "{vertical:?}");
    assert!(vertical[1].contains("down already"), "{vertical:?}");
    drop(app.stop());
}

/// Issue 18: `g` jumps ahead at full speed and pauses there; the menu cancels like the kill
/// menu (q too); the header says where the jump goes.
#[test]
fn g_jumps_a_minute_ahead_at_full_speed_and_pauses_there() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = app(dir.path());
    step_to(&mut app, 3);
    chars(&mut app, "g");
    assert_eq!(app.mode, Mode::JumpMenu);
    insta::assert_snapshot!("120x40_jump_menu", screen(&app, 120, 40));
    chars(&mut app, "q");
    assert_eq!(app.mode, Mode::Normal);
    assert!(!app.quit, "q cancels the jump menu");
    assert_eq!(app.status.as_deref(), Some("jump cancelled"));

    // Before the end there is no scoreboard to show, and t says so.
    chars(&mut app, "t");
    assert_eq!(
        app.status.as_deref(),
        Some("the scoreboard shows once the day has ended")
    );
    chars(&mut app, "g1");
    assert_eq!(app.state(), "jumping to 0:01:03");
    assert!(screen(&app, 120, 40).contains("jumping to 0:01:03"));
    let goal = (63.0 / app.interval_s()).ceil() as u64;
    while !app.pacer.paused() {
        app.pump(Instant::now());
        let next = (app.completed() + 1).min(goal);
        app.wait_for(next);
    }
    app.pump(Instant::now());
    assert_eq!(app.completed(), goal, "the jump stops at its minute");
    assert_eq!(app.state(), "paused");
    assert_eq!(app.pacer.speed(), Speed::Times(10), "the speed is kept");
    assert_eq!(app.allowed(), goal, "nothing runs past it");
    drop(app.stop());
}

/// Issue 18: quitting saves the session, so nothing is lost and the hashes the farewell
/// prints are the saved file's; before the first tick there is nothing to save.
#[test]
fn quitting_saves_the_session_and_prints_the_saved_hashes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = app(dir.path());
    assert!(app.save_on_quit().is_none(), "no tick, no repro");
    step_to(&mut app, 12);
    chars(&mut app, "s");
    let path = match app.save_on_quit() {
        Some(Ok(path)) => path,
        other => panic!("not saved: {other:?}"),
    };
    assert_eq!(app.saved, vec![path.clone()], "the same ticks are one file");
    let farewell = super::farewell(&app);
    assert!(
        farewell.contains(&format!("saved: {}", path.display())),
        "{farewell}"
    );
    let saved = repro::load(&path).expect("the saved repro reads");
    assert_eq!(saved.ticks, Some(12));
    for (design, hash) in app.hashes() {
        let hash = format!("{:016x}", hash.expect("a hash"));
        let expected = saved
            .expected
            .iter()
            .find(|e| e.design == design.name())
            .expect("every design");
        assert_eq!(expected.trace_hash, hash);
        assert!(farewell.contains(&hash), "{farewell}");
    }
    drop(app.stop());
}

/// Issue 18: a design whose app hosts are up but answer nothing (here its database is down)
/// does not draw them as healthy green dots: they are `◌`, and the legend says what that is.
#[test]
fn app_hosts_that_answer_nothing_are_not_drawn_healthy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = app(dir.path());
    step_to(&mut app, 3);
    let before = screen(&app, 120, 40);
    assert!(!before.contains('◌'), "{before}");
    chars(&mut app, "kd"); // the database, for good
    step_to(&mut app, 8);
    let after = screen(&app, 120, 40);
    // The vertical pane: its one host is up, and every request fails.
    let strip = after
        .lines()
        .find(|l| l.contains("│app "))
        .expect("the vertical pane's node strip");
    assert!(strip.contains("app ◌ db ✕"), "{strip}");
    chars(&mut app, "l");
    let legend = screen(&app, 120, 40);
    assert!(legend.contains("◌  app up, answering nothing"), "{legend}");
    drop(app.stop());
}

/// Issue 18: a presenter's markers (x) are lettered in order, drawn on the whole-run charts'
/// axis, kept by a saved repro (only those within its ticks) and read back from it, without
/// the repro counting as edited.
#[test]
fn markers_are_drawn_and_kept_by_the_repro() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = app(dir.path());
    step_to(&mut app, 5);
    chars(&mut app, "x");
    assert_eq!(app.status.as_deref(), Some("marker a at tick 5"));
    step_to(&mut app, 12);
    chars(&mut app, "x");
    step_to(&mut app, 15);
    chars(&mut app, "w");
    let whole = screen(&app, 120, 40);
    let axis = whole
        .lines()
        .find(|l| l.contains("│fault "))
        .expect("the whole-run axis");
    assert!(axis.contains('a') && axis.contains('b'), "{axis}");
    assert!(
        whole.contains("marker b (x)"),
        "the event log says so:\n{whole}"
    );
    chars(&mut app, "s");
    let path = app.saved.first().cloned().expect("s saved a repro");
    drop(app.stop());
    let repro = match repro::load(&path) {
        Ok(r) => r,
        Err(e) => panic!("the saved repro loads: {}", e.render(false)),
    };
    let marks: Vec<(String, u64)> = repro
        .markers
        .iter()
        .map(|m| (m.label.clone(), m.tick))
        .collect();
    assert_eq!(marks, vec![("a".to_owned(), 5), ("b".to_owned(), 12)]);
    assert!(repro.edited.is_empty(), "{:?}", repro.edited);
    // A marker changed by hand is an edit, named as such.
    let text = std::fs::read_to_string(&path).expect("read");
    let changed = text.replacen("tick = 12", "tick = 13", 1);
    assert_ne!(changed, text, "the marker's tick is in the file");
    std::fs::write(&path, changed).expect("write");
    let edited = repro::load(&path).map(|r| r.edited).unwrap_or_default();
    assert_eq!(edited, vec!["the markers".to_owned()]);
}

/// Issue 18: a fault key opens its menu with the defaults one key (Enter) away; the menu
/// changes the duration, and for a hot shard the shard and the share; any other key cancels
/// without quitting, and nothing is injected until Enter.
#[test]
fn a_fault_menu_sets_duration_shard_and_share_before_it_injects() {
    use scalelab_sim::scenario::fault::{Command, Fault};
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = app(dir.path());
    step_to(&mut app, 2);
    chars(&mut app, "h");
    assert!(matches!(app.mode, Mode::FaultMenu(_)));
    insta::assert_snapshot!("120x40_fault_menu", screen(&app, 120, 40));
    chars(&mut app, "3sd");
    let menu = screen(&app, 120, 40);
    assert!(
        menu.contains("inject: 75% of new shoppers on shard 3, 300 s"),
        "{menu}"
    );
    assert!(
        app.commands(u64::MAX).is_empty(),
        "nothing injected before Enter"
    );
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Normal);
    // q in a menu cancels it; it does not end the demo.
    chars(&mut app, "bq");
    assert!(!app.quit);
    assert_eq!(app.status.as_deref(), Some("fault cancelled"));
    // b, then Enter: the defaults.
    chars(&mut app, "b");
    key(&mut app, KeyCode::Enter);
    step_to(&mut app, 4);
    let faults: Vec<Fault> = app
        .commands(u64::MAX)
        .into_iter()
        .filter_map(|c| match c.command {
            Command::Inject { fault, .. } => Some(fault),
            _ => None,
        })
        .collect();
    assert_eq!(faults.len(), 2, "{faults:?}");
    match &faults[0] {
        Fault::HotShard {
            shard,
            share,
            duration_s,
        } => assert_eq!((*shard, share.0, duration_s.0), (3, 0.75, 300.0)),
        other => panic!("a hot shard: {other:?}"),
    }
    match &faults[1] {
        Fault::BrokerOutage { duration_s, .. } => assert_eq!(duration_s.0, 60.0),
        other => panic!("a broker outage: {other:?}"),
    }
    drop(app.stop());
}

/// Issue 18: `t` in a fault menu aims the fault at one design; it lands there alone, the
/// saved repro keeps the aim and replays to the same hashes, and a repro aimed at a design
/// that does not exist is refused at its line.
#[test]
fn a_fault_aimed_at_one_design_lands_there_alone_and_replays() {
    use scalelab_sim::scenario::fault::Command;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = app(dir.path());
    step_to(&mut app, 2);
    chars(&mut app, "pttt"); // partition, aimed at the third design: queued
    let menu = screen(&app, 120, 40);
    assert!(menu.contains("target: queued only"), "{menu}");
    key(&mut app, KeyCode::Enter);
    let status = app.status.clone().unwrap_or_default();
    assert!(status.contains("queued only at tick"), "{status}");
    step_to(&mut app, 6);
    assert_eq!(logged_in(&app, "partition"), vec![vec![2]]);
    // The whole-run charts mark it in queued's pane alone.
    chars(&mut app, "w");
    let whole = screen(&app, 120, 40);
    assert_eq!(whole.matches('▲').count(), 1, "{whole}");
    chars(&mut app, "w");
    chars(&mut app, "s");
    let path = app.saved.first().cloned().expect("saved");
    let live = app.hashes();
    drop(app.stop());
    let repro = repro::load(&path).unwrap_or_else(|e| panic!("{}", e.render(false)));
    assert!(matches!(
        &repro.commands[0].command,
        Command::Inject { only: Some(d), .. } if d == "queued"
    ));
    for (result, (design, hash)) in crate::rerun(&repro).into_iter().zip(live) {
        let report = result.expect("the replay runs");
        assert_eq!(report.design, design.name());
        assert_eq!(format!("{:016x}", hash.unwrap_or(0)), report.trace_hash);
    }
    let text = std::fs::read_to_string(&path).expect("read");
    let wrong = dir.path().join("wrong.toml");
    std::fs::write(
        &wrong,
        text.replace("only = \"queued\"", "only = \"queue\""),
    )
    .expect("w");
    let e = match repro::load(&wrong) {
        Ok(_) => panic!("a misspelt design is refused"),
        Err(e) => e.render(false),
    };
    assert!(
        e.contains("is aimed at `queue`, which is not a design"),
        "{e}"
    );
    assert!(
        e.contains("wrong.toml:"),
        "points at the file and line: {e}"
    );
}

/// Issue 18: the first screen says what the run will show (the scenario's `story`).
#[test]
fn the_first_screen_says_what_to_watch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = app(dir.path());
    step_to(&mut app, 1);
    let first = screen(&app, 120, 40);
    assert!(
        first.contains("watch the peak (0:07-0:13): replicas fill the one database of 2 and 3"),
        "{first}"
    );
    drop(app.stop());
}

/// Issue 18: `t` in the kill menu aims the kill at one design; other keys still cancel.
#[test]
fn a_kill_can_be_aimed_at_one_design() {
    use scalelab_sim::scenario::fault::Command;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = app(dir.path());
    step_to(&mut app, 2);
    chars(&mut app, "ktt");
    assert!(screen(&app, 120, 40).contains("target: horizontal only"));
    chars(&mut app, "a");
    let status = app.status.clone().unwrap_or_default();
    assert!(status.contains("horizontal only at tick"), "{status}");
    chars(&mut app, "ktq");
    assert!(!app.quit);
    assert_eq!(app.status.as_deref(), Some("kill cancelled"));
    step_to(&mut app, 4);
    let commands = app.commands(u64::MAX);
    assert_eq!(commands.len(), 1);
    assert!(matches!(
        &commands[0].command,
        Command::Inject { only: Some(d), .. } if d == "horizontal"
    ));
    assert_eq!(logged_in(&app, "kill app"), vec![vec![1]]);
    drop(app.stop());
}

/// Issue 18: an event line longer than the log's width wraps under its text instead of
/// being cut at the edge, at 120 and at 80 columns.
#[test]
fn a_long_event_line_wraps_instead_of_being_cut() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = app(dir.path());
    step_to(&mut app, 1);
    let words: Vec<String> = (0..40).map(|i| format!("word{i}")).collect();
    app.log.push_back(super::app::LogLine {
        at_s: 1.0,
        text: format!("{} the-end", words.join(" ")),
        designs: [1].into_iter().collect(),
    });
    for width in [120, 80] {
        let shown = screen(&app, width, 40);
        // Its start, its end, and a word from the middle are all on the screen.
        for part in ["word0 word1", "word20", "word39 the-end"] {
            assert!(shown.contains(part), "{part} at {width}:\n{shown}");
        }
    }
    drop(app.stop());
}

/// Issue 18, from a new user's trial: after `g` jumped to the end of the day, the status
/// line still said "jumping to ..." under a header that said "finished".
#[test]
fn a_jump_to_the_end_leaves_a_status_that_says_the_day_is_over() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut app = short_app(dir.path());
    chars(&mut app, "g1");
    run_to_the_end(&mut app);
    chars(&mut app, "t"); // the scoreboard aside, to read the status line
    let end = screen(&app, 120, 40);
    assert!(!end.contains("jumping to"), "{end}");
    assert!(end.contains("the day is over · t the scoreboard"), "{end}");
    drop(app.stop());
}
