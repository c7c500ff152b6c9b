//! Live sessions: several designs of one scenario run at once, in lock-step, tick by tick, so
//! that a live command (a fault someone pressed a key for) reaches every design at the same
//! tick, and a watcher gets a [`Frame`] of each design after every tick.
//!
//! Owns the lock-step ([`Lockstep`]): a design may start tick `t` only when the controller has
//! allowed `t` and every design has finished tick `t - 1 - slack`; a live command is stamped
//! with the first tick no design has started, so all of them apply it there, and it is
//! recorded with that tick, so the session replays as a repro. With a slack of 0 the designs move tick by tick
//! together; a small slack lets a fast design run a few ticks ahead instead of idling at every
//! boundary (on two cores a strict barrier left a core idle whenever only the slowest design
//! was still busy), and changes nothing about where a command lands. Each design still runs on its own OS thread and its own
//! madsim runtime; waiting at the gate blocks that thread between ticks, where virtual time
//! stands still, so waiting cannot change a run.
//!
//! Must not: read the wall clock or decide the pace (the controller, the live view, does:
//! it calls [`Lockstep::allow`]), or draw anything.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::deployment::design::Design;
use crate::faults::inject::Health;
use crate::harness::launch::{run_with, RunError};
use crate::harness::report::Report;
use crate::harness::run::{Observer, RunOptions, TickView};
use crate::metrics::Point;
use crate::scenario::fault::{Command, Scheduled};
use crate::scenario::Scenario;

/// Where one design of a live session is.
#[derive(Debug, Clone, Copy, Default)]
struct LaneState {
    /// Ticks this design has started (passed the gate for).
    started: u64,
    /// Ticks this design has finished.
    completed: u64,
    /// It will start no more ticks (its run ended, was stopped, or failed).
    finished: bool,
}

#[derive(Debug, Default)]
struct State {
    lanes: Vec<LaneState>,
    /// How many ticks a design may be ahead of the slowest one.
    slack: u64,
    /// Ticks below this may start.
    allowed: u64,
    /// Every live command, with the tick it applies at, in the order given.
    commands: Vec<Scheduled>,
    stopped: bool,
}

/// The gate the designs of a live session pass at every tick boundary.
#[derive(Debug, Default)]
pub struct Lockstep {
    state: Mutex<State>,
    changed: Condvar,
}

impl Lockstep {
    /// A gate for `lanes` designs in strict lock-step; no tick is allowed yet.
    pub fn new(lanes: usize) -> Arc<Lockstep> {
        Lockstep::with_slack(lanes, 0)
    }

