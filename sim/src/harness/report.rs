//! The result of a run, as data: the CLI prints it as a table or as JSON.
//!
//! Must not: format for a terminal (that is tui's job).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::faults::inject::Applied;
use crate::judge::check::CheckResult;
use crate::metrics::{Latency, Point};
use crate::scenario::fault::Scheduled;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub scenario: String,
    pub design: &'static str,
    pub seed: u64,
    /// Hex xxh3 of the ordered event stream: same scenario + seed + build => same hash.
    pub trace_hash: String,
    pub trace_events: u64,
    pub duration_s: f64,
    pub slo_timeout_ms: f64,
    pub requests: u64,
    pub answered_in_slo: u64,
    /// Share of requests answered (not with a 5xx) within the SLO timeout.
    pub availability: f64,
    /// Requests answered within the SLO per virtual second.
    pub throughput_rps: f64,
    pub latency: Latency,
    pub errors: BTreeMap<String, u64>,
    pub by_kind: Vec<KindReport>,
    pub sessions: Sessions,
    pub orders: u64,
    pub out_of_stock: u64,
    pub revenue_cents: u64,
    /// Value of carts left behind because pages were too slow or failed.
    pub revenue_lost_cents: u64,
    pub emails_sent: u64,
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
    /// Live or replayed commands, with the tick they were applied at (a repro records them).
    pub commands: Vec<Scheduled>,
    /// The invariants and how they fared.
    pub checks: Vec<CheckResult>,
    /// What followed each heal: how long the shop took to come back, or that it did not.
    pub recovery: Vec<crate::judge::recovery::Recovery>,
    /// The trace hash at the end of every tick, to find where two runs first diverge.
    #[serde(skip)]
    pub checkpoints: Vec<u64>,
    /// The run was stopped after this many ticks (a live session ended early, or a repro
    /// saved part-way): its figures cover only those, and no checks ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_after_ticks: Option<u64>,
}

impl Report {
    /// A checker found a violation this design is not known for.
    pub fn violated(&self) -> bool {
        self.checks.iter().any(CheckResult::failed)
    }
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
