//! A student's answer file (`answers/NN.toml`): reading it with the position of every key
//! and value, holding it to its exercise's whitelist, writing the starting template, and
//! merging its knobs into the lesson's scenario so that the scenario's own rules judge them.
//!
//! Every mistake in an answer is reported at its file, line and column, with what was
//! expected (the allowed keys, the nearest one, the range), through the same miette
//! rendering as scenario files. Must not: run anything, or accept a key the exercise does
//! not list (a student cannot change what the lesson holds fixed).

use std::collections::BTreeMap;
use std::ops::Range;

use toml_edit::{ImDocument, Item, Key, Value};

use super::catalog::{Exercise, Knob, KnobKind};
use crate::scenario_file::{located, LoadError};
use crate::suggest;

/// One value the answer set: where its key and value are in the file, and the value.
#[derive(Debug, Clone)]
pub struct Given {
    pub key_span: Range<usize>,
    pub value_span: Range<usize>,
    pub value: toml::Value,
}

/// An answer that passed its exercise's whitelist.
#[derive(Debug)]
pub struct Answer {
    /// The file as shown in messages.
    pub shown: String,
    pub text: String,
    /// Knobs by dotted key, in the order the file sets them.
    pub knobs: Vec<(String, Given)>,
    /// `[answer]` fields by key.
    pub fields: BTreeMap<String, Given>,
    /// `[predict]` entries by key, as text.
    pub predictions: BTreeMap<String, String>,
}

const LESSON_KEY: &str = "lesson";
const PREDICT: &str = "predict";
const ANSWER: &str = "answer";

type Fail<'a> = dyn Fn(Range<usize>, String) -> LoadError + 'a;

/// A node of the document: an item of a table, or a value inside an inline table.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    /// The entries of a table (with a `[header]`, dotted, or inline), each with its key.
    fn entries(self) -> Option<Vec<(&'a Key, Node<'a>)>> {
        match self {
            Node::Item(Item::Table(t)) => Some(
                t.iter()
                    .filter_map(|(name, _)| t.get_key_value(name))
                    .map(|(k, v)| (k, Node::Item(v)))
                    .collect(),
            ),
            Node::Item(Item::Value(Value::InlineTable(t))) | Node::Value(Value::InlineTable(t)) => {
                Some(
                    t.iter()
                        .filter_map(|(name, _)| t.key(name).zip(t.get(name)))
                        .map(|(k, v)| (k, Node::Value(v)))
                        .collect(),
                )
            }
            _ => None,
        }
    }

    fn value(self) -> Option<&'a Value> {
        match self {
            Node::Item(i) => i.as_value(),
            Node::Value(v) => Some(v),
        }
    }

    fn span(self) -> Option<Range<usize>> {
        match self {
            Node::Item(i) => i.span(),
            Node::Value(v) => v.span(),
        }
    }

    /// A plain value (no table, no array) as toml's own type.
    fn plain(self) -> Option<toml::Value> {
        Some(match self.value()? {
            Value::String(s) => toml::Value::String(s.value().clone()),
            Value::Integer(i) => toml::Value::Integer(*i.value()),
            Value::Float(f) => toml::Value::Float(*f.value()),
            Value::Boolean(b) => toml::Value::Boolean(*b.value()),
            _ => return None,
        })
    }
}

/// Where a key is: its own span, or for a table made implicitly by a dotted header (toml_edit
/// keeps no span for those), the place of its first entry.
fn key_span(key: &Key, node: Node) -> Range<usize> {
    key.span()
        .or_else(|| node.span())
        .or_else(|| {
            let list = node.entries()?;
            let (k, v) = list.first()?;
            Some(key_span(k, *v))
        })
        .unwrap_or(0..0)
}

fn value_span(node: Node) -> Range<usize> {
    node.span().unwrap_or(0..0)
}

