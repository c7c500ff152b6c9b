//! Same scenario + same seed = the same run, bit for bit (ARCHITECTURE.md, "Determinism").

mod common;

use std::sync::Arc;

use scalelab_sim::harness::run::{config, simulate};
use scalelab_sim::run;
use scalelab_sim::Design;

#[test]
fn same_seed_same_hash_on_fresh_threads() {
    let scenario = common::small(20.0, 20.0);
    let a = run(&scenario, Design::Vertical, 42, None).expect("run");
    let b = run(&scenario, Design::Vertical, 42, None).expect("run");
    assert!(
        a.requests > 500,
        "the scenario does real work ({} requests)",
        a.requests
    );
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.trace_events, b.trace_events);
    assert_eq!(a.latency.p99_ms, b.latency.p99_ms);
    assert_eq!(a.orders, b.orders);
}

#[test]
fn same_seed_same_hash_when_runs_overlap() {
    // Two runs at once on two threads must not disturb each other.
    let scenario = common::small(20.0, 20.0);
    let s2 = scenario.clone();
    let t =
        std::thread::spawn(move || run(&s2, Design::Vertical, 7, None).expect("run").trace_hash);
    let here = run(&scenario, Design::Vertical, 7, None)
        .expect("run")
        .trace_hash;
    assert_eq!(here, t.join().expect("thread"));
}

/// One small run's trace hash, pinned. The draws behind it use only `libm` and ChaCha, so a
/// build on any OS and CPU must print this hash; a change that moves it must say why in its
/// commit (and re-pin README's hashes with it).
#[test]
fn a_small_runs_trace_hash_is_pinned() {
    let scenario = common::small(20.0, 20.0);
    let report = run(&scenario, Design::Vertical, 42, None).expect("run");
    assert_eq!(report.trace_hash, "510117a4306c8b36");
}

#[test]
fn another_seed_another_hash() {
    let scenario = common::small(20.0, 20.0);
    let a = run(&scenario, Design::Vertical, 42, None).expect("run");
    let b = run(&scenario, Design::Vertical, 43, None).expect("run");
    assert_ne!(a.trace_hash, b.trace_hash);
}

fn small_simulation() -> impl std::future::Future<Output = scalelab_sim::Report> {
    simulate(
        Arc::new(common::small(20.0, 10.0)),
        Design::Vertical,
        None,
        Default::default(),
    )
}

#[test]
fn madsim_determinism_check_passes() {
    // Runs the simulation twice and checks that every random draw madsim sees is the same.
    let scenario = common::small(20.0, 10.0);
    let report =
        madsim::runtime::Runtime::check_determinism(42, config(&scenario), small_simulation);
    assert!(report.requests > 0);
}

fn swarm_scenario() -> scalelab_sim::Scenario {
    let text = format!(
        "{}\n[swarm]\nfaults = 6\nfrom_s = 2\nmin_duration_s = 1\nmax_duration_s = 6\n",
        common::small_text(20.0, 20.0)
    );
    scalelab_sim::parse(&text).expect("scenario")
}

fn sharded_swarm() -> impl std::future::Future<Output = scalelab_sim::Report> {
    simulate(
        Arc::new(swarm_scenario()),
        Design::Sharded,
        None,
        Default::default(),
    )
}

#[test]
fn madsim_determinism_check_passes_with_random_faults() {
    // Kills, restarts, partitions and network changes draw on madsim's randomness too.
    let scenario = swarm_scenario();
    let report = madsim::runtime::Runtime::check_determinism(9, config(&scenario), sharded_swarm);
    assert!(report.faults.len() >= 6, "{:?}", report.faults);
}

/// The simulator's own counts (messages, timer events, task runs) are as deterministic as
/// the run, and there is real work behind every request: `bench` compares builds by them.
#[test]
fn the_engines_counts_repeat_with_the_run() {
    let scenario = common::small(20.0, 20.0);
    let a = run(&scenario, Design::Horizontal, 5, None).expect("run");
    let b = run(&scenario, Design::Horizontal, 5, None).expect("run");
    assert_eq!(a.engine, b.engine);
    // A request crosses at least two links (browser to balancer, balancer to replica) and
    // back: four messages, each arriving on a timer and waking a task.
    assert!(
        a.engine.messages >= 4 * a.requests,
        "{:?} for {}",
        a.engine,
        a.requests
    );
    assert!(a.engine.timers >= a.engine.messages, "{:?}", a.engine);
    assert!(a.engine.polls >= a.engine.messages, "{:?}", a.engine);
}
