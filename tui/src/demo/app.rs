//! The live view's state: what each design has shown so far, the event log, the pace, the
//! open menu, and what each key does.
//!
//! Owns turning frames from the live session into history for the panes, turning keys into
//! pacing changes and live commands, and saving a repro of the session so far. Must not: draw
//! (`view` does), touch the terminal (`mod.rs` does), or read the wall clock (callers pass
//! `now`, so tests drive it).

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use scalelab_sim::harness::live::{Frame, LiveSession, Update};
use scalelab_sim::scenario::fault::{Command, Fault, Scheduled};
use scalelab_sim::{Design, Report, Scenario};

use super::keymap::{self, Action, FaultDraft};
use super::pace::{Pacer, Speed};
use crate::repro::{self, Expected, Marker};

/// Points of history kept per design (a pane is never wider than this).
const HISTORY: usize = 1024;
/// Lines the event log keeps.
const LOG_LINES: usize = 500;
/// How many ticks a design may run ahead of the slowest (see `scalelab_sim::live`). The view
/// still shows every design at the same tick: frames that arrive early wait in their pane.
const SLACK_TICKS: u64 = 3;

/// What a session is started from.
pub struct Setup {
    pub scenario: Scenario,
    /// The scenario file's text, byte for byte (a repro embeds it).
    pub scenario_text: String,
    /// Where it came from, as shown.
    pub scenario_path: String,
    pub seed: u64,
    pub speed: Speed,
    pub paused: bool,
    /// Where `s` writes repros.
    pub repro_dir: PathBuf,
}

/// One design's pane.
pub struct Pane {
    pub design: Design,
    /// Answered requests per second, per tick.
    pub throughput: VecDeque<u64>,
    /// p50 and p99 latency per tick, in ms.
    pub p50_ms: VecDeque<u64>,
    pub p99_ms: VecDeque<u64>,
    /// The whole run so far, one point per tick, for the whole-day charts (`w`): answered
    /// requests per second and p99 as shoppers saw it.
    pub day_throughput: Vec<u64>,
    pub day_p99_ms: Vec<u64>,
    pub last: Option<Box<Frame>>,
    /// Frames of ticks that not every design has finished yet: shown once all have.
    early: VecDeque<Box<Frame>>,
    /// The trace hash at the end of every tick so far.
    pub checkpoints: Vec<u64>,
    /// The run's report once it ended, or why it failed.
    pub report: Option<Result<Report, String>>,
}

/// A line of the event log: one thing that happened, and in which designs.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub at_s: f64,
    pub text: String,
    /// Design indices (0-3) it happened in.
    pub designs: BTreeSet<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Normal,
    Help,
    /// Choosing which role to kill, and in which design (`None`: every design).
    KillMenu(Option<Design>),
    /// Choosing how far ahead to jump.
    JumpMenu,
    /// Setting up a fault (its duration, shard, share) before injecting it.
    FaultMenu(FaultDraft),
    /// What the symbols, colours and figures mean.
    Legend,
}

pub struct App {
    pub scenario: Scenario,
    scenario_text: String,
    pub scenario_path: String,
    pub seed: u64,
    pub designs: Vec<Design>,
    session: LiveSession,
    pub panes: Vec<Pane>,
    pub log: VecDeque<LogLine>,
    pub pacer: Pacer,
    pub mode: Mode,
    /// The design shown alone, if any.
    pub enlarged: Option<usize>,
    /// The last thing the app has to say (a saved repro, a command's tick).
    pub status: Option<String>,
    pub quit: bool,
    repro_dir: PathBuf,
    /// Repros saved in this session, in order.
    pub saved: Vec<PathBuf>,
    /// The terminal is smaller than the view needs (see `set_size`).
    too_small: bool,
    /// The end-of-run scoreboard is shown once every run has ended; `t` hides it and brings
    /// it back.
    pub scoreboard: bool,
    /// The charts show the whole run so far (`w`), not the last minute or so.
    pub whole_day: bool,
    /// When the scenario's own faults begin (its timeline and its swarm's for this seed), in
    /// time order: fixed for the run, so drawn once rather than at every frame.
    planned_faults: Vec<f64>,
    /// The moments the presenter marked (`x`), in order; every saved repro keeps them.
    pub markers: Vec<Marker>,
}

