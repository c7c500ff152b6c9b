//! Live sessions: the designs run in lock-step, a live command lands in every design at the
//! same tick, and the session replays bit for bit from what it recorded, whether it ran to
//! its end or was stopped part-way.

mod common;

use std::collections::BTreeMap;

use scalelab_sim::harness::live::{LiveSession, Update};
use scalelab_sim::scenario::fault::{Command, Fault, Role};
use scalelab_sim::{run_designs_with, Design, Report, RunOptions};

const SEED: u64 = 11;

fn kill_app() -> Command {
    Command::Inject {
        fault: Fault::Kill {
            target: Role::App,
            restart_after_s: None,
        },
        only: None,
    }
}

/// Reads updates until every design is done; returns (lane, tick) of every frame in arrival
/// order, and each design's report.
fn drain(session: &LiveSession, lanes: usize) -> (Vec<(usize, u64)>, Vec<Report>) {
    let mut order = Vec::new();
    let mut reports: BTreeMap<usize, Report> = BTreeMap::new();
    while reports.len() < lanes {
        match session.updates.recv().expect("a design's thread is alive") {
            Update::Tick(frame) => order.push((frame.lane, frame.tick)),
            Update::Done { lane, result } => {
                reports.insert(lane, result.expect("the run finishes"));
            }
        }
    }
    (order, reports.into_values().collect())
}

/// The same scenario, seed and commands, run headless: what `scalelab replay` does.
fn replay(
    scenario: &scalelab_sim::Scenario,
    commands: &[scalelab_sim::scenario::fault::Scheduled],
    ticks: Option<u64>,
) -> Vec<Report> {
    let options = Design::ALL
        .iter()
        .map(|_| RunOptions {
            commands: commands.to_vec(),
            ticks,
            ..Default::default()
        })
        .collect();
    run_designs_with(scenario, &Design::ALL, SEED, &[], options, || {})
        .into_iter()
        .map(|r| r.expect("the replay finishes"))
        .collect()
}

#[test]
fn a_live_session_runs_in_lock_step_and_replays_bit_for_bit() {
    for slack in [0, 3] {
        lock_step_with(slack);
    }
}

fn lock_step_with(slack: u64) {
    let scenario = common::small(30.0, 30.0);
    let session = LiveSession::start(&scenario, &Design::ALL, SEED, slack);
    let gate = session.lockstep.clone();
    // The controller: a few ticks ahead of the slowest design, as a pace that the designs
    // cannot keep up with would; a kill once ten are done.
    let controller = std::thread::spawn(move || {
        let mut kill_tick = None;
        while !gate.all_finished() {
            let done = gate.completed();
            if done >= 10 && kill_tick.is_none() {
                kill_tick = Some(gate.inject(kill_app()));
            }
            gate.allow(done + 5);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        kill_tick
    });
    let (order, reports) = drain(&session, Design::ALL.len());
    let kill_tick = controller
        .join()
        .expect("controller")
        .expect("a kill was sent");

    // Lock-step: no design sent tick t + 1 + slack before every design had sent tick t.
    let mut sent = vec![None::<u64>; Design::ALL.len()];
    for &(lane, tick) in &order {
        sent[lane] = Some(tick);
        let slowest = sent.iter().map(|t| t.map_or(-1, |t| t as i64)).min();
        assert!(
            tick as i64 - slowest.unwrap_or(-1) <= slack as i64 + 1,
            "slack {slack}: lane {lane} sent tick {tick} while another was at {slowest:?}"
        );
    }
    assert_eq!(
        order.len(),
        30 * Design::ALL.len(),
        "a frame per tick per design"
    );
    // The command reached every design at the same tick, and each recorded it there.
    for r in &reports {
        assert_eq!(r.commands.len(), 1, "{}", r.design);
        assert_eq!(r.commands[0].tick, kill_tick, "{}", r.design);
        assert!(r.cut_after_ticks.is_none());
        assert!(!r.checks.is_empty(), "a whole run is checked");
    }
    assert_eq!(
        reports[0].faults[0].at_s, kill_tick as f64,
        "applied at the start of its tick (1 s ticks)"
    );
    // Another run with the recorded commands gives the same hashes at every tick.
    let again = replay(&scenario, &reports[0].commands, None);
    for (live, replayed) in reports.iter().zip(&again) {
        assert_eq!(live.trace_hash, replayed.trace_hash, "{}", live.design);
        assert_eq!(live.checkpoints, replayed.checkpoints, "{}", live.design);
    }
    // And the kill made a difference: the run without it differs.
    let plain = replay(&scenario, &[], None);
    assert_ne!(plain[1].trace_hash, reports[1].trace_hash);
}

#[test]
fn a_session_stopped_part_way_replays_to_where_it_stopped() {
    let slack = 2;
    let scenario = common::small(30.0, 30.0);
    let session = LiveSession::start(&scenario, &Design::ALL, SEED, slack);
    let gate = session.lockstep.clone();
    gate.allow(4);
    while gate.completed() < 4 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // Nobody has started tick 4: the command lands there.
    assert_eq!(gate.inject(kill_app()), 4);
    gate.allow(12);
    while gate.completed() < 12 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // Tick 12 is not allowed: every design waits at its start, and stops there.
    gate.stop();
    let (_, reports) = drain(&session, Design::ALL.len());
    for r in &reports {
        assert_eq!(r.cut_after_ticks, Some(12), "{}", r.design);
        assert_eq!(r.checkpoints.len(), 12, "{}", r.design);
        assert!(r.checks.is_empty(), "a cut run is not judged");
        assert_eq!(
            Some(&format!("{:016x}", r.checkpoints[11])),
            Some(&r.trace_hash),
            "the hash is the last tick's"
        );
    }
    let again = replay(&scenario, &gate.commands(), Some(12));
    for (live, replayed) in reports.iter().zip(&again) {
        assert_eq!(live.trace_hash, replayed.trace_hash, "{}", live.design);
        assert_eq!(live.checkpoints, replayed.checkpoints, "{}", live.design);
        assert_eq!(replayed.cut_after_ticks, Some(12));
    }
}

/// A command aimed at one design (`only`) lands there alone: the others apply nothing and
/// keep the hash they have without it, while every design records the command, so a repro
/// of the session replays it.
#[test]
fn a_fault_aimed_at_one_design_lands_there_alone() {
    use scalelab_sim::scenario::fault::Scheduled;
    let scenario = common::small(30.0, 20.0);
    let aimed = vec![Scheduled {
        tick: 5,
        command: Command::Inject {
            fault: Fault::Kill {
                target: Role::App,
                restart_after_s: None,
            },
            only: Some("horizontal".into()),
        },
    }];
    let with = replay(&scenario, &aimed, None);
    let without = replay(&scenario, &[], None);
    for (w, o) in with.iter().zip(&without) {
        assert_eq!(w.commands, aimed, "{} records the command", w.design);
        let killed = w.faults.iter().any(|a| a.effect.starts_with("killed app"));
        if w.design == "horizontal" {
            assert!(killed, "{:?}", w.faults);
            assert_ne!(w.trace_hash, o.trace_hash);
        } else {
            assert!(!killed, "{}: {:?}", w.design, w.faults);
            assert_eq!(w.trace_hash, o.trace_hash, "{}", w.design);
        }
    }
}
