//! `scalelab run --out DIR`: the files a run leaves behind for people and for other tools,
//! beside the summary it prints. One file per format: `html` (report.html, the page a person
//! opens), `charts` (one SVG per chart, drawn with plotters), `jtl` (JMeter's CSV results),
//! `hgrm` (HdrHistogram's percentile distribution), `trace` (Chrome/Perfetto trace events);
//! `faults` turns the reports' fault records into spans of time, which the charts shade and
//! the trace draws. report.json is the same JSON as `run --json`.
//!
//! Must not: run or measure anything. Everything written is read from the reports (and the
//! recordings the runs kept because `--out` asked for them); nothing here reads a clock.

pub mod charts;
pub mod faults;
pub mod hgrm;
pub mod html;
pub mod jtl;
pub mod trace;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use scalelab_sim::Report;

/// What a run tells the writers besides its reports.
pub struct RunInfo<'a> {
    pub scenario: &'a str,
    pub description: &'a str,
    pub seed: u64,
    /// How the run can be repeated (`scalelab run PATH --seed N`).
    pub command: String,
}

/// Writes every file into `dir` (created if missing); returns the files written, or what
/// could not be written. `json` is the report as `run --json` prints it. Each design's
/// request files are written on a thread of their own, beside the page and the trace.
pub fn write_all(
    dir: &Path,
    info: &RunInfo<'_>,
    reports: &[Report],
    json: &str,
) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("could not create the folder {}: {e}", dir.display()))?;
    std::thread::scope(|scope| {
        let designs: Vec<_> = reports
            .iter()
            .map(|r| scope.spawn(move || design_files(dir, r)))
            .collect();
        let mut written = shared_files(dir, info, reports, json)?;
        for handle in designs {
            let files = handle
                .join()
                .map_err(|_| "a thread writing a design's files failed".to_owned())??;
            written.extend(files);
        }
        Ok(written)
    })
}

/// report.json, the charts, report.html and trace.json.
fn shared_files(
    dir: &Path,
    info: &RunInfo<'_>,
    reports: &[Report],
    json: &str,
) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    let mut put = |name: &str, body: &dyn Fn(&mut dyn Write) -> std::io::Result<()>| {
        let path = dir.join(name);
        write_file(&path, body)?;
        written.push(path);
        Ok::<(), String>(())
    };
    put("report.json", &|w| w.write_all(json.as_bytes()))?;
    let spans = faults::spans(reports);
    let charts = charts::draw_all(reports, &spans)?;
    for chart in &charts {
        put(&chart.file, &|w| w.write_all(chart.svg.as_bytes()))?;
    }
    let page = html::page(info, reports, &charts, &spans);
    put("report.html", &|w| w.write_all(page.as_bytes()))?;
    put("trace.json", &|w| trace::write(w, info, reports, &spans))?;
    Ok(written)
}

/// A design's JTL and .hgrm files, if its run kept its requests.
fn design_files(dir: &Path, r: &Report) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    let Some(rec) = r.recording.as_deref() else {
        return Ok(written);
    };
    let mut put = |name: String, body: &dyn Fn(&mut dyn Write) -> std::io::Result<()>| {
        let path = dir.join(name);
        write_file(&path, body)?;
        written.push(path);
        Ok::<(), String>(())
    };
    put(format!("{}.jtl", r.design), &|w| jtl::write(w, r, rec))?;
    put(format!("{}.hgrm", r.design), &|w| {
        hgrm::write(w, &rec.latency)
    })?;
    for (kind, h) in &rec.by_kind {
        put(format!("{}.{kind}.hgrm", r.design), &|w| hgrm::write(w, h))?;
    }
    Ok(written)
}

fn write_file(
    path: &Path,
    body: &dyn Fn(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), String> {
    let file =
        File::create(path).map_err(|e| format!("could not create {}: {e}", path.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    body(&mut w)
        .and_then(|()| w.flush())
        .map_err(|e| format!("could not write {}: {e}", path.display()))
}

/// `text` with `&`, `<`, `>` and `"` escaped, for HTML and SVG text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}