impl App {
    /// Starts every design of `setup.scenario` in lock-step, waiting for the first tick.
    pub fn start(setup: Setup) -> App {
        let designs = Design::ALL.to_vec();
        let session = LiveSession::start(&setup.scenario, &designs, setup.seed, SLACK_TICKS);
        let interval_s = setup.scenario.metrics.interval_s.0;
        let planned_faults = planned_faults(&setup.scenario, setup.seed);
        let mut log = VecDeque::new();
        log.push_back(LogLine {
            at_s: 0.0,
            text: format!("{}: {}", setup.scenario.name, setup.scenario.description),
            designs: (0..designs.len()).collect(),
        });
        if !setup.scenario.story.is_empty() {
            log.push_back(LogLine {
                at_s: 0.0,
                text: setup.scenario.story.clone(),
                designs: (0..designs.len()).collect(),
            });
        }
        App {
            panes: designs
                .iter()
                .map(|&design| Pane {
                    design,
                    throughput: VecDeque::new(),
                    p50_ms: VecDeque::new(),
                    p99_ms: VecDeque::new(),
                    day_throughput: Vec::new(),
                    day_p99_ms: Vec::new(),
                    last: None,
                    early: VecDeque::new(),
                    checkpoints: Vec::new(),
                    report: None,
                })
                .collect(),
            designs,
            session,
            log,
            pacer: Pacer::new(setup.speed, setup.paused, interval_s),
            mode: Mode::Normal,
            enlarged: None,
            status: None,
            quit: false,
            scenario: setup.scenario,
            scenario_text: setup.scenario_text,
            scenario_path: setup.scenario_path,
            seed: setup.seed,
            repro_dir: setup.repro_dir,
            saved: Vec::new(),
            too_small: false,
            scoreboard: true,
            whole_day: false,
            planned_faults,
            markers: Vec::new(),
        }
    }

    /// Tells the app the terminal's size: below the view's minimum, keys other than quit
    /// are ignored, since the screen could not show what they did.
    pub fn set_size(&mut self, width: u16, height: u16) {
        self.too_small = width < super::view::MIN_WIDTH || height < super::view::MIN_HEIGHT;
    }

    pub fn interval_s(&self) -> f64 {
        self.scenario.metrics.interval_s.0
    }

    /// Ticks every design has finished (a design whose run failed no longer counts).
    pub fn completed(&self) -> u64 {
        self.panes
            .iter()
            .filter(|p| !matches!(p.report, Some(Err(_))))
            .map(|p| p.checkpoints.len() as u64)
            .min()
            .unwrap_or(0)
    }

    /// Every design's run has ended.
    pub fn finished(&self) -> bool {
        self.panes.iter().all(|p| p.report.is_some())
    }

    /// Takes in what the designs sent and lets them run as far as the pace allows.
    pub fn pump(&mut self, now: Instant) {
        while let Ok(update) = self.session.updates.try_recv() {
            self.take(update);
        }
        let gate = &self.session.lockstep;
        if let Some(target) = self.pacer.target(now, gate.completed(), gate.allowed()) {
            gate.allow(target);
        }
    }

    /// Ticks the designs may have started: for tests, which check what the pace allowed.
    #[cfg(test)]
    pub fn allowed(&self) -> u64 {
        self.session.lockstep.allowed()
    }

    /// Waits until every design has finished `ticks` ticks (or ended), taking in frames on
    /// the way: for tests, which step the session by hand.
    #[cfg(test)]
    pub fn wait_for(&mut self, ticks: u64) {
        while self.completed() < ticks && !self.finished() {
            match self
                .session
                .updates
                .recv_timeout(std::time::Duration::from_secs(60))
            {
                Ok(update) => self.take(update),
                Err(_) => break,
            }
        }
    }

    fn take(&mut self, update: Update) {
        match update {
            Update::Tick(frame) => {
                let Some(pane) = self.panes.get_mut(frame.lane) else {
                    return;
                };
                pane.checkpoints.push(frame.trace_hash);
                pane.early.push_back(frame);
                self.show_common_ticks();
            }
            Update::Done { lane, result } => {
                let line = match result.as_ref() {
                    Ok(r) if r.cut_after_ticks.is_some() => None,
                    Ok(r) => Some(checks_line(r)),
                    Err(e) => Some(format!("the simulation failed: {e}")),
                };
                // At the end of the run's arrivals, not when the message happened to come:
                // the log must read the same however the designs' threads were scheduled.
                let at = match result.as_ref() {
                    Ok(r) => r.duration_s,
                    Err(_) => self.completed() as f64 * self.interval_s(),
                };
                if let Some(text) = line {
                    self.note(at, text, Some(lane));
                }
                if let Some(pane) = self.panes.get_mut(lane) {
                    pane.report = Some((*result).map_err(|e| e.to_string()));
                }
                // A failed design no longer holds the others' frames back.
                self.show_common_ticks();
            }
        }
    }

