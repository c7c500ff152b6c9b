//! One run, inside its madsim runtime (`launch` gives it a thread and a seeded runtime): the
//! run's phases — build the deployment, start the traffic, tick until the arrivals stop
//! (faults land at tick boundaries), the liveness phase and the drain, judge, report.
//!
//! Someone watching (the live view) is an [`Observer`] at the tick boundaries; this module
//! knows nothing of what it does with what it sees.
//!
//! Must not: read the wall clock or any randomness but the seed inside the simulation. (The
//! wall clock is read only outside the runtime, to report how fast the simulation ran.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::runtime::Handle;
use tokio::time::Instant;

use crate::deployment::design::{Design, Wiring};
use crate::deployment::nodes::Sample;
use crate::deployment::{self, Deployment};
use crate::faults::inject::Injector;
use crate::faults::schedule::Schedule;
use crate::harness::liveness::{drain, liveness};
use crate::harness::report::{self, Engine, FaultRecord, Report, Tally};
use crate::judge::check::{self, check_all, Evidence};
use crate::judge::recovery::{self, Tolerance};
use crate::metrics::{Point, Recorder, Window};
use crate::scenario::fault::{Command, Scheduled};
use crate::scenario::Scenario;
use crate::traffic::browser::Users;
use crate::traffic::loadgen;
use crate::world::deadline::Deadlines;
use scalelab_system::bugs::Bugs;

/// The time series keeps at most this many points (see `metrics::Series`).
const SERIES_CAP: usize = 600;

/// How far a run has got, for a progress display on another thread.
#[derive(Debug, Default)]
pub struct Progress {
    pub virtual_ms: AtomicU64,
    pub requests: AtomicU64,
}

/// madsim's configuration for a scenario: the network's latency range.
pub fn config(scenario: &Scenario) -> madsim::Config {
    let mut config = madsim::Config::default();
    let ms = |v: f64| Duration::from_secs_f64(v / 1000.0);
    let min = ms(scenario.network.latency_ms_min.get_ref().0);
    // madsim draws from min..max, which must not be empty.
    let max = ms(scenario.network.latency_ms_max.get_ref().0).max(min + Duration::from_nanos(1));
    config.net.send_latency = min..max;
    config
}

/// Someone who watches a run at its tick boundaries and may steer it (the live view).
pub trait Observer: Send {
    /// Before tick `tick` starts: commands to apply at its start, or `None` to stop the run
    /// here (it is then cut: no drain, no checks).
    fn before_tick(&mut self, tick: u64) -> Option<Vec<Command>>;
    /// After a tick ended: what happened in it.
    fn after_tick(&mut self, tick: &TickView<'_>);
}

/// One tick, just ended, as an [`Observer`] sees it.
pub struct TickView<'a> {
    /// The tick (0-based) and the virtual time at its end.
    pub tick: u64,
    pub t: Duration,
    pub window: &'a Point,
    pub sample: &'a Sample,
    pub recorder: &'a Recorder,
    pub deployment: &'a Deployment,
    pub injector: &'a Injector,
}

/// What a run takes besides the scenario, the design and the seed.
#[derive(Default)]
pub struct RunOptions {
    /// Commands to apply at given ticks (a repro's recorded live commands).
    pub commands: Vec<Scheduled>,
    /// Someone watching at tick boundaries, who may add commands or stop the run.
    pub observer: Option<Box<dyn Observer>>,
    /// Stop after this many ticks (a repro of a live session saved part-way): no drain and
    /// no checks, since the run did not reach its end.
    pub ticks: Option<u64>,
    /// Planted bugs, for tests that prove the checkers catch them.
    pub bugs: Bugs,
    /// Student code to run in place of the shop's (`scalelab lesson check`).
    pub exercise: scalelab_system::exercises::Exercise,
    /// Keep a log of at most this many requests (an even sample past it), and hand it with
    /// the latency histograms and the event log to the report's `recording`, for the files
    /// `scalelab run --out` writes. `None`: keep nothing per request (a normal run).
    pub request_log: Option<usize>,
}

