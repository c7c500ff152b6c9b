//! The charts of a run: one SVG per figure over the whole run, the designs overlaid in one
//! colour each, every fault shaded as a span of time. Drawn with plotters' SVG backend; the
//! HTML report inlines the same SVGs.
//!
//! Must not: compute a figure the report does not hold (a chart plots the report's time
//! series as it is, window by window), or write files (`out` does).

use plotters::prelude::*;
use scalelab_sim::metrics::Point;
use scalelab_sim::Report;

use crate::out::faults::Span;

/// One chart, drawn.
pub struct Chart {
    /// Its file name (`requests-per-s.svg`).
    pub file: String,
    pub title: &'static str,
    /// What it shows, one sentence, for the page under it.
    pub about: &'static str,
    pub svg: String,
}

/// A line of a chart: its name in the legend and its points (virtual s, value).
struct Line {
    name: String,
    /// Which design (its colour), and whether it is a secondary line of that design.
    design: usize,
    secondary: bool,
    points: Vec<(f64, f64)>,
}

/// A design's lines on a chart, each with its name: the design's own first.
type Lines = Vec<(String, Vec<(f64, f64)>)>;

/// What a chart plots of each design.
struct Spec {
    file: &'static str,
    title: &'static str,
    about: &'static str,
    /// The y axis's unit.
    unit: &'static str,
    /// The y axis ends here at least (availability: 100%).
    y_floor: f64,
    lines: fn(&Report) -> Lines,
}

const WIDTH: u32 = 900;
const HEIGHT: u32 = 320;

/// Each design's colour, in the order of the reports.
const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// One line per design: `value` of each window, at the window's start.
fn per_window(r: &Report, value: fn(&Point) -> f64) -> Lines {
    let points = r.series.iter().map(|p| (p.t_s, value(p))).collect();
    vec![(r.design.to_owned(), points)]
}

/// The `q`-quantile of each window's latency as shoppers saw it (see `Point::seen_ms`).
fn seen_per_window(r: &Report, q: f64) -> Lines {
    let points = r
        .series
        .iter()
        .map(|p| (p.t_s, p.seen_ms(q, r.slo_timeout_ms).0))
        .collect();
    vec![(r.design.to_owned(), points)]
}

fn per_second(count: u64, p: &Point) -> f64 {
    if p.span_s > 0.0 {
        count as f64 / p.span_s
    } else {
        0.0
    }
}

const SPECS: [Spec; 10] = [
    Spec {
        file: "requests-per-s",
        title: "requests answered per second",
        about: "Requests answered (not with a server error) within the SLO timeout, per second of each window.",
        unit: "req/s",
        y_floor: 1.0,
        lines: |r| per_window(r, |p| p.throughput_rps),
    },
    Spec {
        file: "latency-p50",
        title: "p50 latency",
        about: "Median latency of each window as shoppers saw it, from each request's intended start; when more than half of a window failed or timed out, the timeout.",
        unit: "ms",
        y_floor: 1.0,
        lines: |r| seen_per_window(r, 0.50),
    },
    Spec {
        file: "latency-p99",
        title: "p99 latency",
        about: "99th percentile latency of each window as shoppers saw it; a request that failed or timed out counts at the timeout.",
        unit: "ms",
        y_floor: 1.0,
        lines: |r| seen_per_window(r, 0.99),
    },
    Spec {
        file: "availability",
        title: "availability per window",
        about: "Share of each window's requests answered within the SLO timeout.",
        unit: "%",
        y_floor: 100.0,
        lines: |r| per_window(r, |p| p.availability * 100.0),
    },
    Spec {
        file: "errors",
        title: "errors per second",
        about: "Requests that got a server error, a timeout or a broken connection, per second.",
        unit: "errors/s",
        y_floor: 1.0,
        lines: |r| per_window(r, |p| per_second(p.errors, p)),
    },
    Spec {
        file: "replicas",
        title: "app hosts taking traffic",
        about: "The big host, or the replicas behind the load balancer at the end of each window.",
        unit: "hosts",
        y_floor: 1.0,
        lines: |r| per_window(r, |p| f64::from(p.replicas)),
    },
    Spec {
        file: "app-cpu",
        title: "app CPU",
        about: "Mean CPU use of the app hosts taking traffic.",
        unit: "%",
        y_floor: 100.0,
        lines: |r| per_window(r, |p| p.app_cpu * 100.0),
    },
    Spec {
        file: "db-cpu",
        title: "database CPU (per shard)",
        about: "CPU use of each database; a sharded design draws one thin line per shard and a thick one for its hottest.",
        unit: "%",
        y_floor: 100.0,
        lines: db_lines,
    },
    Spec {
        file: "queue-lag",
        title: "queue lag",
        about: "Orders placed whose side work (email, stock movement, label) the workers have not done yet.",
        unit: "orders",
        y_floor: 1.0,
        lines: |r| per_window(r, |p| p.queue_lag as f64),
    },
    Spec {
        file: "revenue-lost",
        title: "revenue lost so far",
        about: "Value of the carts whose shoppers left because pages were too slow or failed, added up over the run.",
        unit: "$",
        y_floor: 1.0,
        lines: |r| {
            let mut sum = 0.0;
            let points = r
                .series
                .iter()
                .map(|p| {
                    sum += p.revenue_lost_cents as f64 / 100.0;
                    (p.t_s + p.span_s, sum)
                })
                .collect();
            vec![(r.design.to_owned(), points)]
        },
    },
];

