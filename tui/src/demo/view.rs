//! Drawing the live view: a header, four panes (or one enlarged), the event log, a status
//! line and the key hints; the help and the kill menu over them; and below 80x24 a message
//! saying how much room is needed.
//!
//! Must not: change the app's state or read the clock; it draws what `App` holds, so the same
//! state always draws the same screen (the snapshot tests rely on it).

use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Sparkline};
use ratatui::Frame;
use scalelab_sim::faults::inject::Health;
use scalelab_sim::harness::live::NodeView;
use scalelab_sim::Design;

use super::app::{clock, App, Mode, Pane};
use super::keymap::{self, KEYMAP};
use crate::format::{count_brief, dollars_brief, ms_brief, pct_brief, thousands};

/// The smallest terminal the view is drawn in.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

pub fn render(app: &App, f: &mut Frame) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(f, area);
        return;
    }
    let log_h = ((area.height - 3) / 4).clamp(5, 10);
    let [header, panes, log, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(12),
        Constraint::Length(log_h),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(app, f, header);
    render_panes(app, f, panes);
    render_log(app, f, log);
    render_status(app, f, status);
    render_footer(f, footer);
    match app.mode {
        Mode::Help => render_help(f, area),
        Mode::KillMenu(only) => render_kill_menu(app, only, f, area),
        Mode::JumpMenu => render_jump_menu(f, area),
        Mode::FaultMenu(draft) => render_fault_menu(app, draft, f, area),
        Mode::Legend => render_legend(app, f, area),
        Mode::Normal if app.scoreboard && app.finished() => render_scoreboard(app, f, panes),
        Mode::Normal => {}
    }
}

/// The end of the day: the whole run's figures per design, side by side, over the panes.
fn render_scoreboard(app: &App, f: &mut Frame, area: Rect) {
    let reports: Vec<Option<&scalelab_sim::Report>> = app
        .panes
        .iter()
        .map(|p| p.report.as_ref().and_then(|r| r.as_ref().ok()))
        .collect();
    let col = 13usize;
    let row = |name: &str, cell: &dyn Fn(&scalelab_sim::Report) -> String| {
        let mut text = format!(" {name:<16}");
        for r in &reports {
            let v = r.map_or_else(|| "failed".to_owned(), cell);
            text.push_str(&format!("{v:>col$}"));
        }
        Line::from(text)
    };
    let mut head = format!(" {:<16}", "");
    for p in &app.panes {
        head.push_str(&format!("{:>col$}", p.design.name()));
    }
    let lines = vec![
        Line::from(Span::styled(
            head,
            Style::default().add_modifier(Modifier::BOLD),
        )),
        row("availability", &|r| crate::format::pct(r.availability)),
        row("worst window", &|r| {
            r.worst_window
                .as_ref()
                .map_or("-".into(), |w| pct_brief(w.availability))
        }),
        row("  at", &|r| {
            r.worst_window.as_ref().map_or("-".into(), |w| clock(w.t_s))
        }),
        row("errors", &|r| count_brief(r.errors.values().sum())),
        row("orders", &|r| count_brief(r.orders)),
        row("revenue", &|r| dollars_brief(r.revenue_cents)),
        row("revenue lost", &|r| dollars_brief(r.revenue_lost_cents)),
        row("replicas", &|r| {
            if r.replicas_min == r.replicas_max {
                r.replicas_max.to_string()
            } else {
                format!("{}-{}", r.replicas_min, r.replicas_max)
            }
        }),
        row("checks", &|r| {
            let failed = r.checks.iter().filter(|c| c.failed()).count();
            if failed == 0 {
                "all held".into()
            } else {
                format!("{failed} VIOLATED")
            }
        }),
        Line::from(" t hides this · s saves the day · q quits"),
    ];
    let width = (17 + col * app.panes.len() + 3) as u16;
    let title = format!(
        " the whole day · {} · seed {} ",
        app.scenario.name, app.seed
    );
    overlay(f, area, lines, width, title);
}

