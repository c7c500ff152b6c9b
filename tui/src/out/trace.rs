//! `trace.json`: the run in the Chrome/Perfetto trace-event format (a JSON object with a
//! `traceEvents` array), so it opens in ui.perfetto.dev or chrome://tracing: one process per
//! design; a track per node of the deployment (as it stood at the end) with the faults that
//! hit it as slices; a track of events (faults, scaling, the load balancer's decisions) as
//! instant events; counters per window (app CPU, each database's CPU, replicas, queue lag,
//! requests in flight, sessions going, answered requests per second); and a sample of
//! requests as slices on lanes where they do not overlap (the whole run when it is short).
//!
//! Timestamps are virtual microseconds since the run began.
//!
//! Must not: invent timing: every event is a time the run recorded.

use std::io::{self, Write};

use serde_json::{json, Value};

use scalelab_sim::harness::report::Recording;
use scalelab_sim::metrics::{Outcome, RequestRecord};
use scalelab_sim::Report;

use crate::out::faults::Span;
use crate::out::RunInfo;

/// At most this many requests of each design become slices.
pub const MAX_SLICES: usize = 10_000;
/// Requests are laid on at most this many lanes; one that finds every lane busy is left out.
const LANES: u64 = 48;

/// Thread ids: the events track, the faults track, then the nodes, then the request lanes.
const TID_EVENTS: u64 = 1;
const TID_FAULTS: u64 = 2;
const TID_NODES: u64 = 100;
const TID_LANES: u64 = 10_000;

fn us(s: f64) -> f64 {
    (s * 1e6).round()
}

/// Writes the trace of every design.
pub fn write(
    w: &mut dyn Write,
    info: &RunInfo<'_>,
    reports: &[Report],
    spans: &[Span],
) -> io::Result<()> {
    let mut events: Vec<Value> = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        let pid = i as u64 + 1;
        meta(&mut events, pid, 0, "process_name", r.design);
        events.push(json!({"name": "process_sort_index", "ph": "M", "ts": 0, "pid": pid, "tid": 0, "args": {"sort_index": pid}}));
        meta(&mut events, pid, TID_EVENTS, "thread_name", "events");
        meta(&mut events, pid, TID_FAULTS, "thread_name", "faults");
        fault_slices(&mut events, pid, r, spans);
        counters(&mut events, pid, r);
        if let Some(rec) = r.recording.as_deref() {
            nodes(&mut events, pid, r, rec, spans);
            log(&mut events, pid, rec);
            in_flight(&mut events, pid, r, rec);
            requests(&mut events, pid, rec);
        }
    }
    let trace = json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "scenario": info.scenario,
            "seed": info.seed,
            "clock": "virtual time since the run began",
        },
    });
    serde_json::to_writer(&mut *w, &trace).map_err(io::Error::other)?;
    writeln!(w)
}

fn meta(events: &mut Vec<Value>, pid: u64, tid: u64, what: &str, name: &str) {
    events.push(
        json!({"name": what, "ph": "M", "ts": 0, "pid": pid, "tid": tid, "args": {"name": name}}),
    );
}

/// Every fault that applied in this design, as a slice on the faults track.
fn fault_slices(events: &mut Vec<Value>, pid: u64, r: &Report, spans: &[Span]) {
    for s in spans {
        let Some((_, effect)) = s.effects.iter().find(|(d, _)| *d == r.design) else {
            continue;
        };
        events.push(json!({
            "name": s.what, "cat": "fault", "ph": "X", "pid": pid, "tid": TID_FAULTS,
            "ts": us(s.from_s), "dur": us(s.to_s - s.from_s).max(1.0),
            "args": {"effect": effect},
        }));
    }
}

/// The nodes at the end of the run, a track each, with a slice for each fault whose effect
/// names the node.
fn nodes(events: &mut Vec<Value>, pid: u64, r: &Report, rec: &Recording, spans: &[Span]) {
    for (k, node) in rec.nodes.iter().enumerate() {
        let tid = TID_NODES + k as u64;
        let name = format!("{} ({})", node.name, node.group);
        meta(events, pid, tid, "thread_name", &name);
        for s in spans {
            let Some((_, effect)) = s.effects.iter().find(|(d, _)| *d == r.design) else {
                continue;
            };
            let named = effect
                .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_' || c == '.'))
                .any(|word| word == node.name);
            if named {
                events.push(json!({
                    "name": s.what, "cat": "fault", "ph": "X", "pid": pid, "tid": tid,
                    "ts": us(s.from_s), "dur": us(s.to_s - s.from_s).max(1.0),
                    "args": {"effect": effect},
                }));
            }
        }
    }
}

