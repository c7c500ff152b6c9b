//! `report.html`: the run on one self-contained page: the summary table and the checks as
//! the terminal shows them (`summary`'s rows), the faults, and every chart inlined as SVG.
//! No script, no stylesheet or font from elsewhere, no network: it opens from a disk, a mail
//! or a USB stick, and reads the same with JavaScript off.
//!
//! Must not: compute figures (the summary's rows and the charts hold them), or refer to
//! anything outside the page but the run's other files beside it.

use std::fmt::Write;

use scalelab_sim::Report;

use crate::out::charts::Chart;
use crate::out::faults::Span;
use crate::out::{escape, RunInfo};
use crate::summary;

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:960px;color:#222;padding:0 1em}\
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;font-variant-numeric:tabular-nums}\
th,td{padding:.25em .8em;border-bottom:1px solid #eee;text-align:right}\
th:first-child,td:first-child{text-align:left}thead th{border-bottom:2px solid #999}\
.bad{color:#b00;font-weight:bold}.note{color:#555}figure{margin:1.2em 0}\
figcaption{color:#555;font-size:.9em}pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.85em}\
code{background:#f3f3f3;padding:0 .2em}td.left{text-align:left}td.when{white-space:nowrap}";

/// The whole page.
pub fn page(info: &RunInfo<'_>, reports: &[Report], charts: &[Chart], spans: &[Span]) -> String {
    let mut s = String::new();
    let names: Vec<&str> = reports.iter().map(|r| r.design).collect();
    let title = format!(
        "scalelab · {} · {} · seed {}",
        info.scenario,
        names.join(" vs "),
        info.seed
    );
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    let _ = writeln!(
        s,
        "<p>{}</p>\n<p class=\"note\">Every figure below is the same on every machine for \
         this build: the run is deterministic. To repeat it: <code>{}</code></p>",
        escape(info.description),
        escape(&info.command)
    );
    summary_table(&mut s, reports);
    checks_table(&mut s, reports);
    faults_list(&mut s, spans);
    let _ = writeln!(
        s,
        "<h2>Over the run</h2>\n<p class=\"note\">One colour per design; faults are shaded \
         red. Each chart is also a file of its own beside this page.</p>"
    );
    for c in charts {
        let _ = writeln!(
            s,
            "<figure id=\"{}\">\n{}\n<figcaption><strong>{}.</strong> {} <a href=\"{}\">{}</a></figcaption>\n</figure>",
            escape(c.file.trim_end_matches(".svg")),
            inline(&c.svg),
            escape(c.title),
            escape(c.about),
            escape(&c.file),
            escape(&c.file)
        );
    }
    files(&mut s, reports);
    s.push_str("</body>\n</html>\n");
    s
}

/// An SVG document as an element of the page: without its XML declaration, if any.
fn inline(svg: &str) -> &str {
    let t = svg.trim_start();
    match t.strip_prefix("<?xml") {
        Some(rest) => rest.find("?>").map_or(t, |i| rest[i + 2..].trim_start()),
        None => t,
    }
}

fn summary_table(s: &mut String, reports: &[Report]) {
    let _ = writeln!(s, "<h2>Summary</h2>\n<table>");
    for (i, (label, cells)) in summary::side_by_side_rows(reports).iter().enumerate() {
        let tag = if i == 0 { "th" } else { "td" };
        if i == 0 {
            s.push_str("<thead>");
        }
        let _ = write!(s, "<tr><{tag}>{}</{tag}>", escape(label));
        for c in cells {
            let _ = write!(s, "<{tag}>{}</{tag}>", escape(c));
        }
        s.push_str("</tr>");
        if i == 0 {
            s.push_str("</thead>");
        }
        s.push('\n');
    }
    s.push_str("</table>\n<p class=\"note\">");
    for r in reports {
        let _ = write!(
            s,
            "{}: trace <code>{}</code> ({} events). ",
            escape(r.design),
            escape(&r.trace_hash),
            r.trace_events
        );
    }
    s.push_str("</p>\n");
}

fn checks_table(s: &mut String, reports: &[Report]) {
    let _ = writeln!(s, "<h2>Checks</h2>");
    let Some(first) = reports.first() else {
        return;
    };
    if first.checks.is_empty() {
        let _ = writeln!(s, "<p>No checks ran.</p>");
        return;
    }
    s.push_str("<table>\n<thead><tr><th></th>");
    for r in reports {
        let _ = write!(s, "<th>{}</th>", escape(r.design));
    }
    s.push_str("</tr></thead>\n");
    for (i, c) in first.checks.iter().enumerate() {
        let _ = write!(s, "<tr><td>{}</td>", escape(c.name));
        for r in reports {
            match r.checks.get(i) {
                Some(c) => {
                    let class = if c.failed() { " class=\"bad\"" } else { "" };
                    let _ = write!(
                        s,
                        "<td{class} title=\"{}\">{}</td>",
                        escape(&c.note),
                        escape(&summary::check_cell(c))
                    );
                }
                None => s.push_str("<td>-</td>"),
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    let detail = summary::render_faults_and_checks(reports);
    if reports
        .iter()
        .any(|r| r.violated() || !r.recovery.is_empty())
    {
        let _ = writeln!(
            s,
            "<p>Faults, recovery and violations, as the terminal shows them:</p>\n<pre>{}</pre>",
            escape(detail.trim())
        );
    }
}

fn faults_list(s: &mut String, spans: &[Span]) {
    let _ = writeln!(s, "<h2>Faults</h2>");
    if spans.is_empty() {
        let _ = writeln!(s, "<p>None: this run had no faults.</p>");
        return;
    }
    s.push_str("<table>\n<thead><tr><th>fault</th><th>from</th><th>to</th><th>what it hit</th></tr></thead>\n");
    for f in spans {
        let hit: Vec<String> = f.effects.iter().map(|(d, e)| format!("{d}: {e}")).collect();
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td class=\"when\">{:.1} s</td><td class=\"when\">{:.1} s</td><td class=\"left\">{}</td></tr>",
            escape(&f.what),
            f.from_s,
            f.to_s,
            escape(&hit.join("; "))
        );
    }
    s.push_str("</table>\n");
}

fn files(s: &mut String, reports: &[Report]) {
    let _ = writeln!(
        s,
        "<h2>Files beside this page</h2>\n<ul>\n\
         <li><a href=\"report.json\">report.json</a>: the whole report (as <code>scalelab run --json</code>)</li>\n\
         <li><a href=\"trace.json\">trace.json</a>: a trace of the run for ui.perfetto.dev or chrome://tracing</li>"
    );
    for r in reports.iter().filter(|r| r.recording.is_some()) {
        let d = escape(r.design);
        let _ = writeln!(
            s,
            "<li><a href=\"{d}.jtl\">{d}.jtl</a> (JMeter results), <a href=\"{d}.hgrm\">{d}.hgrm</a> (HdrHistogram percentiles; per kind of request: <code>{d}.KIND.hgrm</code>)</li>"
        );
    }
    s.push_str("</ul>\n");
}
