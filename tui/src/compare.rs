//! `scalelab compare A B [--threshold EXPR]...`: two runs side by side, design by design, each
//! figure with its difference and whether that is better or worse; then thresholds in k6's
//! style (`threshold`) judged on B. A and B are JSON reports (`run --json` output, or an
//! `--out` folder's report.json).
//!
//! Exit codes: 0 no threshold broken; 1 a threshold broken; 2 bad input (a malformed
//! threshold, pointed at; a file that is not a report).
//!
//! Must not: run anything, or read a report's fields but through `METRICS` (one table of
//! what is compared, how it reads and which way is better).

use std::fmt::Write;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;

use crate::format::{dollars, ms, pct, thousands};
use crate::scenario_file;
use crate::threshold::{self, Figure, Threshold, Unit};
use crate::{EXIT_BAD_INPUT, EXIT_VIOLATION, SCHEMA_VERSION};

/// Which way a figure is better.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Better {
    Higher,
    Lower,
    /// Neither: a difference is only up or down.
    Neither,
}

/// A figure of a design's report that `compare` shows and a threshold can name.
struct Metric {
    name: &'static str,
    label: &'static str,
    unit: Unit,
    better: Better,
    get: fn(&Value) -> Option<f64>,
    show: fn(f64) -> String,
}

fn num(v: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_f64()
}

fn errors(d: &Value) -> Option<f64> {
    let map = d.get("errors")?.as_object()?;
    map.values().map(Value::as_f64).sum()
}

fn count(v: f64) -> String {
    thousands(v.max(0.0).round() as u64)
}

const METRICS: [Metric; 19] = [
    Metric {
        name: "availability",
        label: "availability",
        unit: Unit::Share,
        better: Better::Higher,
        get: |d| num(d, &["availability"]),
        show: pct,
    },
    Metric {
        name: "worst_window",
        label: "worst window",
        unit: Unit::Share,
        better: Better::Higher,
        get: |d| num(d, &["worst_window", "availability"]),
        show: pct,
    },
    Metric {
        name: "throughput",
        label: "throughput (req/s)",
        unit: Unit::Plain,
        better: Better::Higher,
        get: |d| num(d, &["throughput_rps"]),
        show: |v| format!("{v:.1}"),
    },
    Metric {
        name: "throughput_with_drain",
        label: "with drain (req/s)",
        unit: Unit::Plain,
        better: Better::Higher,
        get: |d| num(d, &["throughput_with_drain_rps"]),
        show: |v| format!("{v:.1}"),
    },
    Metric {
        name: "p50",
        label: "p50",
        unit: Unit::Millis,
        better: Better::Lower,
        get: |d| num(d, &["latency", "p50_ms"]),
        show: ms,
    },
    Metric {
        name: "p95",
        label: "p95",
        unit: Unit::Millis,
        better: Better::Lower,
        get: |d| num(d, &["latency", "p95_ms"]),
        show: ms,
    },
    Metric {
        name: "p99",
        label: "p99",
        unit: Unit::Millis,
        better: Better::Lower,
        get: |d| num(d, &["latency", "p99_ms"]),
        show: ms,
    },
    Metric {
        name: "p999",
        label: "p99.9",
        unit: Unit::Millis,
        better: Better::Lower,
        get: |d| num(d, &["latency", "p999_ms"]),
        show: ms,
    },
    Metric {
        name: "max",
        label: "max latency",
        unit: Unit::Millis,
        better: Better::Lower,
        get: |d| num(d, &["latency", "max_ms"]),
        show: ms,
    },
    Metric {
        name: "mean",
        label: "mean latency",
        unit: Unit::Millis,
        better: Better::Lower,
        get: |d| num(d, &["latency", "mean_ms"]),
        show: ms,
    },
    Metric {
        name: "requests",
        label: "requests",
        unit: Unit::Plain,
        better: Better::Neither,
        get: |d| num(d, &["requests"]),
        show: count,
    },
    Metric {
        name: "errors",
        label: "errors",
        unit: Unit::Plain,
        better: Better::Lower,
        get: errors,
        show: count,
    },
    Metric {
        name: "error_rate",
        label: "errors (share)",
        unit: Unit::Share,
        better: Better::Lower,
        get: |d| Some(errors(d)? / num(d, &["requests"])?.max(1.0)),
        show: pct,
    },
    Metric {
        name: "orders",
        label: "orders",
        unit: Unit::Plain,
        better: Better::Higher,
        get: |d| num(d, &["orders"]),
        show: count,
    },
    Metric {
        name: "revenue",
        label: "revenue ($)",
        unit: Unit::Plain,
        better: Better::Higher,
        get: |d| Some(num(d, &["revenue_cents"])? / 100.0),
        show: |v| dollars((v * 100.0).round() as u64),
    },
    Metric {
        name: "revenue_lost",
        label: "revenue lost ($)",
        unit: Unit::Plain,
        better: Better::Lower,
        get: |d| Some(num(d, &["revenue_lost_cents"])? / 100.0),
        show: |v| dollars((v * 100.0).round() as u64),
    },
    Metric {
        name: "db_cpu_peak",
        label: "db cpu peak",
        unit: Unit::Share,
        better: Better::Neither,
        get: |d| num(d, &["cpu", "db_peak"]),
        show: pct,
    },
    Metric {
        name: "queue_lag_max",
        label: "queue lag (max)",
        unit: Unit::Plain,
        better: Better::Lower,
        get: |d| num(d, &["queue_lag_max"]),
        show: count,
    },
    Metric {
        name: "replicas_max",
        label: "app hosts (max)",
        unit: Unit::Plain,
        better: Better::Neither,
        get: |d| num(d, &["replicas_max"]),
        show: count,
    },
];

