//! Repro files: a run written down so that it replays bit for bit in another process, and the
//! check that a replay matched.
//!
//! A repro holds the whole scenario text (not a path: the file may change), the seed, the
//! designs, the live commands applied with their ticks, and each design's expected trace
//! hash plus the hash at the end of every tick, so that a replay that diverges can say where.
//!
//! It also records a checksum of each thing it holds (the seed, the designs, each part of the
//! scenario, the commands, the expected hashes), so that a replay of a file edited by hand
//! says what was edited instead of blaming the build or nondeterminism for the difference.
//!
//! Must not: run simulations itself (main does, through `scalelab_sim`) or guess: a repro
//! that cannot be read is bad input, reported with file, line and column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::scenario_file::{located, unlocated, LoadError};
use scalelab_sim::scenario::fault::{Command, Scheduled};
use scalelab_sim::{Design, Report, Scenario};

/// The repro format this build writes and reads. Format 2: the simulator's hops exact to the
/// nanosecond (third_party/madsim); a format-1 run replays differently here, so it is refused.
const FORMAT: u32 = 2;

/// Why a repro of an older format cannot be replayed by this build, and how to replay it.
fn older_format(format: u32) -> String {
    let why = match format {
        1 => {
            "it was written by a build from before the simulator's hops became exact to the \
              nanosecond (the vendored madsim), and this build would replay it differently"
        }
        _ => "this build reads only its own format",
    };
    format!(
        "repro format {format} is not one this build reads (it reads format {FORMAT}): {why}. \
         Replay it with the last build that wrote format {format}: in a clone of scalelab, \
         `git checkout $(git log --format=%h -1 -S'const FORMAT: u32 = {next};' -- tui/src/repro.rs)^` \
         then `cargo run --release --bin scalelab -- replay THIS-FILE`",
        next = format + 1
    )
}

/// A repro file as read back.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[allow(dead_code)]
    format: u32,
    #[allow(dead_code)]
    scalelab: String,
    seed: u64,
    #[allow(dead_code)]
    scenario_file: String,
    designs: Vec<Spanned<String>>,
    scenario: Spanned<String>,
    /// Replay only this many ticks (a live session saved part-way).
    ticks: Option<u64>,
    /// What each part held when it was saved (absent from files of older builds).
    checksums: Option<BTreeMap<String, String>>,
    #[serde(default)]
    commands: Vec<Scheduled>,
    /// The moments a presenter marked in a live session (absent when none was).
    #[serde(default)]
    markers: Vec<Marker>,
    expected: Vec<Expected>,
}

/// A moment a presenter marked in a live session (`x`: a, b, c, ...), kept so that a replay
/// can say where the interesting minutes were.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marker {
    pub label: String,
    /// The marker stands at the end of this many ticks.
    pub tick: u64,
}

/// What one design is expected to produce.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub design: String,
    pub trace_hash: String,
    /// The trace hash at the end of each tick, as hex, space-separated.
    pub checkpoints: String,
}

impl Expected {
    /// A design's expectation from its per-tick hashes alone: the run's hash is the last
    /// tick's (a run cut there records nothing after it).
    pub fn from_checkpoints(design: &str, checkpoints: &[u64]) -> Expected {
        Expected {
            design: design.to_owned(),
            trace_hash: format!("{:016x}", checkpoints.last().copied().unwrap_or(0)),
            checkpoints: hex(checkpoints),
        }
    }
}

fn hex(checkpoints: &[u64]) -> String {
    checkpoints
        .iter()
        .map(|c| format!("{c:016x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Serialize)]
struct Tail<'a> {
    checksums: BTreeMap<String, String>,
    commands: &'a [Scheduled],
    #[serde(skip_serializing_if = "<[Marker]>::is_empty")]
    markers: &'a [Marker],
    expected: &'a [Expected],
}

/// One checksum per part a person might edit: the seed, the designs, the tick count, the
/// commands, the expected hashes, and each top-level key of the scenario (so an edit is
/// named down to the table it is in). Comments and layout are not parts: editing them is
/// harmless, and they are not counted as edits.
fn checksums(
    scenario_text: &str,
    seed: u64,
    designs: &[&str],
    ticks: Option<u64>,
    (commands, markers): (&[Scheduled], &[Marker]),
    expected: &[Expected],
) -> BTreeMap<String, String> {
    let sum = |text: &str| format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()));
    // serde_json's text of a value is stable, so it is what the checksum is taken of.
    fn json<T: Serialize + ?Sized>(v: &T) -> String {
        serde_json::to_string(v).unwrap_or_default()
    }
    let mut out = BTreeMap::new();
    out.insert("seed".into(), sum(&seed.to_string()));
    out.insert("designs".into(), sum(&designs.join(",")));
    out.insert("ticks".into(), sum(&format!("{ticks:?}")));
    out.insert("commands".into(), sum(&json(commands)));
    // Only when there are any, so that the files saved before markers existed still match.
    if !markers.is_empty() {
        out.insert("markers".into(), sum(&json(markers)));
    }
    out.insert("expected".into(), sum(&json(expected)));
    if let Ok(table) = toml::from_str::<toml::Table>(scenario_text) {
        for (key, value) in &table {
            out.insert(format!("scenario.{key}"), sum(&json(value)));
        }
    }
    out
}

