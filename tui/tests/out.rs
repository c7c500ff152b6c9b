//! End-to-end tests of `scalelab run --out` and `scalelab compare`, through the binary, on a
//! shortened flash sale with one fault: the HTML page is self-contained and holds the charts,
//! the JTL files have JMeter's columns and one row per request, the .hgrm files have
//! HdrHistogram's layout, trace.json is trace-event JSON, report.json matches the JSON Schema
//! in tui/schema/, compare shows differences and its thresholds exit 1 (broken) and 2
//! (malformed, pointed at). If Chromium is installed, the page also opens in it headless.
#![cfg(madsim)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

const DESIGNS: [&str; 4] = ["vertical", "horizontal", "queued", "sharded"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scalelab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scalelab"))
        .args(args)
        .current_dir(workspace())
        .env_remove("SCALELAB_SEED")
        .output()
        .expect("the scalelab binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Where this file's runs write (cargo's scratch folder for integration tests).
fn scratch() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("scalelab-out-test")
}

/// flash-sale shortened to 30 s (a smaller spike), with the app killed at 12 s for 5 s.
fn short_scenario() -> PathBuf {
    let original = std::fs::read_to_string(workspace().join("scenarios/flash-sale.toml"))
        .expect("flash-sale.toml");
    let start = original.find("curve = [").expect("a curve");
    let end = start + original[start..].find("\n]").expect("the curve's end") + 2;
    let mut s = original[..start].to_owned();
    s.push_str(
        "curve = [\n  { at_s = 0, sessions_per_s = 30 },\n  { at_s = 10, sessions_per_s = 120 },\n  \
         { at_s = 20, sessions_per_s = 40 },\n  { at_s = 30, sessions_per_s = 40 },\n]",
    );
    s.push_str(&original[end..]);
    let s = s.replacen("duration_s = 300", "duration_s = 30", 1);
    assert!(
        s.contains("duration_s = 30\n"),
        "flash-sale's duration moved"
    );
    let s = s + "\n[[faults]]\nat_s = 12\nkind = \"kill\"\ntarget = \"app\"\nrestart_after_s = 5\n";
    let path = scratch().join("short-flash-sale.toml");
    std::fs::create_dir_all(scratch()).expect("scratch folder");
    std::fs::write(&path, s).expect("scenario written");
    path
}

/// The --out folder of seed 42 and the --json report of seed 43, made once for all tests.
fn runs() -> &'static (PathBuf, PathBuf) {
    static RUNS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    RUNS.get_or_init(|| {
        let scenario = short_scenario();
        let scenario = scenario.to_str().expect("utf-8 path");
        let dir = scratch().join("seed-42");
        let _ = std::fs::remove_dir_all(&dir);
        let dir_s = dir.to_str().expect("utf-8 path");
        let out = scalelab(&["run", scenario, "--seed", "42", "--out", dir_s]);
        assert!(out.status.success(), "run --out: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("report.html"),
            "{}",
            text(&out.stderr)
        );
        let other = scalelab(&["run", scenario, "--seed", "43", "--json"]);
        assert!(
            other.status.success(),
            "run --json: {}",
            text(&other.stderr)
        );
        let json = scratch().join("seed-43.json");
        std::fs::write(&json, &other.stdout).expect("seed 43 written");
        (dir, json)
    })
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn report_json(dir: &Path) -> Value {
    serde_json::from_str(&read(&dir.join("report.json"))).expect("report.json is JSON")
}

#[test]
fn the_html_report_is_one_self_contained_page_with_the_charts() {
    let (dir, _) = runs();
    let html = read(&dir.join("report.html"));
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..80]);
    assert!(html.trim_end().ends_with("</html>"));
    for tag in ["<script", "<link", "<img", "<iframe", "@import", "url("] {
        assert!(!html.contains(tag), "the page has {tag}");
    }
    // The only web addresses are the SVG namespace, which names and loads nothing.
    let mut rest = html.as_str();
    let mut namespaces = 0;
    while let Some(i) = rest.find("http") {
        let here = &rest[i..];
        assert!(
            here.starts_with("http://www.w3.org/2000/svg\""),
            "a web address in the page: {}",
            &here[..here.len().min(80)]
        );
        namespaces += 1;
        rest = &here[4..];
    }
    let svgs = html.matches("<svg").count();
    assert_eq!(svgs, 10, "one inline SVG per chart");
    assert_eq!(namespaces, svgs);
    for needle in [
        "requests answered per second",
        "p99 latency",
        "availability per window",
        "errors per second",
        "app hosts taking traffic",
        "database CPU (per shard)",
        "queue lag",
        "revenue lost so far",
        // The summary table and the checks, with every design.
        "<td>availability</td>",
        "no-lost-order",
        "sharded",
        // The fault, listed and labelled on the charts' shaded span.
        "kill app, restart after 5 s",
    ] {
        assert!(html.contains(needle), "the page lacks {needle:?}");
    }
    // The charts beside it, one file each, are the same SVGs.
    let files: Vec<String> = std::fs::read_dir(dir)
        .expect("the folder")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".svg"))
        .collect();
    assert_eq!(files.len(), 10, "{files:?}");
    for f in files {
        let svg = read(&dir.join(&f));
        assert!(svg.trim_start().starts_with("<svg"), "{f}");
        assert!(html.contains(svg.trim()), "{f} is not inlined in the page");
    }
}