fn too_small(f: &mut Frame, area: Rect) {
    let text = vec![
        Line::from(Span::styled(
            "terminal too small",
            Style::default().add_modifier(Modifier::BOLD),
        )),
        Line::from(format!("it is {}x{}", area.width, area.height)),
        Line::from(format!(
            "scalelab demo needs at least {MIN_WIDTH}x{MIN_HEIGHT}"
        )),
        Line::from("enlarge the window, or q to quit"),
    ];
    let top = area.height.saturating_sub(text.len() as u16) / 2;
    let rect = Rect {
        y: area.y + top,
        height: area.height - top,
        ..area
    };
    f.render_widget(Paragraph::new(text).alignment(Alignment::Center), rect);
}

fn render_header(app: &App, f: &mut Frame, area: Rect) {
    let virtual_s = app.completed() as f64 * app.interval_s();
    let state = app.state();
    let state_style = if state.starts_with("behind") {
        Style::default().fg(Color::Yellow)
    } else if state == "paused" {
        Style::default().fg(Color::Cyan)
    } else {
        Style::default().fg(Color::Green)
    };
    let line = Line::from(vec![
        Span::styled(" scalelab ", Style::default().add_modifier(Modifier::BOLD)),
        Span::raw(format!(
            "· {} · seed {} · {} / {} virtual · {} · ",
            app.scenario.name,
            app.seed,
            clock(virtual_s),
            clock(app.scenario.duration_s()),
            app.pacer.speed()
        )),
        Span::styled(state, state_style),
    ]);
    f.render_widget(
        Paragraph::new(line).style(Style::default().add_modifier(Modifier::REVERSED)),
        area,
    );
}

fn render_panes(app: &App, f: &mut Frame, area: Rect) {
    // Throughput shares one scale across designs, so bar heights compare; latency's scale is
    // the SLO timeout, past which a request counts as failed anyway.
    let throughput_max = app
        .panes
        .iter()
        .flat_map(|p| p.throughput.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1);
    let slo_ms = app.scenario.slo.timeout_ms.0.round() as u64;
    if let Some(i) = app.enlarged {
        if let Some(pane) = app.panes.get(i) {
            render_pane(app, i, pane, f, area, throughput_max, slo_ms);
        }
        return;
    }
    let [top, bottom] =
        Layout::vertical([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).areas(area);
    let cells: Vec<Rect> = [top, bottom]
        .iter()
        .flat_map(|row| {
            let [l, r] =
                Layout::horizontal([Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)]).areas(*row);
            [l, r]
        })
        .collect();
    for (i, (pane, cell)) in app.panes.iter().zip(cells).enumerate() {
        render_pane(app, i, pane, f, cell, throughput_max, slo_ms);
    }
}