    /// Moves every frame of a tick that all designs have finished into the panes and the
    /// log, tick by tick, so that the four panes always show the same moment.
    fn show_common_ticks(&mut self) {
        let common = self.completed();
        let slo_ms = self.scenario.slo.timeout_ms.0;
        loop {
            let next = self
                .panes
                .iter()
                .filter_map(|p| p.early.front().map(|f| f.tick))
                .min();
            let Some(tick) = next.filter(|t| *t < common) else {
                return;
            };
            for lane in 0..self.panes.len() {
                let frame = match self.panes[lane].early.front() {
                    Some(f) if f.tick == tick => self.panes[lane].early.pop_front(),
                    _ => None,
                };
                let Some(frame) = frame else { continue };
                for (at_s, text) in &frame.events {
                    self.note(*at_s, text.clone(), Some(lane));
                }
                let pane = &mut self.panes[lane];
                push(
                    &mut pane.throughput,
                    frame.window.throughput_rps.round() as u64,
                );
                let (p50, _) = frame.window.seen_ms(0.50, slo_ms);
                let (p99, _) = frame.window.seen_ms(0.99, slo_ms);
                push(&mut pane.p50_ms, p50.round() as u64);
                push(&mut pane.p99_ms, p99.round() as u64);
                pane.day_throughput
                    .push(frame.window.throughput_rps.round() as u64);
                pane.day_p99_ms.push(p99.round() as u64);
                pane.last = Some(frame);
            }
        }
    }

    /// Adds a line to the event log; the same line at the same time in several designs
    /// becomes one line that names them all.
    fn note(&mut self, at_s: f64, text: String, lane: Option<usize>) {
        let recent = self.log.iter_mut().rev().take(32);
        for line in recent {
            if line.at_s == at_s && line.text == text {
                line.designs.extend(lane);
                return;
            }
        }
        if self.log.len() == LOG_LINES {
            self.log.pop_front();
        }
        // In virtual-time order: a line that arrives after later ones (a design's end, sent
        // while another design's last frames wait) goes where its time puts it.
        let at = self
            .log
            .iter()
            .rposition(|l| l.at_s <= at_s)
            .map_or(0, |i| i + 1);
        self.log.insert(
            at,
            LogLine {
                at_s,
                text,
                designs: lane.into_iter().collect(),
            },
        );
    }

