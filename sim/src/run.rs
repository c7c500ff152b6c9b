//! One run: a fresh OS thread, a madsim Runtime seeded with the run's seed, the naive design
//! assembled from system code and simulated infrastructure, traffic, and a report.
//!
//! Must not: read the wall clock or any randomness but the seed inside the simulation. (The
//! wall clock is read only outside the runtime, to report how fast the simulation ran.)

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::runtime::{Handle, NodeHandle, Runtime};
use tokio::time::Instant;

use crate::check::{check_all, DbContents, Evidence, Outage};
use crate::client::{run_session, Users};
use crate::db::DbServer;
use crate::deadline::Deadlines;
use crate::design::{self, Design, MAIL};
use crate::design::{Node, ReplicaState, Wiring};
use crate::fault::{Command, Scheduled, TimedFault};
use crate::host::Kind;
use crate::inject::{Injector, Skew, Topology};
use crate::live::{Frame, Lane, NodeView, Update};
use crate::mail::MailServer;
use crate::metrics::{Recorder, Window, PROBE_CUSTOMER};
use crate::report::{CpuReport, KindReport, Report, Sessions};
use crate::scenario::{Model, Scenario};
use crate::workload::{skew_plan, Arrivals, Planner, RateCurve};
use scalelab_system::bugs::Bugs;
use scalelab_system::memory::demo_catalog;
/// Simulated browsers are spread over this many client nodes. Many, because madsim finds a
/// free ephemeral port by scanning a node's sockets from port 1: with tens of thousands of
/// open browser connections on a few nodes, every new connection cost a long scan (7.5% of a
/// black-friday run's CPU with 4 nodes).
const CLIENT_NODES: u8 = 64;
/// The time series keeps at most this many points (see `metrics::Series`).
const SERIES_CAP: usize = 600;

/// How far a run has got, for a progress display on another thread.
#[derive(Debug, Default)]
pub struct Progress {
    pub virtual_ms: AtomicU64,
    pub requests: AtomicU64,
}

/// What a run takes besides the scenario, the design and the seed.
#[derive(Default)]
pub struct RunOptions {
    /// Commands to apply at given ticks (a repro's recorded live commands).
    pub commands: Vec<Scheduled>,
    /// A live session's lane: wait at its gate before every tick, apply the live commands
    /// it hands out (recorded with their tick), send a frame after every tick.
    pub lane: Option<Lane>,
    /// Stop after this many ticks (a repro of a live session saved part-way): no drain and
    /// no checks, since the run did not reach its end.
    pub ticks: Option<u64>,
    /// Planted bugs, for tests that prove the checkers catch them.
    pub bugs: Bugs,
    /// COURSE: student code to run in place of the shop's (`scalelab lesson check`).
    pub exercise: scalelab_system::exercises::Exercise,
}

/// Why a run did not produce a report.
#[derive(Debug)]
pub enum RunError {
    /// The simulation panicked: a bug in scalelab. The message and the seed reproduce it.
    Panicked { seed: u64, message: String },
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Panicked { seed, message } => {
                write!(f, "the simulation panicked (seed {seed}): {message}")
            }
        }
    }
}

impl std::error::Error for RunError {}

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

/// Runs `design` on `scenario` with `seed` on a fresh OS thread (std's hash maps are seeded
/// per thread, and madsim's runtime must not share a thread with another run).
pub fn run(
    scenario: &Scenario,
    design: Design,
    seed: u64,
    progress: Option<Arc<Progress>>,
) -> Result<Report, RunError> {
    run_with(scenario, design, seed, progress, RunOptions::default())
}

/// [`run`] with commands to apply during the run.
pub fn run_with(
    scenario: &Scenario,
    design: Design,
    seed: u64,
    progress: Option<Arc<Progress>>,
    options: RunOptions,
) -> Result<Report, RunError> {
    let scenario = Arc::new(scenario.clone());
    std::thread::Builder::new()
        .name(format!("sim-{}-seed-{seed}", design.name()))
        .spawn(move || {
            let rt = Runtime::with_seed_and_config(seed, config(&scenario));
            rt.block_on(simulate(scenario, design, progress, options))
        })
        .map_err(|e| RunError::Panicked {
            seed,
            message: format!("could not start the simulation thread: {e}"),
        })?
        .join()
        .map_err(|panic| RunError::Panicked {
            seed,
            message: panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "unknown panic".into()),
        })
}