fn render_pane(
    app: &App,
    index: usize,
    pane: &Pane,
    f: &mut Frame,
    area: Rect,
    throughput_max: u64,
    slo_ms: u64,
) {
    let mut title = format!(" {} {} ", index + 1, pane.design.name());
    if app.enlarged == Some(index) {
        title.push_str("(Tab: next · same number: all four) ");
    }
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(frame) = &pane.last else {
        f.render_widget(Paragraph::new("waiting for the first tick"), inner);
        return;
    };
    // Four lines of text (five with the whole day's fault marks); the rest goes to the two
    // sparklines.
    let marks_rows = u16::from(app.whole_day);
    let spark_rows = inner.height.saturating_sub(4 + marks_rows);
    let tp_rows = spark_rows.div_ceil(2);
    let lat_rows = spark_rows - tp_rows;
    let [strip, tp, lat, marks, figures, more, load] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(tp_rows),
        Constraint::Length(lat_rows),
        Constraint::Length(marks_rows),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    // The charts: the newest points that fit, or the whole run so far squeezed into the
    // width (a column's throughput is its ticks' mean, its p99 their worst, so no dip or
    // spike is averaged away).
    let chart_w = usize::from(inner.width.saturating_sub(SPARK_LABEL + SPARK_VALUE)).max(1);
    let (tp_data, p99_data, per_col) = if app.whole_day {
        let per_col = pane.day_throughput.len().div_ceil(chart_w).max(1);
        (
            squeeze(&pane.day_throughput, per_col, |c| {
                c.iter().sum::<u64>() / c.len().max(1) as u64
            }),
            squeeze(&pane.day_p99_ms, per_col, |c| {
                c.iter().copied().max().unwrap_or(0)
            }),
            per_col,
        )
    } else {
        (
            pane.throughput.iter().copied().collect(),
            pane.p99_ms.iter().copied().collect(),
            1,
        )
    };

    let w = frame.window.clone();
    // Requests came and none was answered within the SLO: the app hosts are running, but
    // they are not serving anyone (their database is gone, or cut off), and must not look
    // healthy.
    let serving = w.requests == 0 || w.answered_in_slo > 0;
    f.render_widget(
        Paragraph::new(strip_line(&frame.nodes, serving, inner.width)),
        strip,
    );
    spark_row(
        f,
        tp,
        "req/s",
        &tp_data,
        throughput_max,
        &thousands(w.throughput_rps.round() as u64),
        Color::Green,
    );
    // Latency as shoppers saw it: failed and timed-out requests count at the timeout.
    let slo = app.scenario.slo.timeout_ms.0;
    let shown = |q: f64| match w.seen_ms(q, slo) {
        (v, true) => format!("≥{}", ms_brief(v)),
        (v, false) => ms_brief(v),
    };
    let (p50, p99) = (shown(0.50), shown(0.99));
    spark_row(f, lat, "p99", &p99_data, slo_ms, &p99, Color::Magenta);
    if app.whole_day {
        render_marks(app, pane.design, f, marks, per_col);
    }
    let total = if frame.requests > 0 {
        frame.answered_in_slo as f64 / frame.requests as f64
    } else {
        1.0
    };
    let avail_style = |a: f64| {
        Style::default().fg(if a >= 0.99 {
            Color::Green
        } else if a >= 0.9 {
            Color::Yellow
        } else {
            Color::Red
        })
    };
    // Each line in full where the pane is wide enough, else in its short form.
    let width = usize::from(inner.width);
    let latency = format!("p50 {p50} · p99 {p99} · ");
    let full = latency.chars().count() + "avail 100% now, 100% all".len() + 4 <= width;
    let (lead, mid, tail) = if full {
        (latency, " now, ", " all")
    } else {
        (format!("p50 {p50} · "), " (all ", ")")
    };
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::raw(format!("{lead}avail ")),
            Span::styled(pct_brief(w.availability), avail_style(w.availability)),
            Span::raw(mid),
            Span::styled(pct_brief(total), avail_style(total)),
            Span::raw(tail),
        ])),
        figures,
    );
    let long = format!(
        "errors {} · revenue lost {} · replicas {}",
        count_brief(frame.errors),
        dollars_brief(frame.revenue_lost_cents),
        w.replicas
    );
    let brief = format!(
        "err {} · lost {} · replicas {}",
        count_brief(frame.errors),
        dollars_brief(frame.revenue_lost_cents),
        w.replicas
    );
    f.render_widget(
        Paragraph::new(if long.chars().count() <= width {
            long
        } else {
            brief
        }),
        more,
    );
    let has_broker = frame.nodes.iter().any(|n| n.group == "broker");
    let mut load_line = load_line(&frame.shard_cpu);
    if has_broker {
        let lag = count_brief(w.queue_lag);
        let label = if load_line.width() + 14 + lag.len() <= width {
            "queue lag"
        } else {
            "lag"
        };
        load_line.spans.push(Span::raw(format!(" · {label} {lag}")));
    }
    f.render_widget(Paragraph::new(load_line), load);
}

/// Columns of a chart row taken by its label and by its value.
const SPARK_LABEL: u16 = 6;
const SPARK_VALUE: u16 = 9;

/// A chart row's columns: its label, the chart, its value.
fn chart_columns(area: Rect) -> [Rect; 3] {
    Layout::horizontal([
        Constraint::Length(SPARK_LABEL),
        Constraint::Min(4),
        Constraint::Length(SPARK_VALUE),
    ])
    .areas(area)
}

/// `data` in columns of `per_col` points each, each column reduced by `reduce`.
fn squeeze(data: &[u64], per_col: usize, reduce: impl Fn(&[u64]) -> u64) -> Vec<u64> {
    data.chunks(per_col.max(1)).map(reduce).collect()
}

