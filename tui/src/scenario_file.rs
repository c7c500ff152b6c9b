//! Loading a scenario file, and reporting what is wrong with it: file, line, column, and what
//! was expected, with the offending line shown (a miette report).
//!
//! Must not: decide what a valid scenario is; `scalelab_sim::scenario` owns the rules.

use std::fmt;
use std::path::Path;

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

/// Reads and checks the scenario at `path`. Its name defaults to the file's stem.
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| unlocated(format!("{shown}: cannot read the scenario file: {e}")))?;
    let mut scenario =
        scalelab_sim::parse(&text).map_err(|e| located(&shown, &text, e.span, &e.message))?;
    if scenario.name.is_empty() {
        scenario.name = path
            .file_stem()
            .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
    }
    Ok(scenario)
}

#[cfg(test)]
mod tests {
    use super::line_col;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 3), "é is one column");
        assert_eq!(line_col(text, 999), (3, 1));
    }
}