/// Runs several designs of `scenario` with the same `seed` at once, each on its own thread
/// (via [`run`]), and calls `watch` about every 20 ms of wall time until all have finished, so
/// a caller can show or time their `progress` (one per design). Reports come back in the
/// order of `designs`.
pub fn run_designs(
    scenario: &Scenario,
    designs: &[Design],
    seed: u64,
    progress: &[Arc<Progress>],
    watch: impl FnMut(),
) -> Vec<Result<Report, RunError>> {
    let options = designs.iter().map(|_| RunOptions::default()).collect();
    run_designs_with(scenario, designs, seed, progress, options, watch)
}

/// [`run_designs`] with each design's options (in the order of `designs`).
pub fn run_designs_with(
    scenario: &Scenario,
    designs: &[Design],
    seed: u64,
    progress: &[Arc<Progress>],
    options: Vec<RunOptions>,
    mut watch: impl FnMut(),
) -> Vec<Result<Report, RunError>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = designs
            .iter()
            .zip(progress.iter().map(Some).chain(std::iter::repeat(None)))
            .zip(
                options
                    .into_iter()
                    .map(Some)
                    .chain(std::iter::repeat_with(|| None)),
            )
            .map(|((&design, p), o)| {
                let p = p.cloned();
                scope.spawn(move || run_with(scenario, design, seed, p, o.unwrap_or_default()))
            })
            .collect();
        while handles.iter().any(|h| !h.is_finished()) {
            std::thread::sleep(std::time::Duration::from_millis(20));
            watch();
        }
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(RunError::Panicked {
                        seed,
                        message: "a simulation thread died".into(),
                    })
                })
            })
            .collect()
    })
}

