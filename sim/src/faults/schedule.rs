//! The run's fault schedule: the scenario's timeline, this seed's swarm faults and scheduled
//! commands (a repro's recorded live commands), merged with live commands as they come, and
//! applied at the start of each tick in one fixed order: heals first, then the timeline, then
//! commands. Every command applied is recorded with its tick, so the run can be replayed.
//!
//! Must not: decide what a fault does to a design (the injector does) or when a tick starts
//! (the harness does).

use std::sync::Mutex;
use std::time::Duration;

use crate::deployment::Deployment;
use crate::faults::inject::Injector;
use crate::metrics::Recorder;
use crate::scenario::fault::{Command, Scheduled, TimedFault};
use crate::scenario::Scenario;

pub struct Schedule {
    timeline: Vec<TimedFault>,
    next: usize,
    scheduled: Vec<Scheduled>,
    /// Every command applied, with its tick (a live session's repro replays these).
    pub recorded: Vec<Scheduled>,
}

impl Schedule {
    /// The scenario's timeline and `seed`'s swarm faults, in time order, and `commands` to
    /// apply at their ticks.
    pub fn new(scn: &Scenario, seed: u64, commands: Vec<Scheduled>) -> Schedule {
        let mut timeline: Vec<TimedFault> =
            scn.faults.iter().map(|f| f.get_ref().clone()).collect();
        if let Some(swarm) = &scn.swarm {
            timeline.extend(swarm.get_ref().schedule(
                seed,
                scn.duration_s(),
                scn.sharded.shards.get(),
                scn.workload().products.get(),
            ));
        }
        timeline.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        Schedule {
            timeline,
            next: 0,
            scheduled: commands,
            recorded: Vec::new(),
        }
    }

    /// Applies everything due at the start of tick `tick` (virtual time `t`), with `live`
    /// commands last, and records what was done in the trace and the event log.
    pub fn at_tick(
        &mut self,
        tick: u64,
        t: Duration,
        live: Vec<Command>,
        injector: &mut Injector,
        deployment: &Deployment,
        recorder: &Mutex<Recorder>,
    ) {
        let mut applied = injector.heal_due(t);
        while let Some(f) = self.timeline.get(self.next) {
            if f.at_s > t.as_secs_f64() {
                break;
            }
            applied.push(injector.apply(t, &f.fault, deployment));
            self.next += 1;
        }
        let mut commands: Vec<Command> = self
            .scheduled
            .iter()
            .filter(|s| s.tick == tick)
            .map(|s| s.command.clone())
            .collect();
        commands.extend(live);
        for command in commands {
            applied.extend(injector.command(t, &command, deployment));
            self.recorded.push(Scheduled { tick, command });
        }
        if !applied.is_empty() {
            let mut r = recorder.lock().unwrap_or_else(|p| p.into_inner());
            for a in &applied {
                r.fault(t, &a.what(), &a.effect, &a.detail);
            }
        }
    }
}
