//! Shrinking (`scalelab_sim::harness::shrink`): a failing swarm seed, with a planted bug on,
//! cut down to a run of at most 3 faults and a quarter of the swarm's minute that still breaks
//! the same invariant, and that breaks it because of the bug (the correct shop holds it on the
//! shrunk run), deterministically.
//!
//! `#[ignore]`d: each search is a couple of hundred runs. `cargo xtask swarm-planted` runs it
//! (CI does, in the slow tier).

mod common;

use std::time::Instant;

use common::status;
use scalelab_sim::harness::shrink::{shrink, Request, Shrunk, Step};
use scalelab_sim::judge::check::Status;
use scalelab_sim::{parse, run, Design};
use scalelab_system::bugs::Bugs;

fn swarm_text() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/swarm.toml");
    std::fs::read_to_string(path).expect("scenarios/swarm.toml")
}

/// Shrinks `seed` of the swarm with `bugs` on, keeping `invariant` broken, and checks what a
/// shrink promises.
fn shrinks(bugs: Bugs, seed: u64, designs: &[Design], invariant: &str) -> Shrunk {
    let text = swarm_text();
    let started = Instant::now();
    let mut steps: Vec<Step> = Vec::new();
    let req = Request {
        scenario_text: &text,
        seed,
        designs,
        invariant: Some(invariant),
        commands: &[],
        budget: 300,
        bugs,
    };
    let s = shrink(&req, &mut |s| steps.push(s.clone())).expect("the seed breaks the invariant");
    println!(
        "{invariant} on {}: {} fault(s), {} s -> {} fault(s), {} s in {} runs, {:.0} s wall",
        s.design.name(),
        s.before_faults,
        s.before.duration_s,
        s.after_faults,
        s.after.duration_s,
        s.runs,
        started.elapsed().as_secs_f64()
    );
    for step in &steps {
        println!(
            "  {:>3} {} {}",
            step.run,
            if step.kept { "kept" } else { "    " },
            step.what
        );
    }
    assert_eq!(s.invariant, invariant);
    assert_eq!(status(&s.after, invariant), Status::Violated);
    assert!(s.after_faults <= 3, "{} faults left", s.after_faults);
    assert!(
        s.after.duration_s <= s.before.duration_s / 4.0,
        "{} s of {} s",
        s.after.duration_s,
        s.before.duration_s
    );
    assert!(s.runs <= 300);
    // The shrunk case replays as a plain scenario, and breaks the invariant because of the
    // bug: the correct shop holds it there.
    let scn = parse(&s.scenario_text).expect("the shrunk scenario is valid");
    assert!(scn.swarm.is_none(), "the swarm is written out");
    let clean = run(&scn, s.design, seed, None).expect("runs");
    assert_eq!(
        status(&clean, invariant),
        Status::Held,
        "the correct shop holds {invariant} on the shrunk run:\n{}",
        s.scenario_text
    );
    s
}

#[test]
#[ignore = "slow tier: cargo xtask swarm-planted"]
fn a_keyless_email_bug_shrinks_to_a_few_faults_in_a_short_run() {
    let bugs = Bugs {
        email_without_key: true,
        ..Bugs::default()
    };
    let a = shrinks(bugs, 0, &Design::ALL, "one-confirmation-email");
    // Deterministic: the same search again ends on the same case.
    let text = swarm_text();
    let again = shrink(
        &Request {
            scenario_text: &text,
            seed: 0,
            designs: &Design::ALL,
            invariant: Some("one-confirmation-email"),
            commands: &[],
            budget: 300,
            bugs,
        },
        &mut |_| {},
    )
    .expect("shrinks");
    assert_eq!(a.scenario_text, again.scenario_text);
    assert_eq!(a.after.trace_hash, again.after.trace_hash);
}

#[test]
#[ignore = "slow tier: cargo xtask swarm-planted"]
fn a_breaker_that_never_closes_shrinks_to_the_fault_that_opens_it() {
    let bugs = Bugs {
        checkout_breaker_never_closes: true,
        ..Bugs::default()
    };
    shrinks(bugs, 1, &[Design::Horizontal], "recovers");
}

#[test]
#[ignore = "slow tier: cargo xtask swarm-planted"]
fn a_cart_paid_twice_shrinks_to_a_short_run() {
    let bugs = Bugs {
        cart_paid_twice: true,
        ..Bugs::default()
    };
    shrinks(bugs, 0, &[Design::Queued], "one-order-per-cart");
}

#[test]
fn a_seed_that_breaks_nothing_has_nothing_to_shrink() {
    let text = common::small_text(5.0, 5.0);
    let err = match shrink(
        &Request {
            scenario_text: &text,
            seed: 3,
            designs: &[Design::Vertical],
            invariant: None,
            commands: &[],
            budget: 10,
            bugs: Bugs::default(),
        },
        &mut |_| {},
    ) {
        Ok(_) => panic!("a run that holds every invariant was shrunk"),
        Err(e) => e,
    };
    assert!(err.contains("breaks no invariant"), "{err}");
    let err = match shrink(
        &Request {
            scenario_text: &text,
            seed: 3,
            designs: &[Design::Vertical],
            invariant: Some("no-such-check"),
            commands: &[],
            budget: 10,
            bugs: Bugs::default(),
        },
        &mut |_| {},
    ) {
        Ok(_) => panic!("an unknown invariant was accepted"),
        Err(e) => e,
    };
    assert!(err.contains("unknown invariant `no-such-check`"), "{err}");
}