#[test]
fn each_jtl_has_jmeters_columns_and_one_row_per_request() {
    let (dir, _) = runs();
    let report = report_json(dir);
    let header = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect";
    for (i, design) in DESIGNS.iter().enumerate() {
        let jtl = read(&dir.join(format!("{design}.jtl")));
        let mut lines = jtl.lines();
        assert_eq!(lines.next(), Some(header), "{design}");
        let (mut rows, mut successes, mut failures_explained) = (0u64, 0u64, 0u64);
        for line in lines {
            let cols: Vec<&str> = line.split(',').collect();
            assert_eq!(cols.len(), 17, "{design}: {line}");
            for (k, name) in [
                (0, "timeStamp"),
                (1, "elapsed"),
                (9, "bytes"),
                (10, "sentBytes"),
            ]
            .into_iter()
            .chain([(11, "grpThreads"), (12, "allThreads"), (14, "Latency")])
            .chain([(15, "IdleTime"), (16, "Connect")])
            {
                assert!(
                    cols[k].parse::<u64>().is_ok(),
                    "{design}: {name} = {:?}",
                    cols[k]
                );
            }
            // Virtual milliseconds since the run began (30 s, then the liveness probe).
            assert!(
                cols[0].parse::<u64>().unwrap_or(u64::MAX) < 100_000,
                "{line}"
            );
            assert!(cols[5].starts_with(&format!("{design} 1-")), "{line}");
            assert!(cols[13].starts_with('/'), "a path: {line}");
            match cols[7] {
                "true" => {
                    successes += 1;
                    assert_eq!(cols[8], "", "a success has no failure message: {line}");
                }
                "false" => failures_explained += u64::from(!cols[8].is_empty()),
                other => panic!("success is {other:?}"),
            }
            rows += 1;
        }
        let d = &report["designs"][i];
        assert_eq!(d["design"], *design);
        // Every request, and success is what availability counts.
        assert_eq!(Some(rows), d["requests"].as_u64(), "{design}");
        assert_eq!(Some(successes), d["answered_in_slo"].as_u64(), "{design}");
        assert_eq!(failures_explained, rows - successes, "{design}");
    }
    // The vertical design lost its one server for 5 s: its JTL shows failures.
    let vertical = read(&dir.join("vertical.jtl"));
    assert!(vertical.contains(",false,"), "the kill shows");
}