    /// Does what a key press asks.
    pub fn on_key(&mut self, key: KeyEvent, now: Instant) {
        if key.kind != KeyEventKind::Press {
            return;
        }
        // Behind the "too small" screen nothing shows what a key did: only quitting acts.
        if self.too_small {
            if keymap::action_for(&key) == Some(Action::Quit) {
                self.quit = true;
            } else {
                self.status = Some("the terminal is too small: enlarge it to steer".into());
            }
            return;
        }
        match self.mode {
            Mode::Help | Mode::Legend => {
                // Any key closes the help, `q` too (it says so); only Ctrl-C still quits.
                self.mode = Mode::Normal;
                if is_ctrl_c(&key) {
                    self.quit = true;
                }
                return;
            }
            Mode::KillMenu(only) => {
                self.mode = Mode::Normal;
                if key.code == KeyCode::Char('t') {
                    self.mode = Mode::KillMenu(keymap::next_target(only));
                    return;
                }
                if let KeyCode::Char(c) = key.code {
                    let shards = self.scenario.sharded.shards.get();
                    if let Some((_, role)) =
                        keymap::kill_menu(shards).into_iter().find(|(k, _)| *k == c)
                    {
                        let kill = Fault::Kill {
                            target: role,
                            restart_after_s: None,
                        };
                        self.inject_into(kill, only);
                        return;
                    }
                }
                // The menu says any other key cancels: `q` too, so a presenter who changes
                // their mind does not end the demo. Only Ctrl-C still quits.
                if is_ctrl_c(&key) {
                    self.quit = true;
                } else {
                    self.status = Some("kill cancelled".into());
                }
                return;
            }
            Mode::JumpMenu => {
                self.mode = Mode::Normal;
                let choice = match key.code {
                    KeyCode::Char(c) => keymap::JUMPS.iter().find(|(k, _)| *k == c),
                    _ => None,
                };
                if let Some(&(_, ahead_s)) = choice {
                    let at_s = self.completed() as f64 * self.interval_s() + ahead_s;
                    self.jump_to_s(at_s);
                    self.pump(now);
                } else if is_ctrl_c(&key) {
                    self.quit = true;
                } else {
                    self.status = Some("jump cancelled".into());
                }
                return;
            }
            Mode::FaultMenu(mut draft) => {
                let shards = self.scenario.sharded.shards.get();
                match draft.key(key.code, shards) {
                    Some(true) => {
                        self.mode = Mode::Normal;
                        self.inject_into(draft.fault(), draft.only);
                    }
                    Some(false) => self.mode = Mode::FaultMenu(draft),
                    // Like the other menus: any other key cancels, `q` too; Ctrl-C quits.
                    None => {
                        self.mode = Mode::Normal;
                        if is_ctrl_c(&key) {
                            self.quit = true;
                        } else {
                            self.status = Some("fault cancelled".into());
                        }
                    }
                }
                return;
            }
            Mode::Normal => {}
        }
        let Some(action) = keymap::action_for(&key) else {
            return;
        };
        match action {
            Action::Quit => self.quit = true,
            Action::Pause => {
                let paused = !self.pacer.paused();
                self.pacer.set_paused(paused);
            }
            Action::Step => {
                self.pacer.set_paused(true);
                let gate = &self.session.lockstep;
                gate.allow(gate.allowed().max(gate.completed()).saturating_add(1));
            }
            Action::Faster => self.pacer.change(true),
            Action::Slower => self.pacer.change(false),
            Action::Kill => self.mode = Mode::KillMenu(None),
            Action::Jump => self.mode = Mode::JumpMenu,
            Action::WholeDay => self.whole_day = !self.whole_day,
            Action::Scoreboard => {
                if self.finished() {
                    self.scoreboard = !self.scoreboard;
                } else {
                    self.status = Some("the scoreboard shows once the day has ended".into());
                }
            }
            Action::Inject(f) => self.mode = Mode::FaultMenu(FaultDraft::new(f)),
            Action::HealAll => self.command(Command::HealAll, "heal everything"),
            Action::Mark => self.mark(),
            Action::Save => {
                self.status = Some(match self.save() {
                    // The path first and once, so that it is never the part cut off.
                    Ok(path) => format!("saved {} · `scalelab replay` it", path.display()),
                    Err(e) => format!("could not save the repro: {e}"),
                });
            }
            Action::NextPane => {
                self.enlarged = match self.enlarged {
                    None => Some(0),
                    Some(i) if i + 1 < self.panes.len() => Some(i + 1),
                    Some(_) => None,
                };
            }
            Action::Enlarge(i) if i < self.panes.len() => {
                self.enlarged = if self.enlarged == Some(i) {
                    None
                } else {
                    Some(i)
                };
            }
            Action::Enlarge(_) => {}
            Action::Help => self.mode = Mode::Help,
            Action::Legend => self.mode = Mode::Legend,
        }
        // A key that changed the pace takes effect now, not at the next frame.
        self.pump(now);
    }

    /// When faults began in `design`, in virtual seconds, up to the ticks shown: the
    /// scenario's timeline, its swarm's faults for this seed, and the live commands that
    /// reached it (not those aimed at another design). The whole-day charts mark them.
    pub fn fault_marks(&self, design: Design) -> Vec<f64> {
        let shown_s = self.completed() as f64 * self.interval_s();
        let mut marks = self.planned_faults.clone();
        marks.extend(
            self.commands(u64::MAX)
                .iter()
                .filter(|c| match &c.command {
                    Command::Inject { only, .. } => {
                        only.as_deref().is_none_or(|d| d == design.name())
                    }
                    Command::HealAll => false,
                })
                .map(|c| c.tick as f64 * self.interval_s()),
        );
        marks.retain(|&t| t < shown_s);
        marks.sort_by(f64::total_cmp);
        marks
    }

