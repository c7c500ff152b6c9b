//! The slow tier's proof that the swarm reaches every new checker: each planted bug meant for
//! one (see `scalelab_system::bugs`) is caught by that checker within 100 seeds of
//! `scenarios/swarm.toml`, on every design the bug applies to. `planted.rs` proves the same
//! checkers on scenarios written for each bug; this proves that a hunt, which knows nothing of
//! the bug, gets there too.
//!
//! `#[ignore]`d: it runs many swarm seeds. `cargo xtask swarm-planted` runs it (CI does,
//! after the course); it stops each search at the first seed that catches the bug and prints
//! that seed per (bug, design).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use common::status;
use scalelab_sim::judge::check::Status;
use scalelab_sim::{run_with, Design, RunOptions, Scenario};
use scalelab_system::bugs::Bugs;

/// A checker must catch its bug within this many swarm seeds (0, 1, 2, ...).
const WITHIN: u64 = 100;

/// One planted bug, the checker meant for it, and the designs it can show in.
struct Case {
    bug: &'static str,
    bugs: Bugs,
    check: &'static str,
    designs: &'static [Design],
}

const ALL: &[Design] = &Design::ALL;
const QUEUED: &[Design] = &[Design::Queued, Design::Sharded];
const SHARDED: &[Design] = &[Design::Sharded];

fn cases() -> Vec<Case> {
    let on = |set: fn(&mut Bugs)| {
        let mut bugs = Bugs::default();
        set(&mut bugs);
        bugs
    };
    vec![
        Case {
            bug: "email_without_key",
            bugs: on(|b| b.email_without_key = true),
            check: "one-confirmation-email",
            designs: ALL,
        },
        Case {
            bug: "skip_failed_jobs",
            bugs: on(|b| b.skip_failed_jobs = true),
            check: "queue-drained",
            designs: QUEUED,
        },
        Case {
            bug: "save_only_growing_carts",
            bugs: on(|b| b.save_only_growing_carts = true),
            check: "cart-exact",
            designs: ALL,
        },
        Case {
            bug: "history_by_modulo",
            bugs: on(|b| b.history_by_modulo = true),
            check: "read-your-writes",
            designs: SHARDED,
        },
        Case {
            bug: "report_first_shard_only",
            bugs: on(|b| b.report_first_shard_only = true),
            check: "read-your-writes",
            designs: SHARDED,
        },
        Case {
            bug: "cart_paid_twice",
            bugs: on(|b| b.cart_paid_twice = true),
            check: "one-order-per-cart",
            designs: ALL,
        },
        Case {
            bug: "checkout_breaker_never_closes",
            bugs: on(|b| b.checkout_breaker_never_closes = true),
            check: "recovers",
            designs: ALL,
        },
        Case {
            bug: "publisher_never_reconnects",
            bugs: on(|b| b.publisher_never_reconnects = true),
            check: "lag-recovers",
            designs: QUEUED,
        },
    ]
}

fn swarm() -> Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/swarm.toml");
    let text = std::fs::read_to_string(path).expect("scenarios/swarm.toml");
    scalelab_sim::parse(&text).expect("the swarm scenario is valid")
}

/// The first seed from 0 on which `check` catches `bugs` in `design`, and the runs it took;
/// `None` if none of the first `WITHIN` seeds does. The correct shop must hold that check on
/// the catching seed: the bug made the difference, not the seed.
fn first_catch(scn: &Scenario, design: Design, bugs: Bugs, check: &str) -> Option<u64> {
    for seed in 0..WITHIN {
        let options = RunOptions {
            bugs,
            ..Default::default()
        };
        let buggy = run_with(scn, design, seed, None, options).expect("runs");
        if status(&buggy, check) != Status::Violated {
            continue;
        }
        let clean = run_with(scn, design, seed, None, RunOptions::default()).expect("runs");
        assert_eq!(
            status(&clean, check),
            Status::Held,
            "{check} holds on the correct shop ({design:?}, seed {seed})"
        );
        return Some(seed);
    }
    None
}

#[test]
#[ignore = "slow tier: cargo xtask swarm-planted"]
fn every_new_checker_catches_its_planted_bug_within_100_swarm_seeds() {
    let scn = swarm();
    let cases = cases();
    let jobs: Vec<(&Case, Design)> = cases
        .iter()
        .flat_map(|c| c.designs.iter().map(move |&d| (c, d)))
        .collect();
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let found: Mutex<Vec<(usize, Option<u64>, f64)>> = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads.min(jobs.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(case, design)) = jobs.get(i) else {
                    break;
                };
                let t = Instant::now();
                let seed = first_catch(&scn, design, case.bugs, case.check);
                let secs = t.elapsed().as_secs_f64();
                found.lock().expect("not poisoned").push((i, seed, secs));
            });
        }
    });
    let mut found = found.into_inner().expect("not poisoned");
    found.sort_by_key(|f| f.0);
    println!("first swarm seed that catches each planted bug (of seeds 0..{WITHIN}):");
    let mut missed = Vec::new();
    for &(i, seed, secs) in &found {
        let (case, design) = jobs[i];
        let design = format!("{design:?}").to_lowercase();
        let first = seed.map_or_else(|| "none".to_owned(), |s| s.to_string());
        println!(
            "  {:<30} {design:<11} {:<23} seed {first:>4}  ({secs:.0} s)",
            case.bug, case.check
        );
        if seed.is_none() {
            missed.push(format!("{} in {design}", case.bug));
        }
    }
    println!("{:.0} s in all", started.elapsed().as_secs_f64());
    assert!(
        missed.is_empty(),
        "not caught within {WITHIN} swarm seeds: {missed:?}"
    );
}
