//! Thresholds in k6's style, for `scalelab compare`: `p99<800ms`, `availability>99.9%`,
//! `errors<1%`, optionally for one design (`sharded:p99<800ms`). A threshold names a figure
//! of a report (`compare::METRICS`), a comparison and a number with its unit; a malformed one
//! is an error that points at the character where it goes wrong.
//!
//! Must not: read reports or judge them (`compare` does); this only parses.

use std::ops::Range;

use crate::suggest;

/// How a figure is measured, which decides the units a threshold may give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds; a threshold may say `ms`, `s` or `us` (nothing: ms).
    Millis,
    /// A share from 0 to 1; a threshold says `%`, or a plain share (`0.999`).
    Share,
    /// A count or an amount; a threshold gives a plain number.
    Plain,
}

/// A figure a threshold can name: its name and unit. (`errors` is both: a count, or with
/// `%` the share of requests, `error_rate`.)
pub struct Figure {
    pub name: &'static str,
    pub unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl Op {
    pub fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Op::Lt => value < limit,
            Op::Le => value <= limit,
            Op::Gt => value > limit,
            Op::Ge => value >= limit,
            Op::Eq => value == limit,
        }
    }
}

/// A threshold, parsed: for `design` (every design if `None`), the figure `metric` must
/// compare with `limit` (in the figure's own unit: ms, a share, or plain) as `op` says.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// As the user wrote it.
    pub text: String,
    pub design: Option<String>,
    pub metric: &'static str,
    pub op: Op,
    pub limit: f64,
}

/// What is wrong with a threshold, and where (bytes of its text).
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub span: Range<usize>,
    pub message: String,
}

fn err(span: Range<usize>, message: impl Into<String>) -> ParseError {
    ParseError {
        span,
        message: message.into(),
    }
}

