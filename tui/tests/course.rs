//! The course, end to end through the `scalelab` binary: `lesson list`, `start`, `hint` and
//! `check` as a student meets them, including the answers a student gets wrong (a missed
//! target, a malformed file, another lesson's answer, a lesson that does not exist, a file
//! that is not there), and the promise that the same answer prints the same verdict in two
//! processes.
//!
//! Two tiers. The tests here without `#[ignore]` are quick and run with every `cargo test`.
//! Grading every lesson twice (the untouched starting point must fail, the reference answer
//! under lessons/solutions/ must pass, the code exercises' reference code included) runs
//! about eighty simulations, so those tests are `#[ignore]`d and run by `cargo xtask course`,
//! which CI runs after `cargo xtask test`.
//!
//! Every test works in a fresh temporary directory: `lesson` writes its answers and progress
//! under `answers/` of the working directory, and the course's data is embedded in the binary.
#![cfg(madsim)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh, empty working directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scalelab-course-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

fn scalelab(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scalelab"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the scalelab binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn solution(lesson: u8) -> String {
    workspace()
        .join(format!("lessons/solutions/{lesson:02}.toml"))
        .display()
        .to_string()
}

/// `lesson check` of `answer` in `dir`: exit code, stdout, stderr.
fn check(dir: &Path, lesson: u8, answer: &str, more: &[&str]) -> (Option<i32>, String, String) {
    let n = lesson.to_string();
    let mut args = vec!["lesson", "check", n.as_str(), answer];
    args.extend_from_slice(more);
    let out = scalelab(dir, &args);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn list_shows_ten_lessons_and_keeps_progress_in_the_ignored_folder() {
    let dir = scratch("list");
    let out = scalelab(&dir, &["lesson", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    for n in 1..=10 {
        assert!(s.contains(&format!("\n {n:>2}  ")), "lesson {n} in:\n{s}");
    }
    assert_eq!(s.matches("not started").count(), 10, "{s}");

    // A hint is counted, and the ladder climbs one rung per call.
    let first = text(&scalelab(&dir, &["lesson", "hint", "4"]).stdout);
    assert!(first.starts_with("hint 1 of 4:"), "{first}");
    let second = text(&scalelab(&dir, &["lesson", "hint", "4"]).stdout);
    assert!(second.starts_with("hint 2 of 4:"), "{second}");
    assert_ne!(first, second);
    let s = text(&scalelab(&dir, &["lesson", "list"]).stdout);
    assert!(s.contains("(2 hints)"), "{s}");
    assert!(dir.join("answers/.progress.toml").exists());

    // `start` writes the answer file there, and refuses to overwrite it.
    let out = scalelab(&dir, &["lesson", "start", "4"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.join("answers/04.toml").exists());
    let out = scalelab(&dir, &["lesson", "start", "4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("already exists"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_lesson_has_at_least_three_hints_and_they_run_out() {
    let dir = scratch("hints");
    for n in 1..=10u8 {
        let arg = n.to_string();
        let first = text(&scalelab(&dir, &["lesson", "hint", &arg]).stdout);
        let total: usize = first
            .strip_prefix("hint 1 of ")
            .and_then(|r| r.split(':').next())
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("lesson {n}: {first}"));
        assert!(total >= 3, "lesson {n} has {total} hints");
        for _ in 1..total {
            let _ = scalelab(&dir, &["lesson", "hint", &arg]);
        }
        let done = text(&scalelab(&dir, &["lesson", "hint", &arg]).stdout);
        assert!(done.starts_with("no more hints"), "lesson {n}: {done}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn answers_that_cannot_be_judged_exit_2_at_their_place() {
    let dir = scratch("adversary");
    let answers = dir.join("answers");
    std::fs::create_dir_all(&answers).expect("answers/");
    let write = |name: &str, body: &str| {
        std::fs::write(answers.join(name), body).expect("write");
        format!("answers/{name}")
    };

    // Broken TOML: file, line and column.
    let f = write("broken.toml", "lesson = 1\n[vertical.host\ncores = 21\n");
    let (code, out, err) = check(&dir, 1, &f, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty(), "nothing graded: {out}");
    assert!(err.contains("answers/broken.toml:2:"), "{err}");

    // A misspelt knob: the nearest one and the list, once.
    let f = write("typo.toml", "lesson = 1\n[vertical.host]\ncors = 21\n");
    let (code, _, err) = check(&dir, 1, &f, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("answers/typo.toml:3:1:"), "{err}");
    assert!(err.contains("Did you mean `vertical.host.cores`?"), "{err}");
    assert_eq!(err.matches("Expected one of").count(), 1, "{err}");

    // A value out of range points at the value.
    let f = write("zero.toml", "lesson = 1\n[vertical.host]\ncores = 0\n");
    let (code, _, err) = check(&dir, 1, &f, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("answers/zero.toml:3:9:"), "{err}");

    // Another lesson's answer.
    let (code, _, err) = check(&dir, 2, &solution(1), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("01.toml:2:10:"), "{err}");
    assert!(
        err.contains("this answer is for lesson 1, not lesson 2"),
        "{err}"
    );

    // No `lesson =` at all.
    let f = write("bare.toml", "[vertical.host]\ncores = 21\n");
    let (code, _, err) = check(&dir, 1, &f, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("answers/bare.toml:1:1:"), "{err}");
    assert!(err.contains("expected `lesson = 1`"), "{err}");

    // A lesson that does not exist, and a file that is not there.
    let (code, _, err) = check(&dir, 11, "answers/11.toml", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("there is no lesson 11"), "{err}");
    let (code, _, err) = check(&dir, 3, "answers/none.toml", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("answers/none.toml: cannot read the answer file"),
        "{err}"
    );
    assert!(err.contains("lesson start 3"), "{err}");

    // A knob the exercise holds fixed, in a section the lesson's scenario has.
    let f = write(
        "fixed.toml",
        "lesson = 1\n[vertical.host]\ncontention = 0\n",
    );
    let (code, _, err) = check(&dir, 1, &f, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("is not a knob of this exercise"), "{err}");

    // Asking for reference code in a lesson without code.
    let (code, _, err) = check(&dir, 1, &solution(1), &["--reference"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not a code exercise"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_wrong_answer_misses_with_a_pointer_and_prints_the_same_in_two_processes() {
    let dir = scratch("wrong");
    std::fs::create_dir_all(dir.join("answers")).expect("answers/");
    std::fs::write(
        dir.join("answers/01.toml"),
        "lesson = 1\n[predict]\ncores_needed = \"16\"\n[vertical.host]\ncores = 16\n",
    )
    .expect("write");
    let (code, first, err) = check(&dir, 1, "answers/01.toml", &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        first.contains("FAIL  worst 1-s window availability"),
        "{first}"
    );
    assert!(first.contains(" -> the server ran out of cores"), "{first}");
    assert!(
        first.contains("PASS  cores of the server: 16 cores"),
        "{first}"
    );
    assert!(first.contains("you predicted: 16"), "{first}");
    assert!(first.contains("3 held back"), "{first}");
    assert!(
        !first.contains("101"),
        "a held-back seed is never named:\n{first}"
    );
    let (_, second, _) = check(&dir, 1, "answers/01.toml", &[]);
    assert_eq!(first, second, "byte-identical verdicts");
    let list = text(&scalelab(&dir, &["lesson", "list"]).stdout);
    assert!(list.contains("attempted"), "{list}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Lesson `n`: the starting answer (as `lesson start` writes it, with the starting code) misses
/// a target, and the reference answer (with the reference code, for a code exercise) passes.
fn starting_fails_and_reference_passes(n: u8) {
    let dir = scratch(&format!("grade-{n}"));
    let arg = n.to_string();
    let out = scalelab(&dir, &["lesson", "start", &arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let start = format!("answers/{n:02}.toml");
    let (code, out, err) = check(&dir, n, &start, &[]);
    assert_eq!(code, Some(1), "lesson {n}, starting point:\n{out}{err}");
    assert!(out.contains("FAIL  "), "{out}");
    assert!(out.contains(" -> "), "a pointer on the failure:\n{out}");
    let code_exercise = matches!(n, 5 | 10);
    let reference: &[&str] = if code_exercise { &["--reference"] } else { &[] };
    let (code, out, err) = check(&dir, n, &solution(n), reference);
    assert_eq!(code, Some(0), "lesson {n}, reference:\n{out}{err}");
    assert!(!out.contains("FAIL  "), "{out}");
    if code_exercise {
        assert!(out.contains("the reference solution"), "{out}");
    }
    let list = text(&scalelab(&dir, &["lesson", "list"]).stdout);
    assert!(list.contains("passed"), "{list}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "slow tier: cargo xtask course"]
fn lesson_01_starting_fails_reference_passes() {
    starting_fails_and_reference_passes(1);
}

#[test]
#[ignore = "slow tier: cargo xtask course"]
fn lesson_02_starting_fails_reference_passes() {
    starting_fails_and_reference_passes(2);
}

#[test]
#[ignore = "slow tier: cargo xtask course"]
fn lesson_03_starting_fails_reference_passes() {
    starting_fails_and_reference_passes(3);
}

#[test]
#[ignore = "slow tier: cargo xtask course"]
fn lesson_04_starting_fails_reference_passes() {
    starting_fails_and_reference_passes(4);
}

#[test]
#[ignore = "slow tier: cargo xtask course"]
fn lesson_05_code_exercise_starting_worker_fails_reference_worker_passes() {
    starting_fails_and_reference_passes(5);
}

#[test]
#[ignore = "slow tier: cargo xtask course"]
fn lesson_06_starting_fails_reference_passes() {
    starting_fails_and_reference_passes(6);
}

#[test]
#[ignore = "slow tier: cargo xtask course"]
fn lesson_07_starting_fails_reference_passes() {
    starting_fails_and_reference_passes(7);
}

#[test]
#[ignore = "slow tier: cargo xtask course"]
fn lesson_08_starting_fails_reference_passes() {
    starting_fails_and_reference_passes(8);
}

#[test]
#[ignore = "slow tier: cargo xtask course"]
fn lesson_09_starting_fails_reference_passes() {
    starting_fails_and_reference_passes(9);
}

#[test]
#[ignore = "slow tier: cargo xtask course"]
fn lesson_10_code_exercise_starting_placement_fails_reference_placement_passes() {
    starting_fails_and_reference_passes(10);
}
