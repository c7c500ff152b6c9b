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

#[test]
fn a_scenario_named_wrongly_gets_the_nearest_and_the_list() {
    for typed in ["flash-sale", "scenarios/flash-sal.toml", "flash_sale.toml"] {
        let out = scalelab(&["run", typed, "--seed", "1"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{typed}: {err}");
        assert!(
            err.contains(&format!("{typed}: cannot read the scenario file")),
            "{err}"
        );
        assert!(
            err.contains("did you mean scenarios/flash-sale.toml?"),
            "{typed}: {err}"
        );
        assert!(err.contains("  scenarios/black-friday.toml"), "{err}");
        assert!(
            err.contains("  lessons/scenarios/01-flash-sale.toml"),
            "{err}"
        );
    }
    // Nothing near: the list alone.
    let err = text(&scalelab(&["run", "zzz.toml"]).stderr);
    assert!(!err.contains("did you mean"), "{err}");
    assert!(
        err.contains("the scenarios that ship with scalelab:"),
        "{err}"
    );
}

#[test]
fn an_unknown_key_lists_the_expected_keys_once() {
    let out = scalelab(&["run", "tui/tests/invalid/misspelt-key.toml", "--seed", "1"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("`users`").count(), 1, "{err}");
    assert!(err.contains("did you mean `think_time_ms_mean`?"), "{err}");
}

/// A short shop whose mail provider dies for good: the queued designs acknowledge orders
/// whose confirmation can never be sent, a real violation of one-confirmation-email.
/// A scenario whose queued design breaks a promise: the mail provider dies 2 s in for good,
/// and the checkers look 10 ms after the end-of-run liveness phase has brought it back, while
/// confirmation emails are still queued.
fn mail_dies(dir: &Path) -> PathBuf {
    let path = dir.join("mail-dies.toml");
    let text = std::fs::read_to_string(workspace().join("tui/tests/invalid/wrong-type.toml"))
        .expect("read")
        .replace("duration_s = \"ten\"", "duration_s = 20")
        + "\n[checks]\ndrain_s = 0.01\nlag_recovery_s = 10\n\n[[faults]]\nat_s = 2\nkind = \"kill\"\ntarget = \"mail\"\n";
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn a_violation_exits_1_and_saves_a_repro_that_replays_in_another_process() {
    let dir = tempdir().join("violation");
    std::fs::create_dir_all(&dir).expect("dir");
    let scenario = mail_dies(&dir);
    let repro = dir.join("mail-dies.repro.toml");
    let out = scalelab(&[
        "run",
        scenario.to_str().expect("utf-8"),
        "--seed",
        "7",
        "--design",
        "horizontal,queued",
        "--save-repro",
        repro.to_str().expect("utf-8"),
    ]);
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}\n{}", text(&out.stderr));
    for needle in [
        "kill mail",
        "VIOLATED",
        "violation · queued · one-confirmation-email · seed 7",
        "acknowledged, but no confirmation email arrived by the end of the drain",
        "kill mail: killed mail",
    ] {
        assert!(s.contains(needle), "missing {needle:?} in:\n{s}");
    }
    assert!(text(&out.stderr).contains("repro saved: "));

    // Another process replays it to the same hashes, and reports the same violation.
    let again = scalelab(&["replay", repro.to_str().expect("utf-8")]);
    let r = text(&again.stdout);
    assert_eq!(again.status.code(), Some(1), "{r}\n{}", text(&again.stderr));
    assert!(r.contains("horizontal  same trace "), "{r}");
    assert!(r.contains("queued      same trace "), "{r}");

    // A repro of format 1 (written before the simulator's hops became exact) is refused with
    // which build wrote it and how to replay it there, never replayed wrongly.
    let original = std::fs::read_to_string(&repro).expect("repro");
    assert!(original.contains("\nformat = 2\n"), "{original}");
    let old = dir.join("format-1.toml");
    std::fs::write(&old, original.replace("\nformat = 2\n", "\nformat = 1\n")).expect("write");
    let out = scalelab(&["replay", old.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    for needle in [
        "format-1.toml:6:10: repro format 1 is not one this build reads (it reads format 2)",
        "before the simulator's hops became exact to the nanosecond",
        "git checkout $(git log --format=%h -1 -S'const FORMAT: u32 = 2;' -- tui/src/repro.rs)^",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert!(!text(&out.stdout).contains("same trace"));

    // A tampered repro (another seed) is reported as diverging, with where.
    let tampered = dir.join("tampered.toml");
    std::fs::write(&tampered, original.replace("seed = 7", "seed = 8")).expect("write");
    let out = scalelab(&["replay", tampered.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("DIVERGED: first in tick "),
        "{}",
        text(&out.stdout)
    );
    // ... and as edited by hand, naming what was edited, not as nondeterminism.
    let err = text(&out.stderr);
    assert!(
        err.contains("was edited after it was saved: the seed (its checksums differ)"),
        "{err}"
    );
    assert!(
        err.contains(
            "the replay diverged because the file was edited after it was saved (the seed)"
        ),
        "{err}"
    );
    assert!(!err.contains("nondeterminism"), "{err}");
    // An edit of the scenario is named down to its table; a comment is not an edit.
    let edited = dir.join("edited.toml");
    std::fs::write(
        &edited,
        original
            .replace("[checks]\n", "# a note\n[checks]\n")
            .replace("lag_recovery_s = 10", "lag_recovery_s = 11"),
    )
    .expect("write");
    let out = scalelab(&["replay", edited.to_str().expect("utf-8")]);
    let err = text(&out.stderr);
    assert!(
        err.contains("was edited after it was saved: `checks` in the scenario"),
        "{err}"
    );
    let commented = dir.join("commented.toml");
    std::fs::write(
        &commented,
        original.replace("[checks]\n", "# a note\n[checks]\n"),
    )
    .expect("write");
    let out = scalelab(&["replay", commented.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("edited"),
        "{}",
        text(&out.stderr)
    );
    // A live session's markers are listed with their times (added here by hand, so the file
    // also says the markers were edited) and change nothing in the run.
    let marked = dir.join("marked.toml");
    let with_marker = original.replacen(
        "[[expected]]",
        "[[markers]]\nlabel = \"a\"\ntick = 3\n\n[[expected]]",
        1,
    );
    assert_ne!(with_marker, original);
    std::fs::write(&marked, with_marker).expect("write");
    let out = scalelab(&["replay", marked.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("markers set in the live session: a at 0:00:03 (tick 3)"),
        "{err}"
    );
    assert!(
        err.contains("edited after it was saved: the markers"),
        "{err}"
    );
    assert!(text(&out.stdout).contains("queued      same trace "));

    // Shrunk: one design, the one fault that matters, a shorter run; it replays too.
    let shrunk = dir.join("shrunk.toml");
    let out = scalelab(&[
        "shrink",
        repro.to_str().expect("utf-8"),
        "--out",
        shrunk.to_str().expect("utf-8"),
    ]);
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}\n{}", text(&out.stderr));
    for needle in [
        "still fails, kept",
        "one-confirmation-email on queued",
        "faults                            1                  1",
        "the faults left:",
        ": kill mail",
        "first violation after",
        "smallest repro: ",
    ] {
        assert!(s.contains(needle), "missing {needle:?} in:\n{s}");
    }
    let again = scalelab(&["replay", shrunk.to_str().expect("utf-8")]);
    let r = text(&again.stdout);
    assert_eq!(again.status.code(), Some(1), "{r}\n{}", text(&again.stderr));
    assert!(r.contains("queued      same trace "), "{r}");
    assert!(!r.contains("horizontal"), "one design left: {r}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_run_that_holds_has_nothing_to_shrink() {
    let dir = tempdir().join("shrink-holds");
    std::fs::create_dir_all(&dir).expect("dir");
    let scenario = dir.join("calm.toml");
    let text_in = std::fs::read_to_string(workspace().join("tui/tests/invalid/wrong-type.toml"))
        .expect("read")
        .replace("duration_s = \"ten\"", "duration_s = 5");
    std::fs::write(&scenario, text_in).expect("write");
    let repro = dir.join("calm.repro.toml");
    let out = scalelab(&[
        "run",
        scenario.to_str().expect("utf-8"),
        "--seed",
        "1",
        "--design",
        "vertical",
        "--save-repro",
        repro.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = scalelab(&["shrink", repro.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr)
            .contains("error: seed 1 breaks no invariant on vertical: nothing to shrink"),
        "{}",
        text(&out.stderr)
    );
    let out = scalelab(&[
        "shrink",
        repro.to_str().expect("utf-8"),
        "--invariant",
        "no-lost-orders",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("unknown invariant `no-lost-orders`, expected one of: no-lost-order,"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_broken_repro_is_bad_input_with_its_place() {
    let dir = tempdir().join("bad-repro");
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("bad.toml");
    std::fs::write(&path, "format = 2\nseed = \"x\"\n").expect("write");
    let out = scalelab(&["replay", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.toml:2:8: invalid type: string \"x\", expected u64"),
        "{err}"
    );
    let out = scalelab(&["replay", "no-such.repro.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read the repro file"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn hunt_reports_failing_seeds_by_invariant_with_repros() {
    let dir = tempdir().join("hunt");
    std::fs::create_dir_all(&dir).expect("dir");
    let scenario = mail_dies(&dir);
    let out_dir = dir.join("found");
    let out = scalelab(&[
        "hunt",
        scenario.to_str().expect("utf-8"),
        "--seeds",
        "1..4",
        "--design",
        "queued",
        "--out",
        out_dir.to_str().expect("utf-8"),
        "--shrink",
    ]);
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}\n{}", text(&out.stderr));
    assert!(s.contains("3 of 3 seeds broke an invariant"), "{s}");
    assert!(
        s.contains("shrinking each failing seed (at most 200 runs each):"),
        "{s}"
    );
    for seed in 1..4 {
        assert!(
            s.contains(&format!(
                "  seed {seed}: one-confirmation-email on queued: 1 fault(s), 20 s -> 1 fault(s), "
            )),
            "{s}"
        );
        assert!(out_dir
            .join(format!("mail-dies-seed-{seed}-shrunk.toml"))
            .exists());
    }
    assert!(
        s.contains("one-confirmation-email   queued      3 seed(s): 1, 2, 3"),
        "{s}"
    );
    assert!(s.contains("seeds/min"), "{s}");
    for seed in 1..4 {
        assert!(out_dir.join(format!("mail-dies-seed-{seed}.toml")).exists());
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_demo_refuses_bad_input_and_a_missing_terminal_clearly() {
    // Not a speed on the ladder: clap's usage error (exit 2) names the speeds.
    let out = scalelab(&["demo", "--speed", "3"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("3x is not on the ladder; the speeds are 1x, 2x, 5x, 10x, 50x, max"),
        "{err}"
    );
    // A scenario that does not exist.
    let out = scalelab(&["demo", "scenarios/nope.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("scenarios/nope.toml"));
    // Output captured, so no terminal: it says so, and what to run instead.
    let out = scalelab(&["demo", "--seed", "1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("scalelab demo draws in a terminal"), "{err}");
    assert!(
        err.contains("scalelab run scenarios/black-friday.toml"),
        "{err}"
    );
    // --start-at: not a time, or not before the end of the day.
    let out = scalelab(&["demo", "--start-at", "3:75"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("'3:75' is not a time; write it as H:MM:SS, M:SS or seconds"),
        "{}",
        text(&out.stderr)
    );
    let out = scalelab(&["demo", "--start-at", "9:00:00"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "--start-at 9:00:00 is not before the end of black-friday's arrivals (0:20:00)"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_run_of_hours_says_so_before_it_starts() {
    // A day of 5,000 sessions per second: allowed, and hours of wall time.
    use std::io::{BufRead, BufReader};
    let text = std::fs::read_to_string(workspace().join("tui/tests/invalid/network-too-fast.toml"))
        .expect("read")
        .replace("duration_s = 10", "duration_s = 86400")
        .replace("sessions_per_s = 5 }", "sessions_per_s = 5000 }")
        .replace("latency_ms_min = 0.005", "latency_ms_min = 1");
    let path = tempdir().join("a-long-day.toml");
    std::fs::write(&path, text).expect("write");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_scalelab"))
        .args(["run", path.to_str().expect("utf-8"), "--seed", "1"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run scalelab");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut said = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let note = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.starts_with("note: this run is estimated") => break Some(line),
            Ok(line) => said.push(line),
            Err(_) => break None,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let note = note.unwrap_or_else(|| panic!("no estimate before the run: {said:?}"));
    assert!(note.contains("hours of wall time"), "{note}");
    assert!(note.contains("million simulated requests"), "{note}");
}

#[test]
fn bench_against_another_build_prints_both_sides_of_every_figure() {
    // The other build is this one: the figures come out on both sides, as ratios near 1.
    let me = env!("CARGO_BIN_EXE_scalelab");
    let out = scalelab(&["bench", "--against", me, "--quick", "--rounds", "1"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.contains("round 1: load average "), "{stdout}");
    for figure in [
        "vertical alone: simulated requests/s (one thread)",
        "sharded alone: wall (s)",
        "hunt: seeds per minute",
        "hunt, 10 seeds: peak memory (MiB)",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(figure))
            .unwrap_or_else(|| panic!("no line for {figure:?} in:\n{stdout}"));
        // Two values and a ratio: nothing left out on either side.
        assert!(line.contains('x') && !line.contains(" - "), "{line}");
    }
    let out = scalelab(&["bench", "--against", "no/such/scalelab"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--against no/such/scalelab: no such program"));
}
