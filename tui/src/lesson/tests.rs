//! Unit tests of the course's data and of answer files: every exercise definition holds
//! together, every knob can be found in its scenario, and malformed answers are refused at
//! their line and column with what was expected.

use super::answer::{self, locate, merge};
use super::catalog;

fn exercises() -> Vec<catalog::Exercise> {
    catalog::all().expect("every exercise definition parses")
}

fn lesson(n: u8) -> catalog::Exercise {
    exercises()
        .into_iter()
        .find(|e| e.lesson == n)
        .expect("the lesson exists")
}

#[test]
fn ten_lessons_numbered_in_order_each_consistent() {
    let all = exercises();
    assert_eq!(all.len(), 10);
    for (i, e) in all.iter().enumerate() {
        assert_eq!(usize::from(e.lesson), i + 1, "{}", e.title);
        e.validate().unwrap_or_else(|m| panic!("{m}"));
    }
}

#[test]
fn every_lesson_scenario_parses_and_holds_its_knobs() {
    for e in exercises() {
        let base = catalog::scenario_text(&e.scenario).expect("embedded");
        scalelab_sim::parse(base)
            .unwrap_or_else(|err| panic!("lesson {}: {}: {err}", e.lesson, e.scenario));
        for k in &e.knobs {
            assert!(
                locate(base, &k.key).is_some(),
                "lesson {}: `{}` is not on a line of its own in {}",
                e.lesson,
                k.key,
                e.scenario
            );
        }
    }
}

#[test]
fn every_template_is_a_valid_answer_that_changes_nothing() {
    for e in exercises() {
        let base = catalog::scenario_text(&e.scenario).expect("embedded");
        let text = answer::template(&e, base);
        let a = answer::parse(&e, "answers/template.toml", &text)
            .unwrap_or_else(|err| panic!("lesson {}: {}", e.lesson, err.render(false)));
        assert_eq!(a.knobs.len(), e.knobs.len(), "lesson {}", e.lesson);
        let merged = merge(base, &a).expect("merges");
        assert_eq!(
            merged.text, base,
            "lesson {}: the template is the scenario",
            e.lesson
        );
    }
}

#[test]
fn locate_finds_a_value_in_its_section_without_its_comment() {
    let text = "a = 1\n[x]\ncores = 8 # eight\n[x.y]\ncores = \"a # b\"  # c\n";
    let at = locate(text, "x.cores").expect("found");
    assert_eq!(&text[at], "8");
    let at = locate(text, "x.y.cores").expect("found");
    assert_eq!(&text[at], "\"a # b\"");
    assert_eq!(&text[locate(text, "a").expect("root")], "1");
    assert!(locate(text, "y.cores").is_none());
}

/// The error an answer text gets from lesson 1's exercise, as printed (no colour).
fn refused(n: u8, text: &str) -> String {
    let e = lesson(n);
    match answer::parse(&e, "answers/01.toml", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(err) => err.render(false),
    }
}

#[test]
fn a_misspelt_knob_is_refused_at_its_place_with_the_nearest_and_the_list() {
    let err = refused(1, "lesson = 1\n[vertical.host]\ncoress = 12\n");
    assert!(err.contains("answers/01.toml:3:1:"), "{err}");
    assert!(err.contains("Did you mean `vertical.host.cores`?"), "{err}");
    assert!(
        err.contains("Expected one of `vertical.host.cores`"),
        "{err}"
    );
}

#[test]
fn a_knob_the_exercise_holds_fixed_is_refused() {
    let err = refused(
        1,
        "lesson = 1\n[vertical.host]\ncores = 12\ncontention = 0\n",
    );
    assert!(err.contains("answers/01.toml:4:1:"), "{err}");
    assert!(err.contains("is not a knob of this exercise"), "{err}");
}

#[test]
fn values_out_of_range_or_of_the_wrong_type_point_at_the_value() {
    let err = refused(1, "lesson = 1\n[vertical.host]\ncores = 0\n");
    assert!(err.contains("answers/01.toml:3:9:"), "{err}");
    assert!(err.contains("must be from 1 to 128"), "{err}");
    let err = refused(1, "lesson = 1\n[vertical.host]\ncores = \"many\"\n");
    assert!(err.contains("answers/01.toml:3:9:"), "{err}");
    assert!(err.contains("expected a whole number"), "{err}");
}

#[test]
fn another_lessons_answer_or_none_at_all_is_refused() {
    let err = refused(1, "lesson = 2\n");
    assert!(err.contains("answers/01.toml:1:10:"), "{err}");
    assert!(
        err.contains("this answer is for lesson 2, not lesson 1"),
        "{err}"
    );
    let err = refused(1, "[predict]\ncores_needed = \"12\"\n");
    assert!(err.contains("answers/01.toml:1:1:"), "{err}");
    assert!(err.contains("expected `lesson = 1`"), "{err}");
}

#[test]
fn broken_toml_and_unknown_predictions_are_refused_at_their_place() {
    let err = refused(1, "lesson = 1\n[vertical.host\ncores = 3\n");
    assert!(err.contains("answers/01.toml:2:"), "{err}");
    let err = refused(1, "lesson = 1\n[predict]\ncores = \"12\"\n");
    assert!(err.contains("answers/01.toml:3:1:"), "{err}");
    assert!(
        err.contains("is not a prediction of this exercise"),
        "{err}"
    );
}

