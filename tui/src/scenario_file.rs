//! Loading a scenario file, and reporting what is wrong with it: file, line, column, and what
//! was expected, with the offending line shown (a miette report).
//!
//! The first mistakes a newcomer makes get a way forward, not only an error: a scenario
//! named without its folder or misspelt gets "did you mean scenarios/flash-sale.toml?" and
//! the list of shipped scenarios; an unknown key gets the nearest expected one.
//!
//! Must not: decide what a valid scenario is; `scalelab_sim::scenario` owns the rules.

use std::fmt;
use std::path::Path;

use crate::suggest;
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, NamedSource, SourceSpan};
use scalelab_sim::Scenario;

/// A scenario that could not be loaded, ready to print.
#[derive(Debug)]
pub struct LoadError {
    headline: String,
    detail: Option<Box<Located>>,
}

#[derive(Debug)]
struct Located {
    src: NamedSource<String>,
    span: SourceSpan,
    label: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.headline)
    }
}

impl std::error::Error for LoadError {}

impl Diagnostic for LoadError {
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.detail
            .as_ref()
            .map(|d| &d.src as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let d = self.detail.as_ref()?;
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(Some(d.label.clone()), d.span),
        )))
    }
}

impl LoadError {
    /// The report as text: the headline, then the file's line with the problem marked.
    pub fn render(&self, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let mut out = String::new();
        match GraphicalReportHandler::new_themed(theme).render_report(&mut out, self) {
            Ok(()) => out,
            Err(_) => format!("{}\n", self.headline),
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// An error at `span` (bytes) of `text`, the contents of the file shown as `shown`.
pub fn located(
    shown: &str,
    text: &str,
    span: Option<std::ops::Range<usize>>,
    message: &str,
) -> LoadError {
    match span {
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            LoadError {
                headline: format!("{shown}:{line}:{col}: {message}"),
                detail: Some(Box::new(Located {
                    label: message.lines().next().unwrap_or("here").to_owned(),
                    span: SourceSpan::new(span.start.into(), span.end.saturating_sub(span.start)),
                    src: NamedSource::new(shown, text.to_owned()),
                })),
            }
        }
        None => LoadError {
            headline: format!("{shown}: {message}"),
            detail: None,
        },
    }
}

/// An error with no place in a file (it cannot be read, say).
pub fn unlocated(headline: String) -> LoadError {
    LoadError {
        headline,
        detail: None,
    }
}

/// Where the scenarios that ship with scalelab are, from the repository's root.
const SHIPPED: [&str; 2] = ["scenarios", "lessons/scenarios"];

/// The shipped scenario files, sorted, as paths from the working directory (empty when it
/// is not the repository's root).
fn shipped() -> Vec<String> {
    let mut found = Vec::new();
    for dir in SHIPPED {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".toml"))
            .map(|n| format!("{dir}/{n}"))
            .collect();
        names.sort();
        found.extend(names);
    }
    found
}

/// What to say after "cannot read" for a scenario path that does not exist: the nearest
/// shipped scenario, and the list of them.
pub fn not_found_help(path: &Path) -> String {
    let files = shipped();
    if files.is_empty() {
        return "\nthe shipped scenarios are in scenarios/ at the repository's root: run scalelab from there".into();
    }
    let typed = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let stem = |f: &str| -> String {
        Path::new(f)
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
    };
    let stems: Vec<String> = files.iter().map(|f| stem(f)).collect();
    let mut out = String::new();
    if let Some(best) = suggest::nearest(&typed, stems.iter().map(String::as_str)) {
        if let Some(file) = files.iter().find(|f| stem(f) == best) {
            out.push_str(&format!("\ndid you mean {file}?"));
        }
    }
    out.push_str("\nthe scenarios that ship with scalelab:");
    for f in &files {
        out.push_str(&format!("\n  {f}"));
    }
    out
}

/// An unknown key, as serde words it ("unknown field `x`, expected one of `a`, `b`"), said
/// with the nearest expected key first and the expected keys listed once; other messages
/// are returned as they are.
pub fn explain_unknown_key(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_owned();
    };
    let Some((typed, rest)) = rest.split_once('`') else {
        return message.to_owned();
    };
    let Some(list) = rest
        .strip_prefix(", expected one of ")
        .or_else(|| rest.strip_prefix(", expected "))
    else {
        return message.to_owned();
    };
    let expected: Vec<&str> = list
        .split(", ")
        .map(|k| k.trim().trim_matches('`'))
        .filter(|k| !k.is_empty())
        .collect();
    let mean = suggest::nearest(typed, expected.iter().copied())
        .map(|n| format!(": did you mean `{n}`?"))
        .unwrap_or_default();
    let listed: Vec<String> = expected.iter().map(|k| format!("`{k}`")).collect();
    format!(
        "unknown key `{typed}`{mean}\nthe keys expected here: {}",
        listed.join(", ")
    )
}

/// Reads and checks the scenario at `path`. Its name defaults to the file's stem.
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        let help = if e.kind() == std::io::ErrorKind::NotFound {
            not_found_help(path)
        } else {
            String::new()
        };
        unlocated(format!("{shown}: cannot read the scenario file: {e}{help}"))
    })?;
    let mut scenario = scalelab_sim::parse(&text)
        .map_err(|e| located(&shown, &text, e.span, &explain_unknown_key(&e.message)))?;
    if scenario.name.is_empty() {
        scenario.name = path
            .file_stem()
            .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
    }
    Ok(scenario)
}

#[cfg(test)]
mod tests {
    use super::{explain_unknown_key, line_col};

    #[test]
    fn an_unknown_key_gets_the_nearest_and_the_list_once() {
        let said = explain_unknown_key(
            "unknown field `think_time_ms_maen`, expected one of `model`, `think_time_ms_mean`, `users`",
        );
        assert_eq!(
            said,
            "unknown key `think_time_ms_maen`: did you mean `think_time_ms_mean`?\nthe keys expected here: `model`, `think_time_ms_mean`, `users`"
        );
        let said = explain_unknown_key("unknown field `zzz`, expected `model`");
        assert_eq!(said, "unknown key `zzz`\nthe keys expected here: `model`");
        assert_eq!(explain_unknown_key("invalid type"), "invalid type");
    }

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 3), "é is one column");
        assert_eq!(line_col(text, 999), (3, 1));
    }
}