    /// Runs at full speed to virtual second `at_s` (the tick that starts there; at most the
    /// end of arrivals), then pauses: `--start-at` and the `g` menu.
    pub fn jump_to_s(&mut self, at_s: f64) {
        let end = (self.scenario.duration_s() / self.interval_s()).ceil() as u64;
        let tick = ((at_s / self.interval_s()).ceil() as u64).min(end);
        if tick <= self.completed() {
            self.status = Some(format!("already at {}", clock(at_s)));
            return;
        }
        self.pacer.jump_to(tick);
        self.status = Some(format!(
            "jumping to {} at full speed; paused there (space runs on)",
            clock(tick as f64 * self.interval_s())
        ));
    }

    /// Injects `fault` into every design, or into `only` alone.
    fn inject_into(&mut self, fault: Fault, only: Option<Design>) {
        let what = fault.to_string();
        let command = Command::Inject {
            fault,
            only: only.map(|d| d.name().to_owned()),
        };
        let whom = only.map_or("every design".to_owned(), |d| format!("{} only", d.name()));
        self.command_for(command, &what, &whom);
    }

    fn command(&mut self, command: Command, what: &str) {
        self.command_for(command, what, "every design");
    }

    fn command_for(&mut self, command: Command, what: &str, whom: &str) {
        if self.finished() {
            self.status = Some(format!("{what}: the run is over"));
            return;
        }
        let tick = self.session.lockstep.inject(command);
        self.status = Some(format!(
            "{what}: {whom} at tick {tick} ({})",
            clock(tick as f64 * self.interval_s())
        ));
    }

    /// The commands given so far that every design has applied, with their ticks.
    pub fn commands(&self, ticks: u64) -> Vec<Scheduled> {
        self.session
            .lockstep
            .commands()
            .into_iter()
            .filter(|c| c.tick < ticks)
            .collect()
    }

    /// Writes a repro of the session so far: the ticks every design has finished, the
    /// commands applied in them, and each design's hash at every one of those ticks. When
    /// every run has ended, the repro is of the whole runs, with their final hashes.
    pub fn save(&mut self) -> std::io::Result<PathBuf> {
        let (text, path) = match self.whole_reports() {
            Some(reports) => {
                let reports: Vec<Report> = reports.into_iter().cloned().collect();
                let path = self.repro_path("whole");
                let text = repro::render_marked(
                    &self.scenario_text,
                    &self.scenario_path,
                    &reports,
                    &self.markers,
                );
                (text, path)
            }
            None => {
                let ticks = self.completed();
                let expected: Vec<Expected> = self
                    .panes
                    .iter()
                    .map(|p| {
                        Expected::from_checkpoints(
                            p.design.name(),
                            &p.checkpoints[..ticks as usize],
                        )
                    })
                    .collect();
                let parts = repro::Parts {
                    scenario_text: &self.scenario_text,
                    scenario_path: &self.scenario_path,
                    seed: self.seed,
                    designs: &self.designs,
                    commands: &self.commands(ticks),
                    markers: &self.markers_until(ticks),
                    expected: &expected,
                    ticks: Some(ticks),
                };
                (
                    repro::render_parts(&parts),
                    self.repro_path(&format!("tick-{ticks}")),
                )
            }
        };
        write_file(&path, &text)?;
        if self.saved.last() != Some(&path) {
            self.saved.push(path.clone());
        }
        Ok(path)
    }

    /// Marks the moment every design has reached (the end of the last tick they all
    /// finished) with the next letter, and says so in the event log.
    fn mark(&mut self) {
        let tick = self.completed();
        let label = marker_label(self.markers.len());
        let at_s = tick as f64 * self.interval_s();
        self.log.push_back(LogLine {
            at_s,
            text: format!("marker {label} (x): the saved repro keeps it"),
            designs: (0..self.panes.len()).collect(),
        });
        self.status = Some(format!("marker {label} at tick {tick}"));
        self.markers.push(Marker { label, tick });
    }

    /// The markers set at or before `ticks` (a repro of the first `ticks` ticks keeps those).
    fn markers_until(&self, ticks: u64) -> Vec<Marker> {
        self.markers
            .iter()
            .filter(|m| m.tick <= ticks)
            .cloned()
            .collect()
    }

    /// Saves a repro of the session as it ends, so that quitting never loses the run (and
    /// the hashes the farewell prints are the saved file's); nothing when no tick finished.
    pub fn save_on_quit(&mut self) -> Option<std::io::Result<PathBuf>> {
        (self.completed() > 0).then(|| self.save())
    }

