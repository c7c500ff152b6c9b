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