/// The event log's lines (faults, scaling, the load balancer), as instant events.
fn log(events: &mut Vec<Value>, pid: u64, rec: &Recording) {
    for (at_s, line) in &rec.log {
        let cat = ["autoscaler", "load balancer", "liveness probe"]
            .into_iter()
            .find(|p| line.starts_with(p))
            .unwrap_or("fault");
        events.push(json!({
            "name": line, "cat": cat, "ph": "i", "s": "p", "pid": pid, "tid": TID_EVENTS,
            "ts": us(*at_s),
        }));
    }
}

/// A counter event at `t_s` with one value.
fn counter(events: &mut Vec<Value>, pid: u64, name: &str, t_s: f64, value: f64) {
    events.push(json!({"name": name, "ph": "C", "pid": pid, "tid": 0, "ts": us(t_s), "args": {"value": value}}));
}

/// The time series' figures, one counter each, at every window's start.
fn counters(events: &mut Vec<Value>, pid: u64, r: &Report) {
    for p in &r.series {
        counter(
            events,
            pid,
            "app CPU %",
            p.t_s,
            (p.app_cpu * 1000.0).round() / 10.0,
        );
        for (i, u) in p.shard_cpu.iter().enumerate() {
            let name = format!("db-{i} CPU %");
            counter(events, pid, &name, p.t_s, (u * 1000.0).round() / 10.0);
        }
        counter(events, pid, "replicas", p.t_s, f64::from(p.replicas));
        counter(events, pid, "queue lag", p.t_s, p.queue_lag as f64);
        counter(
            events,
            pid,
            "answered req/s",
            p.t_s,
            p.throughput_rps.round(),
        );
    }
}

/// Requests in flight and sessions going at every window's end, from the request log (in
/// flight only when the log holds every request: a sample would undercount it).
fn in_flight(events: &mut Vec<Value>, pid: u64, r: &Report, rec: &Recording) {
    let records = &rec.requests.records;
    let complete = rec.requests.complete();
    // Starts and ends as (time, +1/-1), in time order (an end before a start at one instant).
    let mut edges: Vec<(u64, i64)> = Vec::new();
    if complete {
        edges.reserve(records.len() * 2);
        for q in records {
            edges.push((q.start_us(), 1));
            edges.push((q.end_us, -1));
        }
        edges.sort_unstable();
    }
    let (mut e, mut q, mut going) = (0, 0, 0i64);
    let mut sessions = 0u32;
    for p in &r.series {
        let t = us(p.t_s + p.span_s) as u64;
        while e < edges.len() && edges[e].0 <= t {
            going += edges[e].1;
            e += 1;
        }
        while q < records.len() && records[q].end_us <= t {
            sessions = records[q].active_sessions;
            q += 1;
        }
        if complete {
            counter(
                events,
                pid,
                "requests in flight",
                p.t_s + p.span_s,
                going as f64,
            );
        }
        counter(
            events,
            pid,
            "sessions going",
            p.t_s + p.span_s,
            f64::from(sessions),
        );
    }
}

/// An even sample of at most `MAX_SLICES` requests, as slices on lanes where none overlaps.
fn requests(events: &mut Vec<Value>, pid: u64, rec: &Recording) {
    let records = &rec.requests.records;
    let step = records.len().div_ceil(MAX_SLICES).max(1);
    let mut sample: Vec<&RequestRecord> = records.iter().step_by(step).collect();
    sample.sort_by_key(|q| (q.start_us(), q.end_us));
    // Each lane's last slice's end.
    let mut lanes: Vec<u64> = Vec::new();
    let mut used = 0u64;
    for q in sample {
        let start = q.start_us();
        let lane = match lanes.iter().position(|&end| end <= start) {
            Some(l) => l,
            None if (lanes.len() as u64) < LANES => {
                lanes.push(0);
                lanes.len() - 1
            }
            None => continue,
        };
        lanes[lane] = q.end_us;
        used = used.max(lane as u64 + 1);
        let status = match q.outcome {
            Outcome::Status(s) => s.to_string(),
            other => other.error_name(),
        };
        events.push(json!({
            "name": q.kind.name(), "cat": "request", "ph": "X", "pid": pid,
            "tid": TID_LANES + lane as u64,
            "ts": start, "dur": q.latency_us.max(1),
            "args": {"session": q.session, "step": q.step, "status": status, "in_slo": q.in_slo},
        }));
    }
    for lane in 0..used {
        let name = format!("requests {}", lane + 1);
        meta(events, pid, TID_LANES + lane, "thread_name", &name);
    }
}