/// The whole-day charts' time axis: a ▲ under the column where each fault began, and how
/// much of the run the charts hold.
fn render_marks(app: &App, design: Design, f: &mut Frame, area: Rect, per_col: usize) {
    if area.height == 0 {
        return;
    }
    let [l, s, v] = chart_columns(area);
    let red = Style::default().fg(Color::Red);
    let mut axis = vec![Span::raw(" "); usize::from(s.width)];
    let tick_s = app.interval_s();
    for t in app.fault_marks(design) {
        let col = (t / tick_s) as usize / per_col.max(1);
        if let Some(c) = axis.get_mut(col) {
            *c = Span::styled("▲", red);
        }
    }
    // The presenter's markers (x) over the faults: the letter they were given.
    let marker = Style::default()
        .fg(Color::Cyan)
        .add_modifier(Modifier::BOLD);
    for m in &app.markers {
        let col = m.tick.saturating_sub(1) as usize / per_col.max(1);
        if let (Some(c), Some(letter)) = (axis.get_mut(col), m.label.get(..1)) {
            *c = Span::styled(letter.to_owned(), marker);
        }
    }
    f.render_widget(Paragraph::new("fault"), l);
    f.render_widget(Paragraph::new(Line::from(axis)), s);
    let shown = app.completed() as f64 * tick_s;
    f.render_widget(Paragraph::new(clock(shown)).alignment(Alignment::Right), v);
}

/// A label, a sparkline of the newest points that fit, and the current value.
fn spark_row(
    f: &mut Frame,
    area: Rect,
    label: &str,
    data: &[u64],
    max: u64,
    value: &str,
    color: Color,
) {
    if area.height == 0 {
        return;
    }
    let [l, s, v] = chart_columns(area);
    let shown = usize::from(s.width).min(data.len());
    let newest: Vec<u64> = data.iter().skip(data.len() - shown).copied().collect();
    f.render_widget(Paragraph::new(label.to_owned()), l);
    f.render_widget(
        Sparkline::default()
            .data(&newest)
            .max(max)
            .style(Style::default().fg(color)),
        s,
    );
    f.render_widget(
        Paragraph::new(value.to_owned()).alignment(Alignment::Right),
        v,
    );
}

/// The design's nodes, grouped by role: a dot per node coloured by health, or counts per
/// health where there are too many to fit. The most detailed form that fits the width wins.
/// When the design is not `serving` (requests came and none was answered in the SLO), its
/// running app hosts are drawn as answering nothing.
fn strip_line(nodes: &[NodeView], serving: bool, width: u16) -> Line<'static> {
    let mut groups: Vec<(&'static str, Vec<&NodeView>)> = Vec::new();
    for n in nodes {
        match groups.iter_mut().find(|(g, _)| *g == n.group) {
            Some((_, v)) => v.push(n),
            None => groups.push((n.group, vec![n])),
        }
    }
    // (short names, count groups larger than this, show the mail provider, name the groups
    // whose every node is up together, behind one dot)
    let forms = [
        (false, usize::MAX, true, false),
        (false, 3, true, false),
        (true, 1, true, false),
        (true, 1, true, true),
        (true, 1, false, true),
    ];
    let mut line = Line::default();
    for form in forms {
        line = strip_form(&groups, form, serving);
        if line.width() <= usize::from(width) {
            break;
        }
    }
    line
}

