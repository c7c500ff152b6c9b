//! The result of a run, as data: the CLI prints it as a table or as JSON. Also the one place
//! that makes a report: the figures the run kept tick by tick ([`Tally`]), what the recorder
//! counted, the faults, the checks.
//!
//! Must not: format for a terminal (that is tui's job), or measure anything itself.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::deployment::design::Design;
use crate::deployment::nodes::{NodeInfo, Sample};
use crate::deployment::Deployment;
use crate::faults::inject::{Applied, Injector};
use crate::judge::check::CheckResult;
use crate::judge::recovery::Recovery;
use crate::metrics::{Latency, Point, Recorder, RequestLog};
use crate::scenario::fault::Scheduled;
use crate::scenario::Scenario;
use crate::world::host::Kind;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub scenario: String,
    pub design: &'static str,
    pub seed: u64,
    /// Hex xxh3 of the ordered event stream: same scenario + seed + build => same hash.
    pub trace_hash: String,
    pub trace_events: u64,
    /// What the simulator did to run it (a benchmark's figure: it feeds no hash or check).
    pub engine: Engine,
    pub duration_s: f64,
    pub slo_timeout_ms: f64,
    pub requests: u64,
    pub answered_in_slo: u64,
    /// Share of requests answered (not with a 5xx) within the SLO timeout.
    pub availability: f64,
    /// Requests answered within the SLO per virtual second of the arrival window, counting
    /// only those answered inside it (the drain after it is left out: under overload it
    /// answers a backlog and would overstate what the shop kept up with).
    pub throughput_rps: f64,
    /// The same, counting the requests the drain answered too (all answered within the SLO
    /// over the arrival window's length).
    pub throughput_with_drain_rps: f64,
    /// Little's law read off the run: L = lambda x W.
    pub little: Little,
    pub latency: Latency,
    pub errors: BTreeMap<String, u64>,
    pub by_kind: Vec<KindReport>,
    pub sessions: Sessions,
    pub orders: u64,
    pub out_of_stock: u64,
    pub revenue_cents: u64,
    /// Value of carts left behind because pages were too slow or failed.
    pub revenue_lost_cents: u64,
    /// Every send the mail provider accepted: retries and repeats included.
    pub emails_sent: u64,
    /// Emails that reached an inbox: the sends less the repeats recognised by their key.
    pub emails_delivered: u64,
    /// The busiest window's confirmation emails, per minute.
    pub emails_per_min_peak: f64,
    /// Most orders waiting for their confirmation email at once (queued designs).
    pub queue_lag_max: u64,
    /// The busiest window's committed write transactions per second, over all shards.
    pub db_writes_per_s_peak: f64,
    /// App hosts taking traffic: fewest and most over the run's windows.
    pub replicas_min: u32,
    pub replicas_max: u32,
    /// Times the autoscaler changed the number of replicas.
    pub scale_events: u64,
    pub cpu: CpuReport,
    /// The window of the time series with the lowest availability.
    pub worst_window: Option<Point>,
    /// The window with the most requests.
    pub busiest_window: Option<Point>,
    pub series: Vec<Point>,
    /// Every fault applied or healed in this design, or found not to apply ("n/a").
    pub faults: Vec<Applied>,
    /// What a swarm seed varied in the world besides faults (scarce stock, late mail).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub varied: Vec<String>,
    /// Live or replayed commands, with the tick they were applied at (a repro records them).
    pub commands: Vec<Scheduled>,
    /// The invariants and how they fared.
    pub checks: Vec<CheckResult>,
    /// What followed each heal: how long the shop took to come back, or that it did not.
    pub recovery: Vec<Recovery>,
    /// How often the shop's rarer paths ran (see `judge::check::paths`); empty for a run cut
    /// short, which was not judged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<(&'static str, u64)>,
    /// The trace hash at the end of every tick, to find where two runs first diverge.
    #[serde(skip)]
    pub checkpoints: Vec<u64>,
    /// The run was stopped after this many ticks (a live session ended early, or a repro
    /// saved part-way): its figures cover only those, and no checks ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_after_ticks: Option<u64>,
    /// What the run kept for export, only when asked (`RunOptions::request_log`): not part
    /// of the JSON report.
    #[serde(skip)]
    pub recording: Option<Box<Recording>>,
}

/// What a run asked to keep for export (`scalelab run --out`) hands over besides its report:
/// the latency histograms themselves (the report holds only their percentiles), the requests
/// (all, or an even sample), the nodes at the end of the run and the event log (faults,
/// scaling, the load balancer's decisions; its newest lines, see `metrics`).
#[derive(Debug, Clone)]
pub struct Recording {
    /// Latency in microseconds, every request.
    pub latency: Histogram<u64>,
    /// The same per kind of request, in `Kind::ALL`'s order.
    pub by_kind: Vec<(&'static str, Histogram<u64>)>,
    pub requests: RequestLog,
    pub nodes: Vec<NodeInfo>,
    pub log: Vec<(f64, String)>,
}

impl Report {
    /// A checker found a violation this design is not known for.
    pub fn violated(&self) -> bool {
        self.checks.iter().any(CheckResult::failed)
    }
}

/// Little's law over the arrival window: the mean number of requests in the system (L)
/// equals the rate they arrive at (lambda) times the mean time each spends there (W).
/// The simulator measures all three separately; they agree up to the requests still in the
/// system when arrivals stop (their time after it is in W, not in L).
/// The simulator's own work behind a run, counted by madsim (patched to count it): the
/// messages its network carried, the timer events it fired and the times it ran a task. The
/// counts are as deterministic as the run, so they compare builds rather than machines.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Engine {
    pub messages: u64,
    pub timers: u64,
    pub polls: u64,
}