/// The simulation itself; must run inside a madsim runtime (see [`run`]). Public so that tests
/// can hand it to `Runtime::check_determinism`.
pub async fn simulate(
    scenario: Arc<Scenario>,
    design: Design,
    progress: Option<Arc<Progress>>,
    mut options: RunOptions,
) -> Report {
    let handle = Handle::current();
    let seed = handle.seed();
    let scn = scenario.as_ref();
    let start = Instant::now();
    let duration = Duration::from_secs_f64(scn.duration_s());
    let slo = Duration::from_secs_f64(scn.slo.timeout_ms.0 / 1000.0);
    let w = scn.workload();

    // --- Infrastructure: the database server and the mail provider, each on its own node.
    // One database, or one per shard: each shard holds the catalog, its share of the stock,
    // and order ids from its own sequence (shard i: i+1, i+1+n, ...).
    let wiring = Wiring {
        bugs: options.bugs,
        exercise: options.exercise, // COURSE
        ..design.wiring(scn)
    };
    let shards = wiring.shards;
    let db_nodes: Vec<(Node, Arc<DbServer>)> = (0..shards)
        .map(|i| {
            let stock = scn.database.stock_per_product / shards;
            // A shard's share of the data may fit in memory where the whole did not.
            let mut params = scn.database.clone();
            if shards > 1 {
                let speedup = scn.sharded.working_set_speedup.0;
                params.read_cpu_ms.0 /= speedup;
                params.write_cpu_ms.0 /= speedup;
            }
            let server = Arc::new(
                DbServer::shard(
                    &params,
                    demo_catalog(w.products.get()),
                    stock,
                    u64::from(i) + 1,
                    u64::from(shards),
                )
                .with_bugs(options.bugs),
            );
            let name = if shards == 1 {
                "db".to_owned()
            } else {
                format!("db-{i}")
            };
            // The server's state lives outside the node: a restarted database finds its
            // data where it left it, as a real one finds its disk.
            let s = server.clone();
            let node =
                handle
                    .create_node()
                    .name(name.clone())
                    .ip(design::db_addr(i).ip())
                    .init(move || {
                        let s = s.clone();
                        async move {
                            design::serve_forever(|| s.clone().serve(design::db_addr(i))).await
                        }
                    })
                    .build();
            ((node.id(), name), server)
        })
        .collect();
    let mail = Arc::new(MailServer::new(&scn.mail));
    let m = mail.clone();
    let mail_node = handle
        .create_node()
        .name("mail")
        .ip(MAIL.ip())
        .init(move || {
            let m = m.clone();
            async move { design::serve_forever(|| m.clone().serve(MAIL)).await }
        })
        .build();

    // --- The app tier: the same storefront code, assembled as the design says.
    let recorder = Arc::new(Mutex::new(Recorder::new(slo, SERIES_CAP)));
    let tier = match design {
        Design::Vertical => design::vertical(&handle, &scenario, wiring),
        Design::Horizontal | Design::Queued | Design::Sharded => {
            design::horizontal(&handle, &scenario, recorder.clone(), start, wiring)
        }
    };

    let dbs: Vec<Arc<DbServer>> = db_nodes.iter().map(|(_, db)| db.clone()).collect();
    let mut injector = Injector::new(handle.clone(), scn, config(scn).net);
    let skew = injector.skew();
    let map = options.exercise.shard_map(design::shard_map(scn)); // COURSE

    // --- Traffic.
    let users = Arc::new(Users {
        app: tier.entry,
        slo: Deadlines::new(slo),
        recorder: recorder.clone(),
        start,
        stop_at: start + duration,
    });
    let clients: Vec<NodeHandle> = (0..CLIENT_NODES)
        .map(|i| {
            handle
                .create_node()
                .name(format!("browsers-{i}"))
                .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 9, i + 1)))
                .build()
        })
        .collect();
    let planner = Arc::new(Planner::new(seed, w));
    let loadgen = handle
        .create_node()
        .name("loadgen")
        .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 8, 1)))
        .build();
    match w.model {
        Model::Open => {
            let arrivals = Arrivals::new(
                RateCurve::from_workload(w),
                scn.duration_s(),
                crate::workload::stream(seed, crate::workload::Purpose::Arrivals),
            );
            let (users, planner, clients) = (users.clone(), planner.clone(), clients.clone());
            let (skew, map, customers) = (skew.clone(), map.clone(), w.customers.get());
            loadgen.spawn(async move {
                // madsim never sleeps less than 1 ms, so a sleep per arrival would cap arrivals
                // at 1,000 per second. Instead, each wake-up starts every session whose time
                // has come; a session starts at most 1 ms late, and its first request's latency
                // counts from its scheduled arrival, so the lateness is not hidden.
                let mut arrivals = arrivals.enumerate().peekable();
                while let Some(&(_, next_s)) = arrivals.peek() {
                    let at = start + Duration::from_secs_f64(next_s);
                    if at > Instant::now() {
                        tokio::time::sleep_until(at).await;
                    }
                    let now = Instant::now();
                    while let Some((i, at_s)) =
                        arrivals.next_if(|&(_, t)| start + Duration::from_secs_f64(t) <= now)
                    {
                        let mut plan = planner.plan(i as u64);
                        let s = *skew.lock().unwrap_or_else(|p| p.into_inner());
                        if s != Skew::default() {
                            skew_plan(&mut plan, seed, s.hot_shard, s.hot_product, &map, customers);
                        }
                        let arrived = start + Duration::from_secs_f64(at_s);
                        clients[i % clients.len()].spawn(run_session(plan, arrived, users.clone()));
                    }
                }
            });
        }
        Model::Closed => {
            let count = w.users.map_or(0, |u| u.get());
            for user in 0..u64::from(count) {
                let (users, planner) = (users.clone(), planner.clone());
                let (skew, map, customers) = (skew.clone(), map.clone(), w.customers.get());
                clients[user as usize % clients.len()].spawn(async move {
                    tokio::time::sleep(Duration::from_secs_f64(
                        planner.start_offset_ms(user) / 1000.0,
                    ))
                    .await;
                    // Each user's sessions get their own index range, so plans never collide.
                    for n in 0u64.. {
                        if Instant::now() >= users.stop_at {
                            break;
                        }
                        let mut plan = planner.plan((user << 32) | n);
                        let s = *skew.lock().unwrap_or_else(|p| p.into_inner());
                        if s != Skew::default() {
                            skew_plan(&mut plan, seed, s.hot_shard, s.hot_product, &map, customers);
                        }
                        run_session(plan, Instant::now(), users.clone()).await;
                    }
                });
            }
        }
    }

    // --- The supervisor: close a metrics window every interval until the end, then drain.
    let interval = Duration::from_secs_f64(scn.metrics.interval_s.0);
    let mut db_busy = vec![0u64; dbs.len()];
    let mut shard_util_sum = vec![0.0f64; dbs.len()];
    let mut emails_before = 0u64;
    let (mut writes_before, mut writes_per_s_peak) = (0u64, 0.0f64);
    let (mut emails_per_min_peak, mut queue_lag_max) = (0.0f64, 0u64);
    let (mut app_util, mut db_util) = (Vec::new(), Vec::new());
    let (mut replicas_min, mut replicas_max) = (u32::MAX, 0u32);
    // Faults: the scenario's timeline and this seed's swarm schedule, in time order.
    let mut timeline: Vec<TimedFault> = scn.faults.iter().map(|f| f.get_ref().clone()).collect();
    if let Some(swarm) = &scn.swarm {
        timeline.extend(swarm.get_ref().schedule(
            seed,
            scn.duration_s(),
            scn.sharded.shards.get(),
            w.products.get(),
        ));
    }
    timeline.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    let topo = Topology {
        design,
        tier: &tier,
        dbs: db_nodes.clone(),
        mail: (mail_node.id(), "mail".to_owned()),
    };
    let mut faults = Faults {
        timeline,
        next: 0,
        recorded: Vec::new(),
        scheduled: std::mem::take(&mut options.commands),
    };
    // Whatever happens to this run, its lane must stop holding the others back.
    let lane = options.lane.take().map(FinishOnDrop);
    let mut lag_series: Vec<(f64, u64)> = Vec::new();
    // Every window as it closed (the report's series merges them on long runs).
    let mut windows: Vec<crate::metrics::Point> = Vec::new();
    let mut checkpoints: Vec<u64> = Vec::new();
    let mut tick = 0u64;
    let mut t = Duration::ZERO;
    let mut cut_after_ticks = None;
    let mut notes_seen = 0u64;
    while t < duration {
        let mut live = Vec::new();
        if let Some(FinishOnDrop(lane)) = &lane {
            match lane.lockstep.enter(lane.index, tick) {
                Some(commands) => live = commands,
                None => {
                    cut_after_ticks = Some(tick);
                    break;
                }
            }
        }
        if options.ticks.is_some_and(|n| tick >= n) {
            cut_after_ticks = Some(tick);
            break;
        }
        faults.at_tick(tick, t, live, &mut injector, &topo, &recorder);
        let step = interval.min(duration - t);
        tokio::time::sleep_until(start + t + step).await;
        t += step;
        // The database's load is its hottest shard's: that is the one that limits.
        let mut ud = 0.0f64;
        let mut shard_cpu = Vec::with_capacity(dbs.len());
        for (i, db) in dbs.iter().enumerate() {
            let d = db.cpu.busy_ns();
            let u = ((d - db_busy[i]) as f64
                / (step.as_nanos() as f64 * f64::from(db.cpu.cores())))
            .min(1.0);
            db_busy[i] = d;
            shard_util_sum[i] += u;
            shard_cpu.push(u);
            ud = ud.max(u);
        }
        let writes: u64 = dbs.iter().map(|db| db.writes()).sum();
        writes_per_s_peak =
            writes_per_s_peak.max((writes - writes_before) as f64 / step.as_secs_f64());
        writes_before = writes;
        tick += 1;
        let requests = {
            let mut r = recorder.lock().unwrap_or_else(|p| p.into_inner());
            let (ua, replicas) = tier.sample(step, &mut r, t);
            app_util.push(ua);
            db_util.push(ud);
            replicas_min = replicas_min.min(replicas);
            replicas_max = replicas_max.max(replicas);
            let emails = mail.sent();
            let in_window = emails - emails_before;
            emails_before = emails;
            emails_per_min_peak =
                emails_per_min_peak.max(in_window as f64 * 60.0 / step.as_secs_f64());
            let lag = tier.queue_lag();
            queue_lag_max = queue_lag_max.max(lag);
            lag_series.push((t.as_secs_f64(), lag));
            let window = r.close_window(Window {
                t_s: (t - step).as_secs_f64(),
                span_s: step.as_secs_f64(),
                app_cpu: ua,
                db_cpu: ud,
                replicas,
                emails: in_window,
                queue_lag: lag,
            });
            checkpoints.push(r.trace_hash().0);
            windows.push(window.clone());
            if let Some(FinishOnDrop(lane)) = &lane {
                let frame = frame(
                    lane.index,
                    tick,
                    t,
                    window,
                    &r,
                    &mut notes_seen,
                    shard_cpu,
                    &topo,
                    &injector,
                );
                let _ = lane.updates.send(Update::Tick(Box::new(frame)));
                lane.lockstep.completed_tick(lane.index, tick - 1);
            }
            r.requests
        };
        // madsim keeps a weak pointer to every task ever spawned on a node, and only
        // `num_tasks()` prunes the dead ones; the weak pointers keep each dead task's
        // allocation alive, so without this call memory grows by ~0.3 KB per simulated
        // request for the whole run. It reads no randomness and wakes no task.
        let _ = handle.metrics().num_tasks();
        if let Some(p) = &progress {
            p.virtual_ms.store(t.as_millis() as u64, Ordering::Relaxed);
            p.requests.store(requests, Ordering::Relaxed);
        }
    }
    // No more ticks: the other designs need not wait for this one.
    drop(lane);
    if let Some(ticks) = cut_after_ticks {
        return cut_report(
            scn,
            design,
            seed,
            ticks,
            &recorder,
            checkpoints,
            &injector,
            faults.recorded,
        );
    }
    // Requests sent just before the end finish (or time out) within the SLO.
    tokio::time::sleep(slo + Duration::from_millis(10)).await;
    // The liveness phase, in a run that had faults: heal whatever is still broken, then a
    // probe shopper must get an order taken (see `recovery`).
    let within = Duration::from_secs_f64(scn.checks.recovery_s.0);
    let probe = if injector.disturbed.is_empty() {
        None
    } else {
        Some(
            liveness(
                &handle,
                &mut injector,
                &recorder,
                tier.entry,
                start,
                slo,
                within,
            )
            .await,
        )
    };
    // The drain: queued side work goes on until the queue is empty (or drain_s is up), so
    // that an order acknowledged in the last second has had its chance to be emailed.
    let drain_end =
        Instant::now().duration_since(start) + Duration::from_secs_f64(scn.checks.drain_s.0);
    let mut now = Instant::now().duration_since(start);
    while now < drain_end && (tier.queue_lag() > 0 || injector.has_active()) {
        tokio::time::sleep(interval.min(drain_end - now)).await;
        now = Instant::now().duration_since(start);
        for a in injector.heal_due(now) {
            let mut r = recorder.lock().unwrap_or_else(|p| p.into_inner());
            r.fault(now, &a.what, &a.effect);
        }
        lag_series.push((now.as_secs_f64(), tier.queue_lag()));
    }

    let tolerance = crate::recovery::Tolerance {
        within_s: within.as_secs_f64(),
        orders: scn.checks.recovery_orders.0,
        availability_drop: scn.checks.recovery_availability_drop.0,
        p99: scn.checks.recovery_p99.0,
    };
    let recovery =
        crate::recovery::judge(&windows, &injector.disturbed, probe.as_ref(), &tolerance);
    let r = recorder.lock().unwrap_or_else(|p| p.into_inner());
    let evidence = Evidence {
        design,
        acked: &r.acked,
        carts_lost: &r.carts_lost,
        dbs: dbs
            .iter()
            .map(|db| {
                let (orders, stock) = db.contents();
                DbContents {
                    orders,
                    stock,
                    initial_stock: db.initial_stock(),
                }
            })
            .collect(),
        shard_map: (dbs.len() > 1).then(|| map.clone()),
        inbox: mail.inbox(),
        lag: &lag_series,
        broker_outages: injector
            .outages
            .iter()
            .map(|&(from_s, to_s)| Outage { from_s, to_s })
            .collect(),
        lag_recovery_s: scn.checks.lag_recovery_s.0,
        last_heal_s: injector
            .log
            .iter()
            .filter(|a| a.what.starts_with("end of ") || a.what == "heal-all")
            .map(|a| a.at_s)
            .fold(0.0, f64::max),
        app_killed: injector.app_killed,
        recovery: &recovery,
        log: &r.log,
    };
    let checks = check_all(&evidence);
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let peak = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let ended = r.sessions_done + r.sessions_slow + r.sessions_error + r.sessions_cut;
    let points = &r.series.points;
    Report {
        by_kind: Kind::ALL
            .iter()
            .filter_map(|k| r.by_kind.get(k).map(|s| (k, s)))
            .map(|(k, s)| KindReport {
                kind: k.name(),
                requests: s.requests,
                availability: s.answered_in_slo as f64 / s.requests.max(1) as f64,
                latency: Recorder::kind_latency(s),
            })
            .collect(),
        sessions: Sessions {
            started: r.sessions_started,
            completed: r.sessions_done,
            abandoned_slow: r.sessions_slow,
            abandoned_error: r.sessions_error,
            cut: r.sessions_cut + (r.sessions_started - ended),
        },
        out_of_stock: r.out_of_stock,
        emails_sent: mail.sent(),
        emails_per_min_peak,
        queue_lag_max,
        db_writes_per_s_peak: writes_per_s_peak,
        replicas_min: if replicas_min == u32::MAX {
            0
        } else {
            replicas_min
        },
        replicas_max,
        scale_events: r.scale_events,
        cpu: CpuReport {
            app_cores: tier.cores_per_host,
            app_capacity_cores: tier.capacity_per_host,
            app_mean: mean(&app_util),
            app_peak: peak(&app_util),
            db_cores: dbs.first().map_or(0, |db| db.cpu.cores()),
            shard_cpu_mean: shard_util_sum
                .iter()
                .map(|u| u / app_util.len().max(1) as f64)
                .collect(),
            db_mean: mean(&db_util),
            db_peak: peak(&db_util),
        },
        worst_window: points
            .iter()
            .filter(|p| p.requests > 0)
            .min_by(|a, b| a.availability.total_cmp(&b.availability))
            .cloned(),
        busiest_window: points.iter().max_by_key(|p| p.requests).cloned(),
        faults: injector.log.clone(),
        commands: faults.recorded,
        checks,
        recovery,
        checkpoints,
        cut_after_ticks: None,
        ..recorded(scn, design, seed, &r, scn.duration_s())
    }
}