#[test]
fn a_valid_answer_merges_into_the_scenario_and_is_read_by_its_rules() {
    let e = lesson(1);
    let base = catalog::scenario_text(&e.scenario).expect("embedded");
    let text = "lesson = 1\n[predict]\ncores_needed = 20\n[vertical.host]\ncores = 21\n";
    let a = answer::parse(&e, "a.toml", text).expect("valid");
    assert_eq!(
        a.predictions.get("cores_needed").map(String::as_str),
        Some("20")
    );
    let merged = merge(base, &a).expect("merges");
    let scenario = scalelab_sim::parse(&merged.text).expect("a valid scenario");
    assert_eq!(scenario.vertical.host.cores.get(), 21);
    let (in_merged, in_answer) = merged.regions[0].clone();
    assert_eq!(&merged.text[in_merged], "21");
    assert_eq!(&text[in_answer], "21");
}

/// The repository's root (the tests run in `tui/`).
fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The lesson pages, `lessons/NN-*.md`, sorted.
fn pages() -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(root().join("lessons"))
        .expect("lessons/")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".md") && n.as_bytes().first().is_some_and(u8::is_ascii_digit))
        .collect();
    found.sort();
    found
}

#[test]
fn summary_lists_every_lesson_page_and_every_exercise_has_its_page() {
    let summary =
        std::fs::read_to_string(root().join("lessons/SUMMARY.md")).expect("lessons/SUMMARY.md");
    let pages = pages();
    assert_eq!(pages.len(), 10, "ten lesson pages: {pages:?}");
    for page in &pages {
        assert!(
            summary.contains(&format!("]({page})")),
            "SUMMARY.md does not list {page}"
        );
    }
    for e in exercises() {
        let page = e
            .page
            .strip_prefix("lessons/")
            .expect("a page under lessons/");
        assert!(
            pages.iter().any(|p| p == page),
            "lesson {}: its page {} is not there",
            e.lesson,
            e.page
        );
        assert!(
            page.starts_with(&format!("{:02}-", e.lesson)),
            "lesson {} is numbered {page}",
            e.lesson
        );
    }
    let book = std::fs::read_to_string(root().join("lessons/book.toml")).expect("book.toml");
    assert!(book.contains("[book]"), "{book}");
}

/// Every `scalelab ...` command a text quotes: lines of its code blocks, and inline code
/// spans, that run scalelab (`cargo run --release --bin scalelab -- ...` or `scalelab ...`),
/// as the arguments after the program's name.
fn quoted_commands(text: &str) -> Vec<(usize, bool, Vec<String>)> {
    let mut found = Vec::new();
    // Inside a fence: `Some(true)` for a shell block (commands), `Some(false)` for any other
    // (program output, which may quote a command's name in passing).
    let mut block: Option<bool> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(info) = line.trim_start().strip_prefix("```") {
            block = match block {
                Some(_) => None,
                None => Some(matches!(info.trim(), "sh" | "bash" | "shell")),
            };
            continue;
        }
        let in_block = block == Some(true);
        let candidates: Vec<&str> = match block {
            Some(true) => vec![line.trim()],
            Some(false) => Vec::new(),
            None => line.split('`').skip(1).step_by(2).collect(),
        };
        for c in candidates {
            let args = c
                .strip_prefix("cargo run --release --bin scalelab -- ")
                .or_else(|| c.strip_prefix("scalelab "));
            if let Some(args) = args {
                let args = args.split(" #").next().unwrap_or(args);
                let words = args
                    .split_whitespace()
                    .map(|w| w.trim_matches('"').to_owned())
                    .collect();
                found.push((i + 1, in_block, words));
            }
        }
    }
    found
}

#[test]
fn every_command_a_lesson_quotes_is_a_command_of_this_build() {
    use clap::Parser;
    let mut checked = 0;
    let mut files: Vec<String> = pages().iter().map(|p| format!("lessons/{p}")).collect();
    files.extend(["lessons/README.md".into(), "README.md".into()]);
    for file in &files {
        let text = std::fs::read_to_string(root().join(file)).expect("readable");
        for (line, in_block, words) in quoted_commands(&text) {
            let argv = std::iter::once("scalelab".to_owned()).chain(words.iter().cloned());
            if let Err(e) = crate::Cli::try_parse_from(argv) {
                // Prose may name a command without its arguments (`scalelab run`); a code
                // block is something to paste, and must be whole.
                let named_only = !in_block
                    && matches!(
                        e.kind(),
                        clap::error::ErrorKind::MissingRequiredArgument
                            | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                    );
                if !named_only {
                    panic!(
                        "{file}:{line}: `scalelab {}` does not parse:\n{e}",
                        words.join(" ")
                    );
                }
            }
            // A scenario or repro a lesson names must ship, unless the student writes it
            // (the README's own examples may name files of the reader's).
            let lesson_page = file.starts_with("lessons/");
            for w in words.iter().filter(|_| lesson_page) {
                let named = w.ends_with(".toml") || w.ends_with(".rs");
                let theirs = w.starts_with("answers/") || w.starts_with("scalelab-repros/");
                if named && !theirs {
                    assert!(
                        root().join(w).exists(),
                        "{file}:{line}: `{w}` does not exist"
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 30,
        "only {checked} commands quoted in the lessons"
    );
}

#[test]
fn quoted_commands_are_found_in_blocks_and_spans() {
    let text = "Run `scalelab lesson list` or\n```sh\ncargo run --release --bin scalelab -- run scenarios/flash-sale.toml --seed 1  # a comment\nls\n```\n`cargo build` and `scalelab hint`\n```\nscalelab run · output\n```";
    let found = quoted_commands(text);
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[0], (1, false, vec!["lesson".into(), "list".into()]));
    assert_eq!(found[1].0, 3);
    assert!(found[1].1, "in a block");
    assert_eq!(found[1].2.len(), 4, "{found:?}");
    assert_eq!(found[2], (6, false, vec!["hint".into()]));
}
