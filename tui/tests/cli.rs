//! End-to-end tests of the `scalelab` binary: determinism across processes, exit codes, and
//! the error reports for malformed scenario files (kept side by side in tests/invalid/).
//! The simulator's commands exist only in the sim world; `two_worlds.rs` covers the real one.
#![cfg(madsim)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scalelab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scalelab"))
        .args(args)
        .current_dir(workspace())
        .env_remove("SCALELAB_SEED")
        .output()
        .expect("the scalelab binary runs")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// (design, trace hash) of every design a `--json` run printed.
fn trace_hashes(out: &Output) -> Vec<(String, String)> {
    assert!(out.status.success(), "run failed: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    v["designs"]
        .as_array()
        .expect("designs")
        .iter()
        .map(|d| {
            let name = d["design"].as_str().expect("design").to_owned();
            (
                name,
                d["trace_hash"].as_str().expect("trace_hash").to_owned(),
            )
        })
        .collect()
}

fn flash_sale(seed: &str, more: &[&str]) -> Output {
    let mut args = vec!["run", "scenarios/flash-sale.toml", "--seed", seed];
    args.extend_from_slice(more);
    scalelab(&args)
}

#[test]
fn the_first_scenario_replays_bit_for_bit_in_another_process() {
    let a = trace_hashes(&flash_sale("42", &["--json"]));
    let b = trace_hashes(&flash_sale("42", &["--json"]));
    let c = trace_hashes(&flash_sale("43", &["--json"]));
    let names: Vec<&str> = a.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(
        names,
        ["vertical", "horizontal", "queued", "sharded"],
        "every design by default"
    );
    assert_eq!(a, b, "same seed, same hashes across processes");
    for ((_, x), (_, y)) in a.iter().zip(&c) {
        assert_ne!(x, y, "another seed, another hash");
        assert_eq!(x.len(), 16);
    }
    // One design alone replays to the same hash as beside the others.
    let alone = trace_hashes(&flash_sale("42", &["--json", "--design", "horizontal"]));
    assert_eq!(alone.len(), 1);
    assert!(a.contains(&alone[0]), "{alone:?} in {a:?}");
}

#[test]
fn designs_side_by_side_in_one_table() {
    let out = flash_sale("42", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    for needle in [
        "vertical vs horizontal vs queued vs sharded · seed 42",
        "availability",
        "app hosts (min-max)",
        "vertical     seed 42  trace ",
        "horizontal   seed 42  trace ",
        "queued       seed 42  trace ",
        "sharded      seed 42  trace ",
    ] {
        assert!(s.contains(needle), "missing {needle:?} in:\n{s}");
    }
}

#[test]
fn the_summary_shows_the_seed_the_hash_and_the_overload() {
    let out = flash_sale("42", &["--design", "vertical"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    for needle in [
        "design vertical · seed 42",
        "availability",
        "p99",
        "worst window",
        "seed 42  trace ",
        "scalelab run scenarios/flash-sale.toml --seed 42 --design vertical",
    ] {
        assert!(s.contains(needle), "missing {needle:?} in:\n{s}");
    }
    // Piped output gets no progress line.
    assert!(!text(&out.stderr).contains('\r'));
}

#[test]
fn without_a_seed_one_is_picked_and_printed() {
    let dir = tempdir();
    let path = dir.join("tiny.toml");
    let tiny = std::fs::read_to_string(workspace().join("tui/tests/invalid/wrong-type.toml"))
        .expect("read")
        .replace("duration_s = \"ten\"", "duration_s = 3");
    std::fs::write(&path, tiny).expect("write");
    let out = scalelab(&["run", path.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("the seed was picked for this run"), "{s}");
    let _ = std::fs::remove_dir_all(dir);
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scalelab-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn every_malformed_scenario_gets_a_pointed_error_and_exit_code_2() {
    let dir = workspace().join("tui/tests/invalid");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/invalid")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
    {
        let expected = std::fs::read_to_string(path.with_extension("expected"))
            .expect("a .expected file beside each .toml");
        let rel = format!(
            "tui/tests/invalid/{}",
            path.file_name().and_then(|n| n.to_str()).expect("name")
        );
        let out = scalelab(&["run", &rel, "--seed", "1"]);
        let err = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{rel}: exit code; stderr:\n{err}"
        );
        assert!(!err.contains("panicked"), "{rel} panicked:\n{err}");
        assert!(out.stdout.is_empty(), "{rel}: nothing on stdout");
        for line in expected.lines().filter(|l| !l.trim().is_empty()) {
            assert!(err.contains(line), "{rel}: expected {line:?} in:\n{err}");
        }
        // The offending line is shown, with a marker under the problem.
        assert!(
            err.contains('│') || err.contains('|'),
            "{rel}: no source snippet:\n{err}"
        );
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} invalid files checked");
}

#[test]
fn bad_flags_and_missing_files_are_bad_input() {
    let out = scalelab(&["run", "scenarios/no-such-file.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("scenarios/no-such-file.toml: cannot read the scenario file"),
        "{}",
        text(&out.stderr)
    );
    let out = scalelab(&["run", "scenarios/flash-sale.toml", "--seed", "forty-two"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid value 'forty-two' for '--seed <SEED>'"),
        "{}",
        text(&out.stderr)
    );
    let out = scalelab(&["fly"]);
    assert_eq!(out.status.code(), Some(2));
    let out = flash_sale("1", &["--design", "diagonal"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "no design named 'diagonal'; the designs are vertical, horizontal, queued, sharded"
        ),
        "{err}"
    );
    let out = scalelab(&["run", "scenarios/flash-sale.toml", "--design", "diagonal"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("no design named 'diagonal'; the designs are vertical, horizontal"),
        "{}",
        text(&out.stderr)
    );
}