/// The liveness phase: heals every fault still in force, then sends a probe shopper once a
/// second until the shop takes its order or `within` has passed.
async fn liveness(
    handle: &Handle,
    injector: &mut Injector,
    recorder: &Mutex<Recorder>,
    entry: std::net::SocketAddr,
    start: Instant,
    slo: Duration,
    within: Duration,
) -> crate::recovery::Probe {
    let healed_at = Instant::now().duration_since(start);
    if injector.is_disturbed() {
        let healed = injector.heal_all(healed_at);
        let mut r = recorder.lock().unwrap_or_else(|p| p.into_inner());
        for a in &healed {
            r.fault(healed_at, &a.what, &a.effect);
        }
    }
    let node = handle
        .create_node()
        .name("probe")
        .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 8, 2)))
        .build();
    let mut probe = crate::recovery::Probe {
        healed_at_s: healed_at.as_secs_f64(),
        order_at_s: None,
        tries: 0,
        last_error: None,
    };
    // A try is a handful of requests; give it the time a patient shopper would.
    let budget = slo * 4;
    while Instant::now().duration_since(start) <= healed_at + within {
        probe.tries += 1;
        let attempt = node.spawn(async move {
            tokio::time::timeout(budget, crate::client::probe_checkout(entry, PROBE_CUSTOMER))
                .await
                .unwrap_or_else(|_| Err("no answer in time".into()))
        });
        let result = attempt
            .await
            .unwrap_or_else(|_| Err("the probe's task died".into()));
        let now = Instant::now().duration_since(start);
        recorder
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .probe(now, probe.tries, &result);
        match result {
            Ok(_) => {
                probe.order_at_s = Some(now.as_secs_f64());
                probe.last_error = None;
                break;
            }
            Err(why) => probe.last_error = Some(why),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    probe
}

/// What every report takes from the recorder, over `span_s` virtual seconds.
fn recorded(scn: &Scenario, design: Design, seed: u64, r: &Recorder, span_s: f64) -> Report {
    let (hash, events) = r.trace_hash();
    Report {
        scenario: scn.name.clone(),
        design: design.name(),
        seed,
        trace_hash: format!("{hash:016x}"),
        trace_events: events,
        duration_s: span_s,
        slo_timeout_ms: scn.slo.timeout_ms.0,
        requests: r.requests,
        answered_in_slo: r.answered_in_slo,
        availability: r.availability(),
        throughput_rps: r.answered_in_slo as f64 / span_s.max(f64::MIN_POSITIVE),
        latency: r.latency_summary(),
        errors: r.errors.clone(),
        orders: r.orders,
        revenue_cents: r.revenue_cents,
        revenue_lost_cents: r.revenue_lost_cents,
        series: r.series.points.clone(),
        ..Report::default()
    }
}

/// Marks a live lane finished when the run lets go of it, also when the run panics.
struct FinishOnDrop(Lane);

impl Drop for FinishOnDrop {
    fn drop(&mut self) {
        self.0.lockstep.finish(self.0.index);
    }
}

/// What a watcher sees of one design after tick `tick` (1-based here: ticks done).
#[allow(clippy::too_many_arguments)]
fn frame(
    lane: usize,
    ticks_done: u64,
    t: Duration,
    window: crate::metrics::Point,
    r: &Recorder,
    notes_seen: &mut u64,
    shard_cpu: Vec<f64>,
    topo: &Topology,
    injector: &Injector,
) -> Frame {
    let new = (r.notes - *notes_seen).min(r.log.len() as u64) as usize;
    *notes_seen = r.notes;
    let events = r
        .log
        .iter()
        .skip(r.log.len() - new)
        .map(|(at, text)| (at.as_secs_f64(), text.clone()))
        .collect();
    let view = |(id, name): &Node, group: &'static str| NodeView {
        name: name.clone(),
        group,
        health: injector.health(*id),
        starting: false,
    };
    let mut nodes: Vec<NodeView> = topo
        .tier
        .replicas()
        .iter()
        .filter(|(_, state)| *state != ReplicaState::Leaving)
        .map(|(node, state)| NodeView {
            starting: *state == ReplicaState::Starting,
            ..view(node, "app")
        })
        .collect();
    nodes.extend(topo.tier.sessions.iter().map(|(n, _)| view(n, "sessions")));
    nodes.extend(topo.tier.broker_nodes.iter().map(|n| view(n, "broker")));
    nodes.extend(topo.tier.worker_nodes.iter().map(|n| view(n, "workers")));
    nodes.extend(topo.dbs.iter().map(|(n, _)| view(n, "db")));
    nodes.push(view(&topo.mail, "mail"));
    Frame {
        lane,
        tick: ticks_done - 1,
        t_s: t.as_secs_f64(),
        window,
        requests: r.requests,
        answered_in_slo: r.answered_in_slo,
        errors: r.errors.values().sum(),
        orders: r.orders,
        revenue_lost_cents: r.revenue_lost_cents,
        shard_cpu,
        nodes,
        events,
        trace_hash: r.trace_hash().0,
    }
}