/// The figures thresholds can name (`error_rate` is written `errors<N%`).
fn figures() -> Vec<Figure> {
    METRICS
        .iter()
        .filter(|m| m.name != "error_rate")
        .map(|m| Figure {
            name: m.name,
            unit: m.unit,
        })
        .collect()
}

/// A run read from a report: what it was, and each design's report.
struct Run {
    /// The report's schema_version (1 when it has none: the first reports had none).
    schema: u64,
    shown: String,
    scenario: String,
    seed: String,
    designs: Vec<(String, Value)>,
}

/// The JSON report at `path` (a file, or an `--out` folder holding report.json).
fn load(path: &Path) -> Result<Run, String> {
    let file: PathBuf = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_owned()
    };
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{shown}: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        format!("{shown}: not a JSON report ({e}); compare reads `scalelab run --json` output or an --out folder")
    })?;
    let schema = match v.get("schema_version") {
        None => 1,
        Some(version) => match version.as_u64() {
            Some(n) if n <= u64::from(SCHEMA_VERSION) => n,
            _ => {
                return Err(format!(
                    "{shown}: schema_version {version} is newer than this scalelab reads ({SCHEMA_VERSION})"
                ))
            }
        },
    };
    let Some(list) = v.get("designs").and_then(Value::as_array) else {
        return Err(format!(
            "{shown}: no \"designs\" array: not a report of `scalelab run --json`"
        ));
    };
    let mut designs = Vec::new();
    for (i, d) in list.iter().enumerate() {
        let Some(name) = d.get("design").and_then(Value::as_str) else {
            return Err(format!("{shown}: designs[{i}] has no \"design\" name"));
        };
        let mut d = d.clone();
        // Schema 1's throughput counted the requests the drain answered: it is schema 2's
        // `throughput_with_drain_rps`, and is compared as that, never with the new figure.
        if schema < 2 {
            if let Some(obj) = d.as_object_mut() {
                if let Some(t) = obj.remove("throughput_rps") {
                    obj.insert("throughput_with_drain_rps".to_owned(), t);
                }
            }
        }
        designs.push((name.to_owned(), d));
    }
    let field = |k: &str| match v.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "?".to_owned(),
    };
    Ok(Run {
        schema,
        shown,
        scenario: field("scenario"),
        seed: field("seed"),
        designs,
    })
}

/// The difference from `a` to `b`, as it reads, and which way it went.
fn difference(m: &Metric, a: f64, b: f64) -> (String, &'static str) {
    let d = b - a;
    let same = d.abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
    let change = if same {
        "=".to_owned()
    } else if m.unit == Unit::Share && (d * 100.0).abs() < 0.005 {
        format!("{:+.4} pp", d * 100.0)
    } else if m.unit == Unit::Share {
        format!("{:+.2} pp", d * 100.0)
    } else if a != 0.0 {
        format!("{} ({:+.1}%)", signed(m, d), d / a.abs() * 100.0)
    } else {
        signed(m, d)
    };
    let direction = match (same, m.better) {
        (true, _) => "same",
        (false, Better::Neither) if d > 0.0 => "up",
        (false, Better::Neither) => "down",
        (false, Better::Higher) if d > 0.0 => "better",
        (false, Better::Lower) if d < 0.0 => "better",
        (false, _) => "worse",
    };
    (change, direction)
}