impl Engine {
    /// The counts so far of the runtime this is called in.
    pub fn now() -> Engine {
        let metrics = madsim::runtime::Handle::current().metrics();
        Engine {
            messages: madsim::net::NetSim::current().stat().msg_count,
            timers: metrics.timers_fired(),
            polls: metrics.task_polls(),
        }
    }

    /// Messages + timer events + task runs: the simulator's events.
    pub fn events(&self) -> u64 {
        self.messages + self.timers + self.polls
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Little {
    /// Requests sent per virtual second of the arrival window.
    pub lambda_rps: f64,
    /// Mean latency of every request (exact), in ms: the time a request spends in the system.
    pub w_ms: f64,
    /// Requests in the system, averaged over the arrival window's time.
    pub l: f64,
    /// lambda x W, to set beside L.
    pub lambda_w: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KindReport {
    pub kind: &'static str,
    pub requests: u64,
    pub availability: f64,
    pub latency: Latency,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Sessions {
    pub started: u64,
    pub completed: u64,
    pub abandoned_slow: u64,
    pub abandoned_error: u64,
    /// Still going when arrivals stopped.
    pub cut: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CpuReport {
    /// Cores of each app host (the one big host, or each replica).
    pub app_cores: u32,
    /// Cores' worth of work the app host can do at full load (the USL bends this below cores).
    pub app_capacity_cores: f64,
    pub app_mean: f64,
    pub app_peak: f64,
    /// Cores of each database server (each shard, when sharded).
    pub db_cores: u32,
    /// Mean CPU utilization of each database shard (one entry when unsharded).
    pub shard_cpu_mean: Vec<f64>,
    /// Of the hottest shard, window by window.
    pub db_mean: f64,
    pub db_peak: f64,
}

/// What a run keeps tick by tick for its report and its judges.
#[derive(Default)]
pub struct Tally {
    app_util: Vec<f64>,
    db_util: Vec<f64>,
    shard_util_sum: Vec<f64>,
    replicas_min: Option<u32>,
    replicas_max: u32,
    writes_per_s_peak: f64,
    emails_per_min_peak: f64,
    queue_lag_max: u64,
    /// Consumer lag at every tick, through the drain: (virtual s, lag).
    pub lag: Vec<(f64, u64)>,
    /// Every window as it closed (the report's series merges them on long runs).
    pub windows: Vec<Point>,
    /// The trace hash at the end of every tick.
    pub checkpoints: Vec<u64>,
}

impl Tally {
    /// Adds the tick that ended at `t_s` (`span_s` long): what the deployment measured and
    /// the window the recorder closed.
    pub fn tick(&mut self, t_s: f64, span_s: f64, sample: &Sample, window: Point, hash: u64) {
        self.app_util.push(sample.app_cpu);
        self.db_util.push(sample.db_cpu);
        self.shard_util_sum
            .resize(sample.shard_cpu.len().max(self.shard_util_sum.len()), 0.0);
        for (sum, u) in self.shard_util_sum.iter_mut().zip(&sample.shard_cpu) {
            *sum += u;
        }
        self.replicas_min = Some(
            self.replicas_min
                .map_or(sample.replicas, |m| m.min(sample.replicas)),
        );
        self.replicas_max = self.replicas_max.max(sample.replicas);
        self.writes_per_s_peak = self.writes_per_s_peak.max(sample.writes_per_s);
        self.emails_per_min_peak = self
            .emails_per_min_peak
            .max(sample.emails as f64 * 60.0 / span_s);
        self.queue_lag_max = self.queue_lag_max.max(sample.queue_lag);
        self.lag.push((t_s, sample.queue_lag));
        self.windows.push(window);
        self.checkpoints.push(hash);
    }
}

/// What happened to a run by way of faults: everything the injector did, and every command
/// applied with its tick.
pub struct FaultRecord {
    pub applied: Vec<Applied>,
    pub commands: Vec<Scheduled>,
    pub varied: Vec<String>,
}

impl FaultRecord {
    /// What `injector` did, the commands applied and what the seed varied in the world.
    pub fn of(injector: &Injector, commands: Vec<Scheduled>, varied: Vec<String>) -> FaultRecord {
        FaultRecord {
            applied: injector.log.clone(),
            commands,
            varied,
        }
    }
}

/// What every report takes from the recorder, over `span_s` virtual seconds.
pub fn recorded(scn: &Scenario, design: Design, seed: u64, r: &Recorder, span_s: f64) -> Report {
    let (hash, events) = r.trace_hash();
    Report {
        scenario: scn.name.clone(),
        design: design.name(),
        seed,
        trace_hash: format!("{hash:016x}"),
        trace_events: events,
        engine: Engine::default(),
        duration_s: span_s,
        slo_timeout_ms: scn.slo.timeout_ms.0,
        requests: r.requests,
        answered_in_slo: r.answered_in_slo,
        availability: r.availability(),
        throughput_rps: r.at_close.answered_in_slo as f64 / span_s.max(f64::MIN_POSITIVE),
        throughput_with_drain_rps: r.answered_in_slo as f64 / span_s.max(f64::MIN_POSITIVE),
        little: little(r, span_s),
        latency: r.latency_summary(),
        errors: r.errors.clone(),
        orders: r.orders,
        revenue_cents: r.revenue_cents,
        revenue_lost_cents: r.revenue_lost_cents,
        series: r.series.points.clone(),
        ..Report::default()
    }
}

/// Little's law over the first `span_s` seconds (the recorder's last window closed there).
fn little(r: &Recorder, span_s: f64) -> Little {
    let span_s = span_s.max(f64::MIN_POSITIVE);
    let lambda_rps = r.at_close.requests_sent as f64 / span_s;
    let w_ms = r.mean_latency_ms();
    Little {
        lambda_rps,
        w_ms,
        l: r.at_close.in_system_s / span_s,
        lambda_w: lambda_rps * w_ms / 1000.0,
    }
}

/// The report of a whole run: what the recorder counted, the tally of its ticks, what the
/// deployment was, its faults, commands, checks and recoveries.
#[allow(clippy::too_many_arguments)]
pub fn whole(
    scn: &Scenario,
    seed: u64,
    r: &Recorder,
    tally: Tally,
    deployment: &Deployment,
    faults: FaultRecord,
    checks: Vec<CheckResult>,
    recovery: Vec<Recovery>,
) -> Report {
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
        emails_sent: deployment.emails_sent(),
        emails_delivered: deployment.emails_delivered(),
        emails_per_min_peak: tally.emails_per_min_peak,
        queue_lag_max: tally.queue_lag_max,
        db_writes_per_s_peak: tally.writes_per_s_peak,
        replicas_min: tally.replicas_min.unwrap_or(0),
        replicas_max: tally.replicas_max,
        scale_events: r.scale_events,
        cpu: CpuReport {
            app_cores: deployment.cores_per_host,
            app_capacity_cores: deployment.capacity_per_host,
            app_mean: mean(&tally.app_util),
            app_peak: peak(&tally.app_util),
            db_cores: deployment.db_cores(),
            shard_cpu_mean: tally
                .shard_util_sum
                .iter()
                .map(|u| u / tally.app_util.len().max(1) as f64)
                .collect(),
            db_mean: mean(&tally.db_util),
            db_peak: peak(&tally.db_util),
        },
        worst_window: points
            .iter()
            .filter(|p| p.requests > 0)
            .min_by(|a, b| a.availability.total_cmp(&b.availability))
            .cloned(),
        busiest_window: points.iter().max_by_key(|p| p.requests).cloned(),
        faults: faults.applied,
        varied: faults.varied,
        commands: faults.commands,
        checks,
        recovery,
        checkpoints: tally.checkpoints,
        cut_after_ticks: None,
        recording: recording(r, deployment),
        ..recorded(scn, deployment.design, seed, r, scn.duration_s())
    }
}

/// What the run kept for export, if it was asked to keep its requests (a copy of the log: the
/// recorder goes away with the run, a moment later).
fn recording(r: &Recorder, deployment: &Deployment) -> Option<Box<Recording>> {
    let requests = r.request_log.clone()?;
    Some(Box::new(Recording {
        latency: r.latency.clone(),
        by_kind: Kind::ALL
            .iter()
            .filter_map(|k| r.by_kind.get(k).map(|s| (k.name(), s.latency.clone())))
            .collect(),
        requests,
        nodes: deployment.parts(),
        log: r
            .log
            .iter()
            .map(|(at, line)| (at.as_secs_f64(), line.clone()))
            .collect(),
    }))
}

/// The report of a run cut short after `ticks` ticks: what was measured so far (and its
/// requests, if it was asked to keep them: a live session's files are of what it ran), its
/// trace hash there, and no checks (the checkers judge whole runs: a cut run has orders still
/// in its queue, say).
pub fn cut(
    scn: &Scenario,
    deployment: &Deployment,
    seed: u64,
    ticks: u64,
    r: &Recorder,
    checkpoints: Vec<u64>,
    faults: FaultRecord,
) -> Report {
    let span_s = (ticks as f64 * scn.metrics.interval_s.0).min(scn.duration_s());
    Report {
        faults: faults.applied,
        varied: faults.varied,
        commands: faults.commands,
        checkpoints,
        cut_after_ticks: Some(ticks),
        recording: recording(r, deployment),
        ..recorded(scn, deployment.design, seed, r, span_s)
    }
}