fn strip_form(
    groups: &[(&'static str, Vec<&NodeView>)],
    (short_names, count_above, mail, pool_up): (bool, usize, bool, bool),
    serving: bool,
) -> Line<'static> {
    let up = look(
        &NodeView {
            group: "",
            name: String::new(),
            health: Health::Up,
            starting: false,
        },
        true,
    );
    let all_up = |members: &[&NodeView]| members.iter().all(|n| look(n, serving) == up);
    let mut spans = Vec::new();
    let mut pooled: Vec<&str> = Vec::new();
    for (group, members) in groups.iter().filter(|(g, _)| mail || *g != "mail") {
        let name = match (short_names, *group) {
            (true, "sessions") => "sess",
            (true, "broker") => "brk",
            (true, "workers") => "wrk",
            (_, g) => g,
        };
        if pool_up && all_up(members) {
            pooled.push(name);
            continue;
        }
        if !spans.is_empty() {
            spans.push(Span::raw(" "));
        }
        spans.push(Span::raw(format!("{name} ")));
        if members.len() <= count_above {
            for n in members {
                let (symbol, style) = look(n, serving);
                spans.push(Span::styled(symbol, style));
            }
        } else {
            let mut counts: Vec<(&'static str, Style, usize)> = Vec::new();
            for n in members {
                let (symbol, style) = look(n, serving);
                match counts
                    .iter_mut()
                    .find(|(s, st, _)| *s == symbol && *st == style)
                {
                    Some(c) => c.2 += 1,
                    None => counts.push((symbol, style, 1)),
                }
            }
            for (symbol, style, count) in counts {
                spans.push(Span::styled(format!("{count}{symbol}"), style));
            }
        }
    }
    // The groups with every node up, named together behind one dot: "sess brk wrk db ●".
    if !pooled.is_empty() {
        if !spans.is_empty() {
            spans.push(Span::raw(" · "));
        }
        spans.push(Span::raw(format!("{} ", pooled.join(" "))));
        spans.push(Span::styled(up.0, up.1));
    }
    Line::from(spans)
}

/// How one node is drawn. An app host that is up while its design answers nothing gets a
/// symbol of its own: running, and serving no one.
fn look(n: &NodeView, serving: bool) -> (&'static str, Style) {
    match (n.health, n.starting) {
        (Health::Down, _) => ("✕", Style::default().fg(Color::Red)),
        (Health::Cut, _) => ("◍", Style::default().fg(Color::Magenta)),
        (Health::Slow, _) => ("●", Style::default().fg(Color::Yellow)),
        (Health::Up, true) => ("○", Style::default().fg(Color::Cyan)),
        (Health::Up, false) if !serving && n.group == "app" => {
            ("◌", Style::default().fg(Color::Red))
        }
        (Health::Up, false) => ("●", Style::default().fg(Color::Green)),
    }
}

/// The database's CPU, per shard when sharded.
fn load_line(shard_cpu: &[f64]) -> Line<'static> {
    const BARS: [&str; 8] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];
    let label = if shard_cpu.len() > 1 {
        "shards "
    } else {
        "db "
    };
    let mut spans = vec![Span::raw(label)];
    for u in shard_cpu {
        let level = ((u * 8.0).ceil() as usize).clamp(1, 8) - 1;
        let color = if *u >= 0.9 {
            Color::Red
        } else if *u >= 0.7 {
            Color::Yellow
        } else {
            Color::Green
        };
        spans.push(Span::styled(BARS[level], Style::default().fg(color)));
    }
    let figures: Vec<String> = shard_cpu
        .iter()
        .map(|u| format!("{:.0}", u * 100.0))
        .collect();
    spans.push(Span::raw(format!(" cpu {}%", figures.join(" "))));
    if let Some((hot, u)) = shard_cpu
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .filter(|_| shard_cpu.len() > 1)
    {
        if *u >= 0.9 {
            spans.push(Span::styled(
                format!(" · hot: shard {hot}"),
                Style::default().fg(Color::Red),
            ));
        }
    }
    Line::from(spans)
}