/// Parses `text` against the figures `figures` and the designs `designs`.
pub fn parse(text: &str, figures: &[Figure], designs: &[&str]) -> Result<Threshold, ParseError> {
    let b = text.as_bytes();
    let word_end = |from: usize| {
        (from..b.len())
            .find(|&i| !(b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-'))
            .unwrap_or(b.len())
    };
    let mut at = 0;
    let mut design = None;
    let mut end = word_end(at);
    if b.get(end) == Some(&b':') {
        let name = &text[..end];
        if !designs.contains(&name) {
            let hint = suggest::nearest(name, designs.iter().copied())
                .map_or(String::new(), |n| format!(" (did you mean {n}?)"));
            return Err(err(
                0..end.max(1),
                format!(
                    "no design named '{name}'{hint}; the designs are {}",
                    designs.join(", ")
                ),
            ));
        }
        design = Some(name.to_owned());
        at = end + 1;
        end = word_end(at);
    }
    let name = &text[at..end];
    if name.is_empty() {
        return Err(err(at..at + 1, "expected a figure's name, such as p99"));
    }
    let Some(figure) = figures.iter().find(|f| f.name == name) else {
        let names: Vec<&str> = figures.iter().map(|f| f.name).collect();
        let hint = suggest::nearest(name, names.iter().copied())
            .map_or(String::new(), |n| format!(" (did you mean {n}?)"));
        return Err(err(
            at..end,
            format!(
                "no figure named '{name}'{hint}; the figures are {}",
                names.join(", ")
            ),
        ));
    };
    at = end;
    let (op, len) = match (b.get(at), b.get(at + 1)) {
        (Some(b'<'), Some(b'=')) => (Op::Le, 2),
        (Some(b'>'), Some(b'=')) => (Op::Ge, 2),
        (Some(b'='), Some(b'=')) => (Op::Eq, 2),
        (Some(b'<'), _) => (Op::Lt, 1),
        (Some(b'>'), _) => (Op::Gt, 1),
        _ => return Err(err(at..at + 1, "expected a comparison: <, <=, >, >= or ==")),
    };
    at += len;
    let num_end = (at..b.len())
        .find(|&i| !(b[i].is_ascii_digit() || b[i] == b'.'))
        .unwrap_or(b.len());
    let number: f64 = text[at..num_end].parse().map_err(|_| {
        err(
            at..num_end.max(at + 1),
            "expected a number, such as 800 or 99.9",
        )
    })?;
    let unit = &text[num_end..];
    let unit_span = num_end..b.len().max(num_end + 1);
    let limit = convert(figure, number, unit).map_err(|m| err(unit_span, m))?;
    let metric = if figure.name == "errors" && unit == "%" {
        "error_rate"
    } else {
        figure.name
    };
    Ok(Threshold {
        text: text.to_owned(),
        design,
        metric,
        op,
        limit,
    })
}

/// `number` with `unit` in the figure's own unit, or why that unit does not fit it.
fn convert(figure: &Figure, number: f64, unit: &str) -> Result<f64, String> {
    let name = figure.name;
    match (figure.unit, unit) {
        (Unit::Millis, "ms" | "") => Ok(number),
        (Unit::Millis, "s") => Ok(number * 1000.0),
        (Unit::Millis, "us") => Ok(number / 1000.0),
        (Unit::Millis, _) => Err(format!("{name} is a latency: its unit is ms, s or us")),
        (Unit::Share, "%") if number <= 100.0 => Ok(number / 100.0),
        (Unit::Share, "") if number <= 1.0 => Ok(number),
        (Unit::Share, "" | "%") => Err(format!(
            "{name} is a share: at most 100% (or 1), e.g. 99.9% or 0.999"
        )),
        (Unit::Share, _) => Err(format!("{name} is a share: write it with %, e.g. 99.9%")),
        (Unit::Plain, "") => Ok(number),
        (Unit::Plain, "%") if name == "errors" && number <= 100.0 => Ok(number / 100.0),
        (Unit::Plain, _) if name == "errors" => Err(
            "errors is a count (errors<100) or, with %, a share of the requests (errors<1%)"
                .to_owned(),
        ),
        (Unit::Plain, _) => Err(format!("{name} is a plain number: no unit after it")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIGURES: [Figure; 3] = [
        Figure {
            name: "p99",
            unit: Unit::Millis,
        },
        Figure {
            name: "availability",
            unit: Unit::Share,
        },
        Figure {
            name: "errors",
            unit: Unit::Plain,
        },
    ];
    const DESIGNS: [&str; 2] = ["vertical", "sharded"];

    fn ok(text: &str) -> Threshold {
        parse(text, &FIGURES, &DESIGNS).unwrap_or_else(|e| panic!("{text}: {e:?}"))
    }

    fn bad(text: &str) -> ParseError {
        match parse(text, &FIGURES, &DESIGNS) {
            Ok(t) => panic!("{text} parsed: {t:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn k6_style_thresholds_parse_into_the_figures_units() {
        let t = ok("p99<800ms");
        assert_eq!(
            (t.metric, t.op, t.limit, t.design),
            ("p99", Op::Lt, 800.0, None)
        );
        assert_eq!(ok("p99<=1.5s").limit, 1500.0);
        assert_eq!(ok("p99<800").limit, 800.0);
        let t = ok("availability>99.9%");
        assert_eq!((t.metric, t.op), ("availability", Op::Gt));
        assert!((t.limit - 0.999).abs() < 1e-12);
        let t = ok("errors<1%");
        assert_eq!((t.metric, t.limit), ("error_rate", 0.01));
        assert_eq!(ok("errors<100").metric, "errors");
        let t = ok("sharded:p99>=2s");
        assert_eq!(
            (t.design.as_deref(), t.op, t.limit),
            (Some("sharded"), Op::Ge, 2000.0)
        );
    }

    #[test]
    fn a_malformed_threshold_points_at_where_it_goes_wrong() {
        let e = bad("p99<<800ms");
        assert_eq!(e.span.start, 4, "{e:?}");
        assert!(e.message.contains("expected a number"), "{e:?}");
        let e = bad("p999<800ms");
        assert_eq!(e.span, 0..4);
        assert!(e.message.contains("did you mean p99?"), "{e:?}");
        let e = bad("p99 800ms");
        assert_eq!(e.span.start, 3);
        assert!(e.message.contains("comparison"), "{e:?}");
        let e = bad("p99<800kg");
        assert_eq!(e.span.start, 7);
        let e = bad("shardd:p99<800ms");
        assert_eq!(e.span, 0..6);
        assert!(e.message.contains("did you mean sharded?"), "{e:?}");
        assert_eq!(bad("availability>120%").span.start, 16);
        assert_eq!(bad("").span, 0..1);
    }
}