#[test]
fn jtl_rows_are_an_even_sample_past_the_size_asked() {
    let scenario = short_scenario();
    let dir = scratch().join("sampled");
    let _ = std::fs::remove_dir_all(&dir);
    let out = scalelab(&[
        "run",
        scenario.to_str().expect("utf-8"),
        "--seed",
        "42",
        "--design",
        "horizontal",
        "--out",
        dir.to_str().expect("utf-8"),
        "--jtl-max-rows",
        "1000",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let jtl = read(&dir.join("horizontal.jtl"));
    let rows: Vec<&str> = jtl.lines().skip(1).collect();
    assert!((500..1000).contains(&rows.len()), "{} rows", rows.len());
    // Spread over the whole run, not its first second.
    let last: u64 = rows
        .last()
        .and_then(|r| r.split(',').next()?.parse().ok())
        .expect("a timeStamp");
    assert!(last > 25_000, "the sample ends at {last} ms");
    let bad = scalelab(&["run", "x.toml", "--jtl-max-rows", "10"]);
    assert_eq!(bad.status.code(), Some(2), "--jtl-max-rows needs --out");
    // A folder that cannot be made is bad input, said before the run starts.
    let file = scenario.to_str().expect("utf-8");
    let bad = scalelab(&["run", file, "--seed", "1", "--out", file]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("cannot create the folder"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn hgrm_files_have_hdrhistograms_percentile_layout() {
    let (dir, _) = runs();
    let report = report_json(dir);
    for (i, design) in DESIGNS.iter().enumerate() {
        let hgrm = read(&dir.join(format!("{design}.hgrm")));
        let lines: Vec<&str> = hgrm.lines().collect();
        assert_eq!(
            lines[0],
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines[1], "");
        let rows: Vec<Vec<&str>> = lines[2..]
            .iter()
            .take_while(|l| !l.starts_with('#'))
            .map(|l| l.split_whitespace().collect())
            .collect();
        let (last, body) = rows.split_last().expect("rows");
        let mut previous = (0.0f64, 0.0f64, 0u64);
        for row in body {
            assert_eq!(row.len(), 4, "{design}: {row:?}");
            let v: (f64, f64, u64) = (
                row[0].parse().expect("value"),
                row[1].parse().expect("percentile"),
                row[2].parse().expect("count"),
            );
            assert!(
                v.0 >= previous.0 && v.1 >= previous.1 && v.2 >= previous.2,
                "{row:?}"
            );
            previous = v;
        }
        assert_eq!(last.len(), 3);
        assert_eq!(last[1], "1.000000000000");
        let requests = report["designs"][i]["requests"].as_u64().expect("requests");
        assert_eq!(last[2].parse::<u64>().ok(), Some(requests), "{design}");
        let footer: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.starts_with('#'))
            .collect();
        assert_eq!(footer.len(), 3, "{hgrm}");
        assert!(footer[0].starts_with("#[Mean    = "), "{}", footer[0]);
        assert!(footer[1].starts_with("#[Max     = "), "{}", footer[1]);
        assert!(footer[1].ends_with(&format!("Total count    = {requests:>12}]")));
        assert!(footer[2].starts_with("#[Buckets = "));
        // The mean agrees with the report's.
        let mean: f64 = footer[0]["#[Mean    = ".len()..]
            .split(',')
            .next()
            .and_then(|m| m.trim().parse().ok())
            .expect("a mean");
        let reported = report["designs"][i]["latency"]["mean_ms"]
            .as_f64()
            .expect("mean");
        assert!((mean - reported).abs() < 0.001, "{mean} vs {reported}");
        assert!(dir.join(format!("{design}.checkout.hgrm")).is_file());
    }
}

#[test]
fn the_trace_is_trace_event_json_with_a_process_per_design() {
    let (dir, _) = runs();
    let trace: Value = serde_json::from_str(&read(&dir.join("trace.json"))).expect("JSON");
    let events = trace["traceEvents"]
        .as_array()
        .expect("a traceEvents array");
    assert!(!events.is_empty());
    for e in events {
        assert!(e["name"].is_string(), "{e}");
        assert!(e["ph"].is_string(), "{e}");
        assert!(e["ts"].is_number(), "{e}");
        assert!(e["pid"].is_u64(), "{e}");
        assert!(e["tid"].is_u64(), "{e}");
        if e["ph"] == "X" {
            assert!(e["dur"].as_f64().is_some_and(|d| d > 0.0), "{e}");
        }
    }
    let processes: Vec<&str> = events
        .iter()
        .filter(|e| e["name"] == "process_name")
        .filter_map(|e| e["args"]["name"].as_str())
        .collect();
    assert_eq!(processes, DESIGNS);
    let has = |ph: &str, cat: &str| events.iter().any(|e| e["ph"] == ph && e["cat"] == cat);
    assert!(has("X", "request"), "requests as slices");
    assert!(has("X", "fault"), "faults as slices");
    assert!(events.iter().any(|e| e["ph"] == "i"), "instant events");
    for counter in [
        "app CPU %",
        "db-3 CPU %",
        "replicas",
        "queue lag",
        "requests in flight",
    ] {
        assert!(
            events
                .iter()
                .any(|e| e["ph"] == "C" && e["name"] == counter),
            "counter {counter}"
        );
    }
    // A kill of the app hits a node of each design, drawn on that node's track.
    let node_tracks: Vec<&str> = events
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .filter_map(|e| e["args"]["name"].as_str())
        .collect();
    assert!(node_tracks.contains(&"db-0 (db)"), "{node_tracks:?}");
    // Slices on one track never overlap (Perfetto nests them otherwise).
    let mut ends: std::collections::BTreeMap<(u64, u64), f64> = Default::default();
    for e in events.iter().filter(|e| e["cat"] == "request") {
        let key = (
            e["pid"].as_u64().unwrap_or(0),
            e["tid"].as_u64().unwrap_or(0),
        );
        let ts = e["ts"].as_f64().unwrap_or(0.0);
        let end = ends.entry(key).or_insert(0.0);
        assert!(ts >= *end, "overlapping slices on {key:?}");
        *end = ts + e["dur"].as_f64().unwrap_or(0.0);
    }
}

/// The JSON types a schema's `type` allows, checked on `v`.
fn type_matches(v: &Value, ty: &Value) -> bool {
    let one = |t: &str| match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    };
    match ty {
        Value::String(t) => one(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(one),
        _ => true,
    }
}

/// Checks `v` against the part of JSON Schema this repository's schema uses: `type`,
/// `required`, `properties`, `items`, `additionalProperties`, `enum`, `const`, `oneOf`
/// and local `$ref`s. Also that every field of an object is documented in its
/// `properties`. Returns what does not match, with where.
fn check(v: &Value, schema: &Value, root: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let path = r.trim_start_matches("#/");
        let target = path.split('/').fold(root, |s, k| &s[k]);
        return check(v, target, root, at, problems);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let fits = options.iter().filter(|o| {
            let mut p = Vec::new();
            check(v, o, root, at, &mut p);
            p.is_empty()
        });
        if fits.count() != 1 {
            problems.push(format!("{at}: matches not exactly one of oneOf"));
        }
        return;
    }
    if !schema["type"].is_null() && !type_matches(v, &schema["type"]) {
        problems.push(format!("{at}: {v} is not of type {}", schema["type"]));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(v) {
            problems.push(format!("{at}: {v} is not one of {allowed:?}"));
        }
    }
    if !schema["const"].is_null() && schema["const"] != *v {
        problems.push(format!("{at}: {v} is not {}", schema["const"]));
    }
    if let Some(obj) = v.as_object() {
        for key in schema["required"].as_array().into_iter().flatten() {
            let key = key.as_str().unwrap_or("");
            if !obj.contains_key(key) {
                problems.push(format!("{at}: required field {key} is missing"));
            }
        }
        for (key, value) in obj {
            let here = format!("{at}.{key}");
            match (&schema["properties"][key], &schema["additionalProperties"]) {
                (Value::Null, Value::Null) => {
                    problems.push(format!("{here}: not documented in the schema"));
                }
                (Value::Null, extra) => check(value, extra, root, &here, problems),
                (s, _) => check(value, s, root, &here, problems),
            }
        }
    }
    if let (Some(items), false) = (v.as_array(), schema["items"].is_null()) {
        for (i, item) in items.iter().enumerate() {
            check(
                item,
                &schema["items"],
                root,
                &format!("{at}[{i}]"),
                problems,
            );
        }
    }
}

#[test]
fn the_json_report_matches_its_schema_and_says_its_version() {
    let schema: Value =
        serde_json::from_str(&read(&workspace().join("tui/schema/report.schema.json")))
            .expect("the schema is JSON");
    let (dir, json) = runs();
    for path in [dir.join("report.json"), json.clone()] {
        let report: Value = serde_json::from_str(&read(&path)).expect("a JSON report");
        assert_eq!(
            report["schema_version"],
            schema["properties"]["schema_version"]["const"]
        );
        let mut problems = Vec::new();
        check(&report, &schema, &schema, "$", &mut problems);
        assert!(
            problems.is_empty(),
            "{}:\n{}",
            path.display(),
            problems.join("\n")
        );
    }
    // The checker itself catches a missing field, a wrong type and an undocumented one.
    let mut report: Value = serde_json::from_str(&read(json)).expect("JSON");
    report["designs"][0]
        .as_object_mut()
        .expect("an object")
        .remove("trace_hash");
    report["designs"][1]["requests"] = Value::String("many".into());
    report["designs"][2]["surprise"] = Value::Bool(true);
    let mut problems = Vec::new();
    check(&report, &schema, &schema, "$", &mut problems);
    assert_eq!(
        problems,
        [
            "$.designs[0]: required field trace_hash is missing",
            "$.designs[1].requests: \"many\" is not of type \"integer\"",
            "$.designs[2].surprise: not documented in the schema",
        ]
    );
}

#[test]
fn compare_prints_the_differences_and_judges_thresholds() {
    let (dir, json) = runs();
    let (a, b) = (dir.to_str().expect("utf-8"), json.to_str().expect("utf-8"));
    let out = scalelab(&["compare", a, b]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    for d in DESIGNS {
        assert!(s.contains(&format!("\n{d}\n")), "{d} in:\n{s}");
    }
    assert!(s.contains("seed 42") && s.contains("seed 43"), "{s}");
    let p99 = s
        .lines()
        .find(|l| l.trim_start().starts_with("p99 "))
        .expect("a p99 line");
    assert!(
        ["better", "worse", "same"].iter().any(|w| p99.ends_with(w)),
        "a direction: {p99}"
    );
    assert!(
        s.contains("better") && s.contains("worse"),
        "two seeds differ:\n{s}"
    );

    // A run compared with itself: every figure the same.
    let same = text(&scalelab(&["compare", a, a]).stdout);
    assert!(
        !same.contains("better") && !same.contains("worse"),
        "{same}"
    );

    let held = scalelab(&[
        "compare",
        a,
        b,
        "--threshold",
        "p99<10s",
        "--threshold",
        "errors<100%",
    ]);
    assert_eq!(held.status.code(), Some(0), "{}", text(&held.stdout));
    let broken = scalelab(&["compare", a, b, "--threshold", "sharded:p99<1us"]);
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken.stdout));
    let s = text(&broken.stdout);
    let line = s
        .lines()
        .find(|l| l.contains("sharded:p99<1us"))
        .expect("the threshold's line");
    assert!(
        line.contains("sharded") && line.contains("BROKEN"),
        "{line}"
    );
    assert!(!line.contains("vertical"), "judged on sharded only: {line}");

    let malformed = scalelab(&["compare", a, b, "--threshold", "p99<<800ms"]);
    assert_eq!(malformed.status.code(), Some(2));
    let e = text(&malformed.stderr);
    assert!(e.contains("--threshold:1:5: expected a number"), "{e}");
    // The marker sits under the fifth character, the second '<'.
    let shown = e
        .lines()
        .find(|l| l.contains("p99<<800ms"))
        .expect("the expression");
    let marker = e.lines().find(|l| l.contains('┬')).expect("a marker");
    let col = |l: &str, pat: &str| l.find(pat).map(|i| l[..i].chars().count());
    assert_eq!(col(marker, "┬"), col(shown, "p99").map(|c| c + 4), "{e}");
    let unknown = scalelab(&["compare", a, b, "--threshold", "availabilty>99%"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("did you mean availability?"));
    let not_a_report = scalelab(&["compare", a, "Cargo.toml"]);
    assert_eq!(not_a_report.status.code(), Some(2));
    assert!(text(&not_a_report.stderr).contains("not a JSON report"));
}

#[test]
fn compare_reads_a_schema_1_reports_throughput_as_the_one_with_the_drain() {
    let (dir, json) = runs();
    // Seed 43's report as a schema-1 build wrote it: version 1, and its throughput the one
    // that counted the drain.
    let mut old: Value = serde_json::from_str(&read(json)).expect("JSON");
    old["schema_version"] = Value::from(1);
    for d in old["designs"].as_array_mut().expect("designs") {
        let obj = d.as_object_mut().expect("a design");
        let with_drain = obj
            .remove("throughput_with_drain_rps")
            .expect("the new figure");
        obj.insert("throughput_rps".to_owned(), with_drain);
    }
    let old_path = scratch().join("seed-43-schema-1.json");
    std::fs::write(&old_path, old.to_string()).expect("written");
    let a = dir.to_str().expect("utf-8");
    let out = scalelab(&["compare", a, old_path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(
        s.contains(
            "B was written by an older scalelab (schema 1): its throughput counted the drain"
        ),
        "{s}"
    );
    // Never the old figure against the new one: only the drain-inclusive row is compared.
    let rows = |label: &str| {
        s.lines()
            .filter(|l| l.trim_start().starts_with(label))
            .count()
    };
    assert_eq!(rows("throughput (req/s)"), 0, "{s}");
    assert_eq!(rows("with drain (req/s)"), DESIGNS.len(), "{s}");
}

#[test]
fn the_page_opens_in_a_headless_browser() {
    let Some(browser) = ["chromium", "chromium-browser"].into_iter().find(|b| {
        Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }) else {
        println!("SKIPPED: no chromium on PATH");
        return;
    };
    let (dir, _) = runs();
    let page = std::fs::canonicalize(dir.join("report.html")).expect("the page");
    let shot = scratch().join("report.png");
    let _ = std::fs::remove_file(&shot);
    let out = Command::new(browser)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,2400",
            &format!("file://{}", page.display()),
        ])
        .output()
        .expect("the browser runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    assert!(
        png.len() > 50_000,
        "a page with charts, not a blank one: {} bytes",
        png.len()
    );
}

#[test]
fn a_replay_writes_the_same_files_for_the_same_run() {
    let scenario = short_scenario();
    let repro = scratch().join("sharded-repro.toml");
    let first = scratch().join("replay-first");
    let again = scratch().join("replay-again");
    for d in [&first, &again] {
        let _ = std::fs::remove_dir_all(d);
    }
    let run = scalelab(&[
        "run",
        scenario.to_str().expect("utf-8"),
        "--seed",
        "7",
        "--design",
        "sharded",
        "--save-repro",
        repro.to_str().expect("utf-8"),
        "--out",
        first.to_str().expect("utf-8"),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let replay = scalelab(&[
        "replay",
        repro.to_str().expect("utf-8"),
        "--out",
        again.to_str().expect("utf-8"),
    ]);
    assert!(replay.status.success(), "{}", text(&replay.stderr));
    assert!(text(&replay.stdout).contains("same trace"));
    // Deterministic: the same requests, the same histograms.
    for file in ["sharded.jtl", "sharded.hgrm", "sharded.checkout.hgrm"] {
        assert_eq!(read(&first.join(file)), read(&again.join(file)), "{file}");
    }
    assert!(again.join("report.html").is_file());
}