/// Reads `text` (the file shown as `shown`) as an answer to `exercise`.
pub fn parse(exercise: &Exercise, shown: &str, text: &str) -> Result<Answer, LoadError> {
    let err = |span: Range<usize>, message: String| located(shown, text, Some(span), &message);
    let doc =
        ImDocument::parse(text).map_err(|e| located(shown, text, e.span(), e.message().trim()))?;
    let mut answer = Answer {
        shown: shown.to_owned(),
        text: text.to_owned(),
        knobs: Vec::new(),
        fields: BTreeMap::new(),
        predictions: BTreeMap::new(),
    };
    let mut lesson_seen = false;
    let root = Node::Item(doc.as_item()).entries().unwrap_or_default();
    for (key, item) in root {
        match key.get() {
            LESSON_KEY => {
                lesson_seen = true;
                match item.plain() {
                    Some(toml::Value::Integer(n)) if n == i64::from(exercise.lesson) => {}
                    Some(toml::Value::Integer(n)) => {
                        return Err(err(
                            value_span(item),
                            format!(
                                "this answer is for lesson {n}, not lesson {}: check it with `scalelab lesson check {n} {shown}`, or start lesson {} with `scalelab lesson start {}`",
                                exercise.lesson, exercise.lesson, exercise.lesson
                            ),
                        ))
                    }
                    _ => {
                        return Err(err(
                            value_span(item),
                            format!("expected the lesson's number, `lesson = {}`", exercise.lesson),
                        ))
                    }
                }
            }
            PREDICT => {
                let Some(list) = item.entries() else {
                    return Err(err(
                        key_span(key, item),
                        "expected a table `[predict]`".into(),
                    ));
                };
                for (k, v) in list {
                    let name = k.get().to_owned();
                    if !exercise.predictions.iter().any(|p| p.key == name) {
                        let names: Vec<&str> = exercise
                            .predictions
                            .iter()
                            .map(|p| p.key.as_str())
                            .collect();
                        return Err(err(key_span(k, v), unknown("prediction", &name, &names)));
                    }
                    let written = match v.plain() {
                        Some(toml::Value::String(s)) => s.trim().to_owned(),
                        Some(toml::Value::Integer(n)) => n.to_string(),
                        Some(toml::Value::Float(f)) => f.to_string(),
                        Some(toml::Value::Boolean(b)) => b.to_string(),
                        _ => {
                            return Err(err(
                                value_span(v),
                                format!("expected your prediction as text: `{name} = \"...\"`"),
                            ))
                        }
                    };
                    answer.predictions.insert(name, written);
                }
            }
            ANSWER if !exercise.fields.is_empty() => {
                let Some(list) = item.entries() else {
                    return Err(err(
                        key_span(key, item),
                        "expected a table `[answer]`".into(),
                    ));
                };
                for (k, v) in list {
                    let name = k.get().to_owned();
                    let Some(field) = exercise.fields.iter().find(|f| f.key == name) else {
                        let names: Vec<&str> =
                            exercise.fields.iter().map(|f| f.key.as_str()).collect();
                        return Err(err(key_span(k, v), unknown("answer field", &name, &names)));
                    };
                    let given = leaf(field, k, v, &err)?;
                    answer.fields.insert(name, given);
                }
            }
            _ => flatten(exercise, key, item, "", &mut answer.knobs, &err)?,
        }
    }
    if !lesson_seen {
        return Err(err(
            0..0,
            format!(
                "expected `lesson = {}` at the top: it says which lesson this answer is for",
                exercise.lesson
            ),
        ));
    }
    Ok(answer)
}

/// "`x` is not a knob of this exercise. Did you mean `y`? Expected one of `a`, `b`."
fn unknown(what: &str, name: &str, names: &[&str]) -> String {
    if names.is_empty() {
        return format!("`{name}` is not a {what} of this exercise, which has none");
    }
    let mean = suggest::nearest(name, names.iter().copied())
        .map(|n| format!(" Did you mean `{n}`?"))
        .unwrap_or_default();
    let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    // The list goes on a line of its own: the marker under the file's line repeats only the
    // first line, so the list is shown once.
    format!(
        "`{name}` is not a {what} of this exercise.{mean}\nExpected one of {}",
        list.join(", ")
    )
}

/// Walks a knob section down to its values, checking each against the whitelist.
fn flatten(
    exercise: &Exercise,
    key: &Key,
    item: Node,
    prefix: &str,
    out: &mut Vec<(String, Given)>,
    err: &Fail,
) -> Result<(), LoadError> {
    let path = if prefix.is_empty() {
        key.get().to_owned()
    } else {
        format!("{prefix}.{}", key.get())
    };
    let knob_names: Vec<&str> = exercise.knobs.iter().map(|k| k.key.as_str()).collect();
    let is_section = knob_names
        .iter()
        .any(|k| k.starts_with(&format!("{path}.")));
    if let (true, Some(list)) = (is_section, item.entries()) {
        for (k, v) in list {
            flatten(exercise, k, v, &path, out, err)?;
        }
        return Ok(());
    }
    let Some(knob) = exercise.knobs.iter().find(|k| k.key == path) else {
        let mut names = knob_names.clone();
        if !exercise.fields.is_empty() {
            names.push("[answer]");
        }
        return Err(err(key_span(key, item), unknown("knob", &path, &names)));
    };
    let given = leaf(knob, key, item, err)?;
    out.push((path, given));
    Ok(())
}