/// The parts whose checksum differs from the one saved, as people name them.
fn edited(saved: &BTreeMap<String, String>, now: &BTreeMap<String, String>) -> Vec<String> {
    let mut keys: Vec<&String> = saved.keys().chain(now.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| saved.get(*k) != now.get(*k))
        .map(|k| match k.strip_prefix("scenario.") {
            Some(part) => format!("`{part}` in the scenario"),
            None => match k.as_str() {
                "expected" => "the expected hashes".to_owned(),
                other => format!("the {other}"),
            },
        })
        .collect()
}

/// Everything a repro file says.
pub struct Parts<'a> {
    pub scenario_text: &'a str,
    pub scenario_path: &'a str,
    pub seed: u64,
    pub designs: &'a [Design],
    pub commands: &'a [Scheduled],
    pub markers: &'a [Marker],
    pub expected: &'a [Expected],
    /// Replay only this many ticks.
    pub ticks: Option<u64>,
}

/// A repro, ready to replay.
pub struct Repro {
    pub scenario: Scenario,
    /// The scenario as the file holds it (what `shrink` edits).
    pub scenario_text: String,
    pub seed: u64,
    pub designs: Vec<Design>,
    pub commands: Vec<Scheduled>,
    /// The moments marked in the live session it was saved from.
    pub markers: Vec<Marker>,
    pub expected: Vec<Expected>,
    /// Replay only this many ticks (`None`: the whole run).
    pub ticks: Option<u64>,
    /// The parts edited since the file was saved (their checksums differ), e.g. "the seed"
    /// or "`database` in the scenario"; empty for an untouched file or one without checksums.
    pub edited: Vec<String>,
}

/// The text of a repro for `reports` (one per design, all of one run).
pub fn render(scenario_text: &str, scenario_path: &str, reports: &[Report]) -> String {
    render_marked(scenario_text, scenario_path, reports, &[])
}

/// [`render`], with the moments a presenter marked.
pub fn render_marked(
    scenario_text: &str,
    scenario_path: &str,
    reports: &[Report],
    markers: &[Marker],
) -> String {
    let designs: Vec<Design> = reports
        .iter()
        .filter_map(|r| Design::parse(r.design))
        .collect();
    let expected: Vec<Expected> = reports
        .iter()
        .map(|r| Expected {
            design: r.design.to_owned(),
            trace_hash: r.trace_hash.clone(),
            checkpoints: hex(&r.checkpoints),
        })
        .collect();
    render_parts(&Parts {
        scenario_text,
        scenario_path,
        seed: reports.first().map_or(0, |r| r.seed),
        designs: &designs,
        // Every design of a run gets the same commands at the same ticks.
        commands: reports.first().map_or(&[][..], |r| &r.commands[..]),
        markers,
        expected: &expected,
        ticks: reports.first().and_then(|r| r.cut_after_ticks),
    })
}

/// The text of a repro file.
pub fn render_parts(parts: &Parts) -> String {
    let Parts {
        scenario_text,
        scenario_path,
        seed,
        designs,
        commands,
        markers,
        expected,
        ticks,
    } = *parts;
    let names: Vec<&str> = designs.iter().map(|d| d.name()).collect();
    let checksums = checksums(
        scenario_text,
        seed,
        &names,
        ticks,
        (commands, markers),
        expected,
    );
    let designs: Vec<String> = names.iter().map(|d| format!("{d:?}")).collect();
    let tail = toml::to_string(&Tail {
        checksums,
        commands,
        markers,
        expected,
    })
    .unwrap_or_default();
    let ticks = match ticks {
        Some(n) => format!(
            "# Saved part-way through a live session: replay runs the first {n} ticks.\nticks = {n}\n"
        ),
        None => String::new(),
    };
    // A literal string keeps the scenario byte for byte, so errors in it point at the right
    // place in this file; it cannot hold ''' itself, which a scenario has no reason to use.
    let scenario = if scenario_text.contains("'''") {
        toml::Value::String(scenario_text.to_owned()).to_string()
    } else {
        format!("'''\n{scenario_text}'''")
    };
    format!(
        "# scalelab repro: this run, written down to replay bit for bit.\n\
         #   scalelab replay {{this file}}\n\
         # It holds the whole scenario, the seed, the live commands with their ticks, and\n\
         # each design's trace hash (and the hash at every tick, to find a divergence).\n\
         # [checksums] tells a replay which parts were edited by hand since.\n\
         format = {FORMAT}\n\
         scalelab = {:?}\n\
         seed = {seed}\n\
         scenario_file = {:?}\n\
         designs = [{}]\n\
         {ticks}\
         scenario = {scenario}\n\n{tail}",
        env!("CARGO_PKG_VERSION"),
        scenario_path,
        designs.join(", "),
    )
}