/// The simulation itself; must run inside a madsim runtime (see `launch::run`). Public so
/// that tests can hand it to `Runtime::check_determinism`.
pub async fn simulate(
    scenario: Arc<Scenario>,
    design: Design,
    progress: Option<Arc<Progress>>,
    mut options: RunOptions,
) -> Report {
    let handle = Handle::current();
    let seed = handle.seed();
    // A swarm seed may also vary the world (scarce stock, late mail), not only its faults.
    let (scenario, varied) = scenario.for_seed(seed);
    let scn = scenario.as_ref();
    let start = Instant::now();
    let slo = Duration::from_secs_f64(scn.slo.timeout_ms.0 / 1000.0);

    let wiring = Wiring {
        bugs: options.bugs,
        exercise: options.exercise,
        ..design.wiring(scn)
    };
    let recorder = Recorder::new(slo, SERIES_CAP, options.request_log);
    let recorder = Arc::new(Mutex::new(recorder));
    for line in &varied {
        let mut r = recorder.lock().unwrap_or_else(|p| p.into_inner());
        r.note(Duration::ZERO, line.clone());
    }
    let mut deployment =
        deployment::build(&handle, &scenario, design, wiring, recorder.clone(), start);
    let mut injector = Injector::new(handle.clone(), scn, config(scn).net);

    let users = Arc::new(Users {
        app: deployment.entry,
        slo: Deadlines::new(slo),
        recorder: recorder.clone(),
        start,
        stop_at: start + Duration::from_secs_f64(scn.duration_s()),
    });
    let map = deployment.shard_map().clone();
    loadgen::start(&handle, scn, seed, users, injector.skew(), map);

    let mut schedule = Schedule::new(scn, seed, std::mem::take(&mut options.commands));
    let mut tally = Tally::default();
    let cut = ticks(
        scn,
        &handle,
        start,
        &mut options,
        progress.as_deref(),
        (&mut deployment, &mut injector, &mut schedule),
        &recorder,
        &mut tally,
    )
    .await;
    // No more ticks: whoever watched need not wait for this design any longer.
    drop(options.observer.take());
    if let Some(ticks) = cut {
        let r = recorder.lock().unwrap_or_else(|p| p.into_inner());
        let faults = FaultRecord::of(&injector, schedule.recorded, varied);
        let cut = report::cut(scn, &deployment, seed, ticks, &r, tally.checkpoints, faults);
        return Report {
            engine: Engine::now(),
            ..cut
        };
    }

    // Requests sent just before the end finish (or time out) within the SLO.
    tokio::time::sleep(slo + Duration::from_millis(10)).await;
    let within = Duration::from_secs_f64(scn.checks.recovery_s.0);
    let disturbed = injector.disturbed();
    let probe = if disturbed.is_empty() {
        None
    } else {
        let entry = deployment.entry;
        Some(liveness(&handle, &mut injector, &recorder, entry, start, slo, within).await)
    };
    let interval = Duration::from_secs_f64(scn.metrics.interval_s.0);
    drain(
        &deployment,
        start,
        interval,
        scn.checks.drain_s.0,
        &mut tally.lag,
    )
    .await;

    let tolerance = Tolerance {
        within_s: within.as_secs_f64(),
        orders: scn.checks.recovery_orders.0,
        availability_drop: scn.checks.recovery_availability_drop.0,
        p99: scn.checks.recovery_p99.0,
    };
    let recovery = recovery::judge(&tally.windows, &disturbed, probe.as_ref(), &tolerance);
    let r = recorder.lock().unwrap_or_else(|p| p.into_inner());
    let evidence = Evidence {
        design,
        acked: &r.acked,
        carts_lost: &r.carts_lost,
        carts_wrong: &r.carts_wrong,
        history_reads: &r.history_reads,
        double_clicks: r.double_clicks,
        tab_adds: r.tab_adds,
        sales: probe.as_ref().and_then(|p| p.sales.as_ref()),
        world: deployment.take_evidence(),
        lag: &tally.lag,
        broker_outages: injector.outages(),
        faults: injector.spans(),
        lag_recovery_s: scn.checks.lag_recovery_s.0,
        last_heal_s: injector.last_heal_s(),
        app_killed: injector.app_killed(),
        recovery: &recovery,
        log: &r.log,
    };
    let (checks, paths) = (check_all(&evidence), check::paths(&evidence));
    let faults = FaultRecord::of(&injector, schedule.recorded, varied);
    let whole = report::whole(scn, seed, &r, tally, &deployment, faults, checks, recovery);
    Report {
        paths,
        engine: Engine::now(),
        ..whole
    }
}

/// The tick loop: until the arrivals stop, apply what is due at each tick's start, let the
/// tick run, then measure it. Returns the ticks done if the run was cut short (by its
/// observer or by `options.ticks`).
#[allow(clippy::too_many_arguments)]
async fn ticks(
    scn: &Scenario,
    handle: &Handle,
    start: Instant,
    options: &mut RunOptions,
    progress: Option<&Progress>,
    (deployment, injector, schedule): (&mut Deployment, &mut Injector, &mut Schedule),
    recorder: &Mutex<Recorder>,
    tally: &mut Tally,
) -> Option<u64> {
    let duration = Duration::from_secs_f64(scn.duration_s());
    let interval = Duration::from_secs_f64(scn.metrics.interval_s.0);
    let mut tick = 0u64;
    let mut t = Duration::ZERO;
    while t < duration {
        let live = match options.observer.as_mut().map(|o| o.before_tick(tick)) {
            Some(None) => return Some(tick),
            Some(Some(commands)) => commands,
            None => Vec::new(),
        };
        if options.ticks.is_some_and(|n| tick >= n) {
            return Some(tick);
        }
        schedule.at_tick(tick, t, live, injector, deployment, recorder);
        let step = interval.min(duration - t);
        tokio::time::sleep_until(start + t + step).await;
        t += step;
        let sample = deployment.sample(step);
        let mut r = recorder.lock().unwrap_or_else(|p| p.into_inner());
        for &(replica, up) in &sample.health_changes {
            r.replica_health(t, replica, up);
        }
        let window = r.close_window(Window {
            t_s: (t - step).as_secs_f64(),
            span_s: step.as_secs_f64(),
            app_cpu: sample.app_cpu,
            db_cpu: sample.db_cpu,
            replicas: sample.replicas,
            emails: sample.emails,
            queue_lag: sample.queue_lag,
            shard_cpu: sample.shard_cpu.clone(),
        });
        tally.tick(
            t.as_secs_f64(),
            step.as_secs_f64(),
            &sample,
            window.clone(),
            r.trace_hash().0,
        );
        if let Some(o) = options.observer.as_mut() {
            o.after_tick(&TickView {
                tick,
                t,
                window: &window,
                sample: &sample,
                recorder: &r,
                deployment,
                injector,
            });
        }
        let requests = r.requests;
        drop(r);
        tick += 1;
        // madsim keeps a weak pointer to every task ever spawned on a node, and only
        // `num_tasks()` prunes the dead ones; the weak pointers keep each dead task's
        // allocation alive, so without this call memory grows by ~0.3 KB per simulated
        // request for the whole run. It reads no randomness and wakes no task.
        let _ = handle.metrics().num_tasks();
        if let Some(p) = progress {
            p.virtual_ms.store(t.as_millis() as u64, Ordering::Relaxed);
            p.requests.store(requests, Ordering::Relaxed);
        }
    }
    None
}