/// The hottest database of each window, and each shard on its own when there are several.
fn db_lines(r: &Report) -> Lines {
    let mut lines = per_window(r, |p| p.db_cpu * 100.0);
    let shards = r
        .series
        .iter()
        .map(|p| p.shard_cpu.len())
        .max()
        .unwrap_or(0);
    if shards > 1 {
        for i in 0..shards {
            let points = r
                .series
                .iter()
                .map(|p| (p.t_s, p.shard_cpu.get(i).copied().unwrap_or(0.0) * 100.0))
                .collect();
            lines.push((format!("{} db-{i}", r.design), points));
        }
    }
    lines
}

/// Every chart of the reports, with `spans` shaded.
pub fn draw_all(reports: &[Report], spans: &[Span]) -> Result<Vec<Chart>, String> {
    let end_s = reports
        .iter()
        .flat_map(|r| r.series.last().map(|p| p.t_s + p.span_s))
        .chain(reports.iter().map(|r| r.duration_s))
        .fold(1.0, f64::max);
    SPECS
        .iter()
        .map(|spec| {
            let lines: Vec<Line> = reports
                .iter()
                .enumerate()
                .flat_map(|(i, r)| {
                    (spec.lines)(r)
                        .into_iter()
                        .enumerate()
                        .map(move |(k, (name, points))| Line {
                            name,
                            design: i,
                            secondary: k > 0,
                            points,
                        })
                })
                .collect();
            let svg = draw(spec, &lines, spans, end_s)
                .map_err(|e| format!("could not draw the chart {}: {e}", spec.file))?;
            Ok(Chart {
                file: format!("{}.svg", spec.file),
                title: spec.title,
                about: spec.about,
                svg,
            })
        })
        .collect()
}

/// One chart as SVG text.
fn draw(spec: &Spec, lines: &[Line], spans: &[Span], end_s: f64) -> Result<String, String> {
    let top = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let y_max = if top <= spec.y_floor {
        spec.y_floor * 1.05
    } else {
        top * 1.1
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(spec.title, ("sans-serif", 18))
            .margin(10)
            .margin_right(28)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..end_s, 0.0..y_max)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("virtual time (s)")
            .y_desc(spec.unit)
            .light_line_style(RGBColor(238, 238, 238))
            .draw()
            .map_err(|e| e.to_string())?;
        let shade = RGBColor(250, 200, 200).mix(0.5).filled();
        for s in spans {
            let to = s.to_s.min(end_s);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(s.from_s, 0.0), (to, y_max)],
                    shade,
                )))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(std::iter::once(Text::new(
                    s.what.clone(),
                    (s.from_s, y_max * 0.97),
                    ("sans-serif", 11).into_font().color(&RGBColor(150, 40, 40)),
                )))
                .map_err(|e| e.to_string())?;
        }
        for l in lines {
            let colour = COLOURS[l.design % COLOURS.len()];
            let style = if l.secondary {
                colour.mix(0.6).stroke_width(1)
            } else {
                colour.stroke_width(2)
            };
            let series = chart
                .draw_series(LineSeries::new(l.points.iter().copied(), style))
                .map_err(|e| e.to_string())?;
            if !l.secondary {
                series.label(l.name.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}