/// The report of a run cut short after `ticks` ticks: what was measured so far, its trace
/// hash there, and no checks (the checkers judge whole runs: a cut run has orders still in
/// its queue, say).
#[allow(clippy::too_many_arguments)]
fn cut_report(
    scn: &Scenario,
    design: Design,
    seed: u64,
    ticks: u64,
    recorder: &Mutex<Recorder>,
    checkpoints: Vec<u64>,
    injector: &Injector,
    commands: Vec<Scheduled>,
) -> Report {
    let r = recorder.lock().unwrap_or_else(|p| p.into_inner());
    let span_s = (ticks as f64 * scn.metrics.interval_s.0).min(scn.duration_s());
    Report {
        faults: injector.log.clone(),
        commands,
        checkpoints,
        cut_after_ticks: Some(ticks),
        ..recorded(scn, design, seed, &r, span_s)
    }
}

/// The faults of one run: what is scheduled, and what was applied live.
struct Faults {
    timeline: Vec<TimedFault>,
    next: usize,
    scheduled: Vec<Scheduled>,
    /// Every command applied, with its tick (a live session's repro replays these).
    recorded: Vec<Scheduled>,
}

impl Faults {
    /// Everything due at the start of tick `tick` (virtual time `t`): heals first, then the
    /// timeline's faults, then scheduled and live commands, in that fixed order.
    fn at_tick(
        &mut self,
        tick: u64,
        t: Duration,
        live: Vec<Command>,
        injector: &mut Injector,
        topo: &Topology,
        recorder: &Mutex<Recorder>,
    ) {
        let mut applied = injector.heal_due(t);
        while let Some(f) = self.timeline.get(self.next) {
            if f.at_s > t.as_secs_f64() {
                break;
            }
            applied.push(injector.apply(t, &f.fault, topo));
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
            applied.extend(injector.command(t, &command, topo));
            self.recorded.push(Scheduled { tick, command });
        }
        if !applied.is_empty() {
            let mut r = recorder.lock().unwrap_or_else(|p| p.into_inner());
            for a in &applied {
                r.fault(t, &a.what, &a.effect);
            }
        }
    }
}