/// Writes a repro of `reports` to `path` (creating its folder).
pub fn save(
    path: &Path,
    scenario_text: &str,
    scenario_path: &str,
    reports: &[Report],
) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, render(scenario_text, scenario_path, reports))
}

/// Where a repro of a run of `scenario` with `seed` goes by default.
pub fn default_path(scenario: &str, seed: u64) -> PathBuf {
    PathBuf::from("scalelab-repros").join(format!("{scenario}-seed-{seed}.toml"))
}

/// Reads a repro file, reporting any problem with its place in the file.
pub fn load(path: &Path) -> Result<Repro, LoadError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| unlocated(format!("{shown}: cannot read the repro file: {e}")))?;
    // The format first, alone: a file of another format may not have this format's fields.
    #[derive(Deserialize)]
    struct Format {
        format: Spanned<u32>,
    }
    if let Ok(Format { format }) = toml::from_str::<Format>(&text) {
        let n = *format.get_ref();
        if n != FORMAT {
            let message = if n < FORMAT {
                older_format(n)
            } else {
                format!(
                    "repro format {n} is newer than this build reads (it reads format \
                     {FORMAT}): replay it with a newer build of scalelab"
                )
            };
            return Err(located(&shown, &text, Some(format.span()), &message));
        }
    }
    let file: File =
        toml::from_str(&text).map_err(|e| located(&shown, &text, e.span(), e.message().trim()))?;
    let mut designs = Vec::new();
    for d in &file.designs {
        match Design::parse(d.get_ref()) {
            Some(design) => designs.push(design),
            None => {
                return Err(located(
                    &shown,
                    &text,
                    Some(d.span()),
                    &format!(
                        "unknown design `{}`, expected vertical, horizontal, queued or sharded",
                        d.get_ref()
                    ),
                ))
            }
        }
    }
    // A command aimed at one design must name one: a misspelt name would land nowhere.
    for c in &file.commands {
        if let Command::Inject {
            only: Some(name), ..
        } = &c.command
        {
            if Design::parse(name).is_none() {
                let needle = format!("only = {name:?}");
                let span = text.find(&needle).map(|at| at..at + needle.len());
                return Err(located(
                    &shown,
                    &text,
                    span,
                    &format!(
                        "the command at tick {} is aimed at `{name}`, which is not a design \
                         (vertical, horizontal, queued, sharded)",
                        c.tick
                    ),
                ));
            }
        }
    }
    for d in &designs {
        if !file.expected.iter().any(|e| e.design == d.name()) {
            return Err(located(
                &shown,
                &text,
                None,
                &format!("no [[expected]] entry for design `{}`", d.name()),
            ));
        }
    }
    // Errors in the embedded scenario point into this file: the literal string's text
    // starts after its opening ''' and newline.
    let span = file.scenario.span();
    let opening = text
        .get(span.start..)
        .map_or(0, |rest| if rest.starts_with("'''\n") { 4 } else { 0 });
    let scenario = scalelab_sim::parse(file.scenario.get_ref()).map_err(|e| {
        let inner = e
            .span
            .map(|s| (s.start + span.start + opening)..(s.end + span.start + opening));
        located(
            &shown,
            &text,
            if opening > 0 {
                inner
            } else {
                Some(span.clone())
            },
            &format!("in the repro's scenario: {}", e.message),
        )
    })?;
    let edited = match &file.checksums {
        Some(saved) => {
            let names: Vec<&str> = designs.iter().map(|d| d.name()).collect();
            let now = checksums(
                file.scenario.get_ref(),
                file.seed,
                &names,
                file.ticks,
                (&file.commands, &file.markers),
                &file.expected,
            );
            self::edited(saved, &now)
        }
        None => Vec::new(),
    };
    Ok(Repro {
        edited,
        scenario,
        scenario_text: file.scenario.get_ref().clone(),
        seed: file.seed,
        designs,
        commands: file.commands,
        markers: file.markers,
        expected: file.expected,
        ticks: file.ticks,
    })
}

/// How a replayed design compares with what the repro expected.
pub enum Verdict {
    Same,
    /// The first tick whose hash differs (or the tick count when only the end differs), with
    /// both hashes there.
    Diverged {
        tick: usize,
        expected: String,
        got: String,
    },
}

/// Compares a replayed report with its expectation.
pub fn compare(expected: &Expected, got: &Report) -> Verdict {
    if expected.trace_hash == got.trace_hash {
        return Verdict::Same;
    }
    let want: Vec<&str> = expected.checkpoints.split_whitespace().collect();
    let have: Vec<String> = got
        .checkpoints
        .iter()
        .map(|c| format!("{c:016x}"))
        .collect();
    for (tick, w) in want.iter().enumerate() {
        match have.get(tick) {
            Some(h) if h == w => continue,
            h => {
                return Verdict::Diverged {
                    tick,
                    expected: (*w).to_owned(),
                    got: h.cloned().unwrap_or_else(|| "(run ended)".into()),
                }
            }
        }
    }
    Verdict::Diverged {
        tick: want.len(),
        expected: expected.trace_hash.clone(),
        got: got.trace_hash.clone(),
    }
}