    /// A gate that lets a design run up to `slack` ticks ahead of the slowest.
    pub fn with_slack(lanes: usize, slack: u64) -> Arc<Lockstep> {
        Arc::new(Lockstep {
            state: Mutex::new(State {
                lanes: vec![LaneState::default(); lanes],
                slack,
                ..State::default()
            }),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lets the designs run up to (not including) tick `ticks`. Never moves back: a lower
    /// value than already allowed is ignored.
    pub fn allow(&self, ticks: u64) {
        let mut s = self.lock();
        if ticks > s.allowed {
            s.allowed = ticks;
            self.changed.notify_all();
        }
    }

    /// Ticks allowed so far.
    pub fn allowed(&self) -> u64 {
        self.lock().allowed
    }

    /// Ticks that every design still running has finished (all of them, once every design
    /// has finished).
    pub fn completed(&self) -> u64 {
        let s = self.lock();
        let running = s.lanes.iter().filter(|l| !l.finished);
        match running.map(|l| l.completed).min() {
            Some(c) => c,
            None => s.lanes.iter().map(|l| l.completed).max().unwrap_or(0),
        }
    }

    /// Every design has finished: nothing more will happen.
    pub fn all_finished(&self) -> bool {
        self.lock().lanes.iter().all(|l| l.finished)
    }

    /// Queues `command` for every design at the first tick none has started, and returns
    /// that tick.
    pub fn inject(&self, command: Command) -> u64 {
        let mut s = self.lock();
        let tick = s.lanes.iter().map(|l| l.started).max().unwrap_or(0);
        s.commands.push(Scheduled { tick, command });
        tick
    }

    /// Every command given so far, with its tick.
    pub fn commands(&self) -> Vec<Scheduled> {
        self.lock().commands.clone()
    }

    /// Ends the session: designs waiting at the gate stop there, the others at their next
    /// tick boundary.
    pub fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_all();
    }

    /// Design `lane` wants to start tick `tick`: blocks until it may, and returns that
    /// tick's commands, or `None` when the session was stopped.
    pub(crate) fn enter(&self, lane: usize, tick: u64) -> Option<Vec<Command>> {
        let mut s = self.lock();
        loop {
            if s.stopped {
                return None;
            }
            let slack = s.slack;
            let others_done = s
                .lanes
                .iter()
                .all(|l| l.finished || l.completed + slack >= tick);
            if tick < s.allowed && others_done {
                break;
            }
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        if let Some(l) = s.lanes.get_mut(lane) {
            l.started = l.started.max(tick + 1);
        }
        Some(
            s.commands
                .iter()
                .filter(|c| c.tick == tick)
                .map(|c| c.command.clone())
                .collect(),
        )
    }

    /// Design `lane` finished tick `tick`.
    pub(crate) fn completed_tick(&self, lane: usize, tick: u64) {
        let mut s = self.lock();
        if let Some(l) = s.lanes.get_mut(lane) {
            l.completed = l.completed.max(tick + 1);
        }
        self.changed.notify_all();
    }

    /// Design `lane` will start no more ticks. Idempotent.
    pub(crate) fn finish(&self, lane: usize) {
        let mut s = self.lock();
        if let Some(l) = s.lanes.get_mut(lane) {
            l.finished = true;
        }
        self.changed.notify_all();
    }
}

/// One design's place in a live session: its index, the gate, and where its frames go. As
/// the run's [`Observer`] it waits at the gate before every tick and sends a [`Frame`] after
/// it; when the run lets go of it (its ticks are over, or it panicked), it tells the gate
/// this design will start no more ticks.
pub struct Lane {
    pub index: usize,
    pub lockstep: Arc<Lockstep>,
    pub updates: Sender<Update>,
    /// Event-log lines already sent.
    pub notes_seen: u64,
}

impl Observer for Lane {
    fn before_tick(&mut self, tick: u64) -> Option<Vec<Command>> {
        self.lockstep.enter(self.index, tick)
    }

    fn after_tick(&mut self, v: &TickView<'_>) {
        let r = v.recorder;
        let new = (r.notes - self.notes_seen).min(r.log.len() as u64) as usize;
        self.notes_seen = r.notes;
        let events = r
            .log
            .iter()
            .skip(r.log.len() - new)
            .map(|(at, text)| (at.as_secs_f64(), text.clone()))
            .collect();
        let nodes = v
            .deployment
            .parts()
            .into_iter()
            .map(|n| NodeView {
                health: v.injector.health(n.id),
                name: n.name,
                group: n.group,
                starting: n.starting,
            })
            .collect();
        let frame = Frame {
            lane: self.index,
            tick: v.tick,
            t_s: v.t.as_secs_f64(),
            window: v.window.clone(),
            requests: r.requests,
            answered_in_slo: r.answered_in_slo,
            errors: r.errors.values().sum(),
            orders: r.orders,
            revenue_lost_cents: r.revenue_lost_cents,
            shard_cpu: v.sample.shard_cpu.clone(),
            nodes,
            events,
            trace_hash: r.trace_hash().0,
        };
        let _ = self.updates.send(Update::Tick(Box::new(frame)));
        self.lockstep.completed_tick(self.index, v.tick);
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        self.lockstep.finish(self.index);
    }
}

/// One node of a design as a watcher sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    pub name: String,
    /// `app`, `sessions`, `broker`, `workers`, `db` or `mail`: the strip groups by it.
    pub group: &'static str,
    pub health: Health,
    /// An app host booting (started, not yet taking traffic) or being retired.
    pub starting: bool,
}

/// One design after one tick.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The design's index in the session.
    pub lane: usize,
    /// The tick just finished (0-based).
    pub tick: u64,
    /// Virtual seconds at the end of the tick.
    pub t_s: f64,
    /// The tick's window: requests, latency, availability, replicas, queue lag.
    pub window: Point,
    /// Totals since the start.
    pub requests: u64,
    pub answered_in_slo: u64,
    pub errors: u64,
    pub orders: u64,
    pub revenue_lost_cents: u64,
    /// Each database shard's CPU use in the tick (one entry when unsharded).
    pub shard_cpu: Vec<f64>,
    pub nodes: Vec<NodeView>,
    /// Event-log lines added during the tick: faults, scaling, health, at virtual seconds.
    pub events: Vec<(f64, String)>,
    /// The trace hash at the end of the tick.
    pub trace_hash: u64,
}

/// What a live session tells its watcher.
#[derive(Debug)]
pub enum Update {
    Tick(Box<Frame>),
    /// A design's run ended (its scenario was over, or the session stopped), with its report.
    Done {
        lane: usize,
        result: Box<Result<Report, RunError>>,
    },
}

/// Designs of one scenario running live, in lock-step.
pub struct LiveSession {
    pub lockstep: Arc<Lockstep>,
    pub updates: Receiver<Update>,
    threads: Vec<JoinHandle<()>>,
}

impl LiveSession {
    /// Starts `designs` on `scenario` with `seed`, each on its own thread, at most `slack`
    /// ticks apart; they wait at tick 0 until the controller calls [`Lockstep::allow`].
    pub fn start(scenario: &Scenario, designs: &[Design], seed: u64, slack: u64) -> LiveSession {
        let lockstep = Lockstep::with_slack(designs.len(), slack);
        let (tx, updates) = std::sync::mpsc::channel();
        let threads = designs
            .iter()
            .enumerate()
            .map(|(index, &design)| {
                let lane = Lane {
                    index,
                    lockstep: lockstep.clone(),
                    updates: tx.clone(),
                    notes_seen: 0,
                };
                let scenario = scenario.clone();
                std::thread::spawn(move || {
                    let done = lane.updates.clone();
                    let gate = lane.lockstep.clone();
                    let result = run_with(
                        &scenario,
                        design,
                        seed,
                        None,
                        RunOptions {
                            observer: Some(Box::new(lane)),
                            ..RunOptions::default()
                        },
                    );
                    // A failed run never reached its own `finish`: release the others.
                    gate.finish(index);
                    let _ = done.send(Update::Done {
                        lane: index,
                        result: Box::new(result),
                    });
                })
            })
            .collect();
        LiveSession {
            lockstep,
            updates,
            threads,
        }
    }

    /// Stops every design at its next tick boundary and waits for their threads (dropping
    /// the session does the same).
    pub fn stop(self) {}
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        self.lockstep.stop();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