    /// Every design's report, once every run has ended whole (not cut, not failed): a save
    /// is then of the whole runs, and their hashes are the reports' (after the drain and the
    /// checkers), not the last tick's.
    fn whole_reports(&self) -> Option<Vec<&Report>> {
        self.panes
            .iter()
            .map(|p| match &p.report {
                Some(Ok(r)) if r.cut_after_ticks.is_none() => Some(r),
                _ => None,
            })
            .collect()
    }

    fn repro_path(&self, what: &str) -> PathBuf {
        self.repro_dir.join(format!(
            "{}-seed-{}-live-{what}.toml",
            self.scenario.name, self.seed
        ))
    }

    /// Stops every design at its next tick boundary and waits for them.
    pub fn stop(self) -> Vec<Pane> {
        self.session.stop();
        self.panes
    }

    /// Each design's trace hash as a repro saved now holds it (see `save`): the whole run's
    /// once every run has ended, else the one at the last tick every design finished.
    pub fn hashes(&self) -> Vec<(Design, Option<u64>)> {
        if let Some(reports) = self.whole_reports() {
            return self
                .panes
                .iter()
                .zip(reports)
                .map(|(p, r)| (p.design, u64::from_str_radix(&r.trace_hash, 16).ok()))
                .collect();
        }
        let ticks = self.completed() as usize;
        self.panes
            .iter()
            .map(|p| {
                (
                    p.design,
                    ticks
                        .checked_sub(1)
                        .and_then(|i| p.checkpoints.get(i).copied()),
                )
            })
            .collect()
    }

    /// The session's state in a word or two, for the header. "behind" is the speed achieved
    /// when the simulation cannot keep up with the one chosen.
    pub fn state(&self) -> String {
        if self.finished() {
            return "finished".into();
        }
        if self.completed() as f64 * self.interval_s() >= self.scenario.duration_s() {
            return "draining".into();
        }
        if let Some(tick) = self.pacer.jumping() {
            return format!("jumping to {}", clock(tick as f64 * self.interval_s()));
        }
        if self.pacer.paused() {
            return "paused".into();
        }
        match (self.pacer.speed(), self.pacer.achieved()) {
            (Speed::Times(n), Some(got)) if got < 0.9 * f64::from(n) => {
                format!("behind: {got:.1}x")
            }
            (Speed::Max, Some(got)) => format!("running at {got:.1}x"),
            _ => "running".into(),
        }
    }
}

/// When the scenario's timeline and its swarm (for `seed`) start faults, in time order.
fn planned_faults(scn: &Scenario, seed: u64) -> Vec<f64> {
    let mut marks: Vec<f64> = scn.faults.iter().map(|f| f.get_ref().at_s).collect();
    if let Some(swarm) = &scn.swarm {
        let drawn = swarm.get_ref().schedule(
            seed,
            scn.duration_s(),
            scn.sharded.shards.get(),
            scn.workload().products.get(),
        );
        marks.extend(drawn.iter().map(|f| f.at_s));
    }
    marks.sort_by(f64::total_cmp);
    marks
}

/// Ctrl-C: the one key that quits even with a menu open.
fn is_ctrl_c(key: &KeyEvent) -> bool {
    key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL)
}

fn push(series: &mut VecDeque<u64>, v: u64) {
    if series.len() == HISTORY {
        series.pop_front();
    }
    series.push_back(v);
}

fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

/// What a whole run's checkers found, as one log line.
fn checks_line(r: &Report) -> String {
    let violated: Vec<&str> = r
        .checks
        .iter()
        .filter(|c| c.failed())
        .map(|c| c.name)
        .collect();
    if violated.is_empty() {
        format!(
            "run over; checks: no violation ({} checked)",
            r.checks.len()
        )
    } else {
        format!("run over; checks VIOLATED: {}", violated.join(", "))
    }
}

/// Virtual seconds as h:mm:ss.
pub fn clock(s: f64) -> String {
    let s = s.max(0.0) as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The label of marker number `n` (from 0): a to z, then a2, b2, ... (a talk rarely needs
/// more than a few).
fn marker_label(n: usize) -> String {
    let letter = char::from(b'a' + (n % 26) as u8);
    match n / 26 {
        0 => letter.to_string(),
        round => format!("{letter}{}", round + 1),
    }
}