/// Checks one value against its knob's kind and bounds.
fn leaf(knob: &Knob, key: &Key, item: Node, err: &Fail) -> Result<Given, LoadError> {
    let span = value_span(item);
    let range = || match (knob.min, knob.max) {
        (Some(lo), Some(hi)) => format!(" from {lo} to {hi}"),
        (Some(lo), None) => format!(" of at least {lo}"),
        (None, Some(hi)) => format!(" of at most {hi}"),
        (None, None) => String::new(),
    };
    let v = item.plain();
    let number = match (&v, knob.kind) {
        (Some(toml::Value::Integer(n)), KnobKind::Integer | KnobKind::Number) => Some(*n as f64),
        (Some(toml::Value::Float(f)), KnobKind::Number) => Some(*f),
        (Some(toml::Value::String(s)), KnobKind::Choice) if knob.choices.contains(s) => None,
        (_, KnobKind::Integer) => {
            return Err(err(
                span,
                format!("expected a whole number{} for `{}`", range(), knob.key),
            ))
        }
        (_, KnobKind::Number) => {
            return Err(err(
                span,
                format!("expected a number{} for `{}`", range(), knob.key),
            ))
        }
        (_, KnobKind::Choice) => {
            let choices: Vec<String> = knob.choices.iter().map(|c| format!("\"{c}\"")).collect();
            return Err(err(
                span,
                format!("expected one of {} for `{}`", choices.join(", "), knob.key),
            ));
        }
    };
    if let Some(n) = number {
        let low = knob.min.is_some_and(|lo| n < lo);
        let high = knob.max.is_some_and(|hi| n > hi);
        if !n.is_finite() || low || high {
            return Err(err(
                span,
                format!("`{}` must be{}; this answer says {n}", knob.key, range()),
            ));
        }
    }
    let Some(value) = v else {
        return Err(err(span, format!("expected a value for `{}`", knob.key)));
    };
    Ok(Given {
        key_span: key_span(key, item),
        value_span: span,
        value,
    })
}

impl Answer {
    /// The value of a field, if the answer gave one.
    pub fn field(&self, key: &str) -> Option<&toml::Value> {
        self.fields.get(key).map(|g| &g.value)
    }

    /// The value of a knob, if the answer set it.
    pub fn knob(&self, key: &str) -> Option<&toml::Value> {
        self.knobs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, g)| &g.value)
    }

    /// An error at a place in this answer.
    pub fn error_at(&self, span: Range<usize>, message: &str) -> LoadError {
        located(&self.shown, &self.text, Some(span), message)
    }
}

/// Where a dotted key's value sits in a scenario's text: the byte range of the value on its
/// `key = value` line within the `[section]` that holds it (comments excluded). Lesson
/// scenarios write every knob that way; a test checks it.
pub fn locate(text: &str, dotted: &str) -> Option<Range<usize>> {
    let (section, key) = match dotted.rsplit_once('.') {
        Some((s, k)) => (s, k),
        None => ("", dotted),
    };
    let mut current = String::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            current = trimmed
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
            if trimmed.starts_with("[[") {
                current = format!("[[{current}]]");
            }
            continue;
        }
        if current != section {
            continue;
        }
        let Some(rest) = trimmed.strip_prefix(key) else {
            continue;
        };
        let Some(after_eq) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        // The value runs to a comment outside quotes, or the end of the line.
        let value_start = start + (line.len() - line.trim_start().len()) + trimmed.len()
            - after_eq.trim_start().len();
        let value_text = after_eq.trim_start();
        let mut in_string = false;
        let mut end = value_text.len();
        for (i, c) in value_text.char_indices() {
            match c {
                '"' => in_string = !in_string,
                '#' if !in_string => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let value = value_text[..end].trim_end();
        if value.is_empty() {
            return None;
        }
        return Some(value_start..value_start + value.len());
    }
    None
}

/// The lesson's scenario with the answer's knobs in place, and for each replaced value, its
/// range in the merged text and in the answer (to point errors back into the answer).
pub struct Merged {
    pub text: String,
    pub regions: Vec<(Range<usize>, Range<usize>)>,
}