fn signed(m: &Metric, d: f64) -> String {
    let sign = if d < 0.0 { "-" } else { "+" };
    format!("{sign}{}", (m.show)(d.abs()))
}

/// The side-by-side text of A and B.
fn side_by_side(a: &Run, b: &Run) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "scalelab compare");
    let _ = writeln!(s, "  A  {}  ({} · seed {})", a.shown, a.scenario, a.seed);
    let _ = writeln!(s, "  B  {}  ({} · seed {})", b.shown, b.scenario, b.seed);
    for (run, side) in [(a, "A"), (b, "B")] {
        if run.schema < 2 {
            let _ = writeln!(
                s,
                "  {side} was written by an older scalelab (schema {}): its throughput counted the drain, so it is compared as \"with drain (req/s)\"",
                run.schema
            );
        }
    }
    for (name, da) in &a.designs {
        let Some((_, db)) = b.designs.iter().find(|(n, _)| n == name) else {
            let _ = writeln!(s, "\n{name}: only in A");
            continue;
        };
        let _ = writeln!(s, "\n{name}\n  {:<20}{:>16}{:>16}  change", "", "A", "B");
        for m in &METRICS {
            let (Some(x), Some(y)) = ((m.get)(da), (m.get)(db)) else {
                continue;
            };
            let (change, direction) = difference(m, x, y);
            let _ = writeln!(
                s,
                "  {:<20}{:>16}{:>16}  {change:<22}{direction}",
                m.label,
                (m.show)(x),
                (m.show)(y)
            );
        }
    }
    for (name, _) in &b.designs {
        if !a.designs.iter().any(|(n, _)| n == name) {
            let _ = writeln!(s, "\n{name}: only in B");
        }
    }
    s
}

/// Each threshold judged on B's designs: the text, and whether every one held.
fn judge(thresholds: &[Threshold], b: &Run) -> (String, bool) {
    let mut s = String::new();
    let mut held = true;
    if thresholds.is_empty() {
        return (s, held);
    }
    let _ = writeln!(s, "\nthresholds (judged on B)");
    for t in thresholds {
        let Some(m) = METRICS.iter().find(|m| m.name == t.metric) else {
            continue;
        };
        let mut cells = Vec::new();
        let mut judged = false;
        for (name, d) in &b.designs {
            if t.design.as_ref().is_some_and(|only| only != name) {
                continue;
            }
            judged = true;
            match (m.get)(d) {
                Some(v) if t.op.holds(v, t.limit) => {
                    cells.push(format!("{name} {} ok", (m.show)(v)));
                }
                Some(v) => {
                    held = false;
                    cells.push(format!("{name} {} BROKEN", (m.show)(v)));
                }
                None => {
                    held = false;
                    cells.push(format!("{name}: no such figure in B"));
                }
            }
        }
        if !judged {
            held = false;
            cells.push(format!(
                "{}: not in B",
                t.design.as_deref().unwrap_or("no design")
            ));
        }
        let _ = writeln!(s, "  {:<24}  {}", t.text, cells.join(" · "));
    }
    (s, held)
}

/// `scalelab compare`.
pub fn main(a: &Path, b: &Path, thresholds: &[String]) -> ExitCode {
    let (a, b) = match (load(a), load(b)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let figures = figures();
    let designs: Vec<&str> = b.designs.iter().map(|(n, _)| n.as_str()).collect();
    let mut parsed = Vec::new();
    for text in thresholds {
        match threshold::parse(text, &figures, &designs) {
            Ok(t) => parsed.push(t),
            Err(e) => {
                let error = scenario_file::located("--threshold", text, Some(e.span), &e.message);
                eprint!("{}", error.render(std::io::stderr().is_terminal()));
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        }
    }
    print!("{}", side_by_side(&a, &b));
    let (text, held) = judge(&parsed, &b);
    print!("{text}");
    if held {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VIOLATION)
    }
}