fn render_log(app: &App, f: &mut Frame, area: Rect) {
    let block = Block::default().borders(Borders::ALL).title(" events ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let rows = usize::from(inner.height);
    let width = usize::from(inner.width);
    let all = app.designs.len();
    // The newest lines that fit, each wrapped under its text rather than cut at the edge;
    // at most `rows` log lines can show, so only those are laid out.
    let mut lines: Vec<Line> = Vec::new();
    for l in app.log.iter().rev().take(rows) {
        let who = if l.designs.len() == all {
            "all".to_owned()
        } else {
            l.designs
                .iter()
                .map(|d| (d + 1).to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let style = if l.text.contains("VIOLATED") || l.text.contains("failed") {
            Style::default().fg(Color::Red)
        } else if l.text.starts_with("autoscaler") || l.text.starts_with("load balancer") {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        };
        let lead = format!("{} [{who:>5}] ", clock(l.at_s));
        let indent = lead.chars().count();
        let pieces = wrap_chars(&l.text, width.saturating_sub(indent).max(10));
        let mut wrapped: Vec<Line> = pieces
            .into_iter()
            .enumerate()
            .map(|(k, piece)| {
                let lead = if k == 0 {
                    lead.clone()
                } else {
                    " ".repeat(indent)
                };
                Line::from(vec![Span::raw(lead), Span::styled(piece, style)])
            })
            .collect();
        wrapped.reverse();
        lines.extend(wrapped);
        if lines.len() >= rows {
            break;
        }
    }
    lines.truncate(rows);
    lines.reverse();
    f.render_widget(Paragraph::new(lines), inner);
}

/// `text` in pieces of at most `width` characters, broken at the last space that fits (or
/// mid-word when a word is longer than the width).
fn wrap_chars(text: &str, width: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest: Vec<char> = text.chars().collect();
    while rest.len() > width {
        let cut = rest[..=width]
            .iter()
            .rposition(|&c| c == ' ')
            .filter(|&at| at > 0)
            .unwrap_or(width);
        pieces.push(rest[..cut].iter().collect());
        let skip = usize::from(rest.get(cut) == Some(&' '));
        rest.drain(..cut + skip);
    }
    pieces.push(rest.into_iter().collect());
    pieces
}

fn render_status(app: &App, f: &mut Frame, area: Rect) {
    let text = match &app.status {
        // A jump's note outlives the run it jumped to the end of; then it would mislead.
        Some(s) if app.finished() && s.starts_with("jumping to ") => {
            "the day is over · t the scoreboard · s saves the day · q quits".to_owned()
        }
        Some(s) => s.clone(),
        None => format!(
            "tick {} · faults land at the next tick in all four designs · s saves a repro",
            app.completed()
        ),
    };
    f.render_widget(
        Paragraph::new(Span::styled(text, Style::default().fg(Color::Cyan))),
        area,
    );
}

/// Key hints from the keymap, as many as fit; `? help` always shows.
fn render_footer(f: &mut Frame, area: Rect) {
    let mut spans: Vec<Span> = Vec::new();
    let mut used = 0usize;
    let help = "? help";
    let room = usize::from(area.width).saturating_sub(help.len() + 1);
    for b in KEYMAP
        .iter()
        .filter(|b| !b.hint.is_empty() && b.hint != "help")
    {
        let key = b.shown.split(' ').next().unwrap_or(b.shown);
        let piece = format!("{key} {}", b.hint);
        if used + piece.len() + 2 > room {
            continue;
        }
        used += piece.len() + 2;
        spans.push(Span::styled(
            key.to_owned(),
            Style::default().add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::raw(format!(" {}  ", b.hint)));
    }
    spans.push(Span::styled(
        "?",
        Style::default().add_modifier(Modifier::BOLD),
    ));
    spans.push(Span::raw(" help"));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The help: every binding of the keymap with what it does.
fn render_help(f: &mut Frame, area: Rect) {
    let mut lines: Vec<Line> = KEYMAP
        .iter()
        .filter(|b| !b.help.is_empty())
        .map(|b| {
            Line::from(vec![
                Span::styled(
                    format!("{:>9}  ", b.shown),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(b.help),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(
        "Faults land in all four designs at the next tick and are recorded with it.",
    ));
    let width = lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 2;
    overlay(f, area, lines, width, " keys ".into());
}

fn render_kill_menu(app: &App, only: Option<Design>, f: &mut Frame, area: Rect) {
    let shards = app.scenario.sharded.shards.get();
    let target = (
        "t".to_owned(),
        format!("target: {}", keymap::target_name(only)),
    );
    let items = std::iter::once(target).chain(
        keymap::kill_menu(shards)
            .into_iter()
            .map(|(key, role)| (key.to_string(), role.to_string())),
    );
    overlay(
        f,
        area,
        menu_lines(items, 1),
        36,
        " kill which role? ".into(),
    );
}

/// What the view's symbols, colours and figures mean, each symbol drawn as the panes draw it.
fn render_legend(app: &App, f: &mut Frame, area: Rect) {
    let node = |health, starting, serving, text: &str| {
        let (symbol, style) = look(
            &NodeView {
                group: "app",
                name: String::new(),
                health,
                starting,
            },
            serving,
        );
        Line::from(vec![
            Span::raw("  "),
            Span::styled(symbol, style),
            Span::raw(format!("  {text}")),
        ])
    };
    let colour = |c: Color, text: &str| {
        Line::from(vec![
            Span::raw("  "),
            Span::styled("■", Style::default().fg(c)),
            Span::raw(format!("  {text}")),
        ])
    };
    let slo = ms_brief(app.scenario.slo.timeout_ms.0);
    let lines = vec![
        Line::from(Span::styled(
            " nodes (one per host; counts where too many to draw)",
            Style::default().add_modifier(Modifier::BOLD),
        )),
        node(Health::Up, false, true, "up"),
        node(
            Health::Up,
            false,
            false,
            "app up, answering nothing in time",
        ),
        node(
            Health::Up,
            true,
            true,
            "booting (a new replica, or restarting)",
        ),
        node(Health::Slow, false, true, "slowed (a slow fault)"),
        node(Health::Cut, false, true, "cut off (a partition)"),
        node(Health::Down, false, true, "dead (killed or down)"),
        Line::from(Span::styled(
            " availability (requests answered without an error within the SLO)",
            Style::default().add_modifier(Modifier::BOLD),
        )),
        colour(Color::Green, "99% or more"),
        colour(Color::Yellow, "90% to 99%"),
        colour(Color::Red, "below 90%"),
        Line::from(Span::styled(
            " figures",
            Style::default().add_modifier(Modifier::BOLD),
        )),
        Line::from("  req/s   requests answered per virtual second, this tick"),
        Line::from(format!(
            "  p50 p99 latency as shoppers saw it (≥{slo}: that many failed or timed out)"
        )),
        Line::from("  now/all availability this tick / since the start"),
        Line::from("  lost    revenue lost: what shoppers who gave up (error, slow) came to buy"),
        Line::from("  ▲ a b   a fault began; your markers, x (whole-run charts, w)"),
        Line::from("  [2,3]   event log: the designs it happened in (1-4, all)"),
        Line::from("  a chart column is a tick of virtual time (w: several, to fit the run)"),
    ];
    let width = lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 3;
    overlay(f, area, lines, width, " legend (any key closes it) ".into());
}

fn render_jump_menu(f: &mut Frame, area: Rect) {
    let items = keymap::JUMPS.iter().map(|&(key, ahead_s)| {
        let what = format!("{:.0} min ahead, then pause", ahead_s / 60.0);
        (key.to_string(), what)
    });
    overlay(f, area, menu_lines(items, 1), 36, " jump ahead ".into());
}

/// A fault's menu: Enter injects it as shown; the other keys change it.
fn render_fault_menu(app: &App, draft: keymap::FaultDraft, f: &mut Frame, area: Rect) {
    let (title, items) = draft.menu(app.scenario.sharded.shards.get());
    overlay(f, area, menu_lines(items, 5), 60, title);
}

/// A menu's lines: each key in bold (padded to `key_width`) and what it does, then the
/// line every menu ends with.
fn menu_lines(
    items: impl IntoIterator<Item = (String, String)>,
    key_width: usize,
) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = items
        .into_iter()
        .map(|(key, text)| {
            Line::from(vec![
                Span::styled(
                    format!("  {key:<key_width$}  "),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(text),
            ])
        })
        .collect();
    lines.push(Line::from("  any other key cancels"));
    lines
}

/// A framed box of `lines` over the middle of `area`, `width` wide (both clipped to the
/// area): the help, the legend, the menus and the scoreboard.
fn overlay(f: &mut Frame, area: Rect, lines: Vec<Line>, width: u16, title: String) {
    let rect = centered(area, width, lines.len() as u16 + 2);
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        rect,
    );
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    Rect {
        x: area.x + area.width.saturating_sub(width) / 2,
        y: area.y + area.height.saturating_sub(height) / 2,
        width: width.min(area.width),
        height: height.min(area.height),
    }
}