/// Puts the answer's knob values into `base` by replacing the text of each value, so that the
/// scenario is read by the simulator's own parser with all its rules.
pub fn merge(base: &str, answer: &Answer) -> Result<Merged, String> {
    let mut edits: Vec<(Range<usize>, &str, Range<usize>)> = Vec::new();
    for (key, given) in &answer.knobs {
        let at = locate(base, key).ok_or_else(|| {
            format!("the lesson's scenario does not set `{key}` (a bug in the course)")
        })?;
        let raw = answer
            .text
            .get(given.value_span.clone())
            .ok_or_else(|| format!("cannot read the value of `{key}`"))?;
        edits.push((at, raw, given.value_span.clone()));
    }
    edits.sort_by_key(|(at, _, _)| at.start);
    let mut text = String::with_capacity(base.len());
    let mut regions = Vec::new();
    let mut copied = 0;
    for (at, raw, answer_span) in edits {
        if at.start < copied {
            // The same key twice: TOML itself refuses that before we get here.
            continue;
        }
        text.push_str(&base[copied..at.start]);
        let from = text.len();
        text.push_str(raw);
        regions.push((from..text.len(), answer_span));
        copied = at.end;
    }
    text.push_str(&base[copied..]);
    Ok(Merged { text, regions })
}

/// The starting answer file of `exercise`: its task, the questions to predict, the fields,
/// and every knob at the scenario's value, each with what it means.
pub fn template(exercise: &Exercise, base: &str) -> String {
    let mut s = String::new();
    let line = |s: &mut String, text: &str| {
        s.push_str(text);
        s.push('\n');
    };
    line(
        &mut s,
        &format!("# Lesson {} · {}", exercise.lesson, exercise.title),
    );
    line(&mut s, &format!("# Read: {}", exercise.page));
    line(&mut s, "#");
    for l in exercise.task.trim().lines() {
        line(&mut s, format!("# {l}").trim_end());
    }
    line(&mut s, "#");
    line(
        &mut s,
        &format!(
            "# Check it with: cargo run --release --bin scalelab -- lesson check {}",
            exercise.lesson
        ),
    );
    line(
        &mut s,
        &format!(
            "# Stuck? cargo run --release --bin scalelab -- lesson hint {}",
            exercise.lesson
        ),
    );
    s.push('\n');
    line(
        &mut s,
        "# Which lesson this answer is for (the grader refuses another lesson's answer).",
    );
    line(&mut s, &format!("lesson = {}", exercise.lesson));
    if !exercise.predictions.is_empty() {
        s.push('\n');
        line(
            &mut s,
            "# Write your predictions down BEFORE you run anything. They are not graded: the",
        );
        line(
            &mut s,
            "# grader prints each one beside the figure it measured, so you see what surprised you.",
        );
        line(&mut s, "[predict]");
        for p in &exercise.predictions {
            for l in p.question.trim().lines() {
                line(&mut s, &format!("# {l}"));
            }
            line(&mut s, &format!("{} = \"\"", p.key));
        }
    }
    if !exercise.fields.is_empty() {
        s.push('\n');
        line(&mut s, "[answer]");
        for f in &exercise.fields {
            for l in f.doc.trim().lines() {
                line(&mut s, &format!("# {l}"));
            }
            let start = f
                .start
                .as_ref()
                .map_or_else(|| "\"\"".to_owned(), |v| v.to_string());
            line(&mut s, &format!("{} = {start}", f.key));
        }
    }
    if !exercise.knobs.is_empty() {
        s.push('\n');
        line(
            &mut s,
            &format!(
                "# The knobs you may turn, at their starting values (lessons/scenarios/{} holds",
                exercise.scenario
            ),
        );
        line(&mut s, "# the rest of the scenario, which stays as it is).");
        let mut section = None;
        for k in &exercise.knobs {
            let (sec, name) = k.key.rsplit_once('.').unwrap_or(("", k.key.as_str()));
            if section != Some(sec) {
                if !sec.is_empty() {
                    line(&mut s, &format!("[{sec}]"));
                }
                section = Some(sec);
            }
            for l in k.doc.trim().lines() {
                line(&mut s, &format!("# {l}"));
            }
            let value = locate(base, &k.key)
                .and_then(|r| base.get(r))
                .unwrap_or("0");
            line(&mut s, &format!("{name} = {value}"));
        }
    }
    s
}
