//! `scalelab hunt report`: the results table that `hunt --results` slices wrote (see
//! `hunt_fleet`), read back as one hunt: the failing seeds grouped by invariant and design
//! in `hunt`'s own words, the distinct seeds, the seeds per minute of the whole fleet, and
//! the seeds of each range that no slice has recorded yet.
//!
//! Owns choosing which hunt to report (the newest scenario and build, unless asked for one)
//! and the report's text. Must not: write to the table, or run seeds.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::process::ExitCode;

use scalelab_sim::scenario::fault::FaultKind;
use sqlx::postgres::PgConnection;
use sqlx::{Connection as _, Row as _};

use crate::hunt_fleet::{connect, options, runtime, Shard, TABLE};
use crate::{EXIT_BAD_INPUT, EXIT_VIOLATION};

/// How long reading a hunt's rows may take before the report calls the database stuck (a
/// night of 8,000 seeds on four designs is 32,000 rows).
const READ_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// `scalelab hunt report`: which hunt to report on.
#[derive(clap::Args)]
pub struct Args {
    /// The PostgreSQL URL the slices recorded to.
    #[arg(long, env = "SCALELAB_RESULTS_URL", hide_env_values = true)]
    pub results: String,
    /// The scenario, by the hash the hunts recorded (a hunt's last line shows it); the most
    /// recently recorded one if absent.
    #[arg(long)]
    pub scenario_hash: Option<String>,
    /// The build, as recorded; the most recently recorded one (of the scenario) if absent.
    #[arg(long)]
    pub build: Option<String>,
}

/// One row, as the report reads it.
struct Seen {
    seed: u64,
    design: String,
    broken: Vec<String>,
    exercised: Vec<String>,
    path_names: Vec<String>,
    path_counts: Vec<i64>,
    faults: Vec<String>,
    started_ms: i64,
    finished_ms: i64,
    shard: Shard,
    whole: Range<u64>,
}

/// Prints the failures of one hunt across all its slices, grouped by invariant and design as
/// `hunt` prints them, with the distinct seeds and the seeds per minute of the whole. Exit
/// code as `hunt`'s: 1 if a seed broke an invariant.
pub fn main(args: &Args) -> ExitCode {
    let fail = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_BAD_INPUT)
    };
    let (options, target) = match options(&args.results) {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(e),
    };
    let read = rt.block_on(async {
        let mut conn = connect(&options)
            .await
            .map_err(|e| format!("the results database {target}: {e}"))?;
        let found = real_tokio::time::timeout(READ_LIMIT, read_hunt(&mut conn, args)).await;
        let _ = conn.close().await;
        match found {
            Ok(Ok(found)) => Ok(found),
            Ok(Err(e)) => Err(format!("reading {TABLE} in {target}: {e}")),
            Err(_) => Err(format!(
                "reading {TABLE} in {target}: no answer in {} s",
                READ_LIMIT.as_secs()
            )),
        }
    });
    match read {
        Ok(Some((hunt, rows))) => {
            let (text, any_broken) = render_report(&hunt, &rows);
            print!("{text}");
            if any_broken {
                ExitCode::from(EXIT_VIOLATION)
            } else {
                ExitCode::SUCCESS
            }
        }
        Ok(None) => fail(format!(
            "no hunt recorded in {target}{}",
            match (&args.scenario_hash, &args.build) {
                (None, None) => String::new(),
                (h, b) => format!(
                    " with{}{}",
                    h.as_ref()
                        .map_or(String::new(), |h| format!(" scenario hash {h}")),
                    b.as_ref().map_or(String::new(), |b| format!(" build {b}"))
                ),
            }
        )),
        Err(e) => fail(e),
    }
}

/// The hunt a report is about, and the others the table holds.
struct Which {
    scenario_hash: String,
    build: String,
    scenario: String,
    others: Vec<String>,
}

/// The hunt's rows: the newest (scenario, build) the filters allow.
async fn read_hunt(
    conn: &mut PgConnection,
    args: &Args,
) -> Result<Option<(Which, Vec<Seen>)>, sqlx::Error> {
    let exists: Option<String> =
        sqlx::query_scalar(&format!("SELECT to_regclass('{TABLE}')::text"))
            .fetch_one(&mut *conn)
            .await?;
    if exists.is_none() {
        return Ok(None);
    }
    let hunts = sqlx::query(&format!(
        "SELECT scenario_hash, build, min(scenario) AS scenario, count(DISTINCT seed) AS seeds,
                max(seed_finished_ms) AS last
         FROM {TABLE}
         WHERE ($1::text IS NULL OR scenario_hash = $1) AND ($2::text IS NULL OR build = $2)
         GROUP BY scenario_hash, build
         ORDER BY last DESC, scenario_hash, build"
    ))
    .bind(&args.scenario_hash)
    .bind(&args.build)
    .fetch_all(&mut *conn)
    .await?;
    let Some(newest) = hunts.first() else {
        return Ok(None);
    };
    let which = Which {
        scenario_hash: newest.try_get("scenario_hash")?,
        build: newest.try_get("build")?,
        scenario: newest.try_get("scenario")?,
        others: hunts[1..]
            .iter()
            .map(|h| -> Result<String, sqlx::Error> {
                Ok(format!(
                    "{} (scenario hash {}, build {}, {} seeds)",
                    h.try_get::<String, _>("scenario")?,
                    h.try_get::<String, _>("scenario_hash")?,
                    h.try_get::<String, _>("build")?,
                    h.try_get::<i64, _>("seeds")?
                ))
            })
            .collect::<Result<_, _>>()?,
    };
    let rows = sqlx::query(&format!(
        "SELECT seed, design, broken, exercised, path_names, path_counts, faults,
                seed_started_ms, seed_finished_ms,
                shard_index, shard_count, range_start, range_end
         FROM {TABLE} WHERE scenario_hash = $1 AND build = $2 ORDER BY seed, design"
    ))
    .bind(&which.scenario_hash)
    .bind(&which.build)
    .fetch_all(&mut *conn)
    .await?;
    let seen = rows
        .iter()
        .map(|r| -> Result<Seen, sqlx::Error> {
            Ok(Seen {
                seed: r.try_get::<i64, _>("seed")? as u64,
                design: r.try_get("design")?,
                broken: r.try_get("broken")?,
                exercised: r.try_get("exercised")?,
                path_names: r.try_get("path_names")?,
                path_counts: r.try_get("path_counts")?,
                faults: r.try_get("faults")?,
                started_ms: r.try_get("seed_started_ms")?,
                finished_ms: r.try_get("seed_finished_ms")?,
                shard: Shard {
                    index: r.try_get::<i64, _>("shard_index")? as u64,
                    count: r.try_get::<i64, _>("shard_count")? as u64,
                },
                whole: r.try_get::<i64, _>("range_start")? as u64
                    ..r.try_get::<i64, _>("range_end")? as u64,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Some((which, seen)))
}

/// The report's text, and whether any seed broke an invariant.
fn render_report(hunt: &Which, rows: &[Seen]) -> (String, bool) {
    let mut s = String::new();
    let seeds: BTreeSet<u64> = rows.iter().map(|r| r.seed).collect();
    let designs: BTreeSet<&str> = rows.iter().map(|r| r.design.as_str()).collect();
    let first = rows.iter().map(|r| r.started_ms).min().unwrap_or(0);
    let last = rows.iter().map(|r| r.finished_ms).max().unwrap_or(0);
    let minutes = (last - first).max(1) as f64 / 60_000.0;
    s.push_str(&format!(
        "scalelab hunt report · {} · scenario hash {} · build {}\n",
        hunt.scenario, hunt.scenario_hash, hunt.build
    ));
    s.push_str(&format!(
        "{} distinct seeds ({} rows, {} design(s)) · {:.1} min from the first seed's start to \
         the last seed's end · {:.1} seeds/min\n",
        seeds.len(),
        rows.len(),
        designs.len(),
        minutes,
        seeds.len() as f64 / minutes
    ));
    s.push_str(&slices_line(rows, &seeds));
    s.push_str(&coverage(rows, seeds.len()));
    // Failing seeds grouped by invariant, then design, in `hunt`'s order and words.
    let mut by_check: BTreeMap<(&str, &str), Vec<u64>> = BTreeMap::new();
    for r in rows {
        for check in &r.broken {
            by_check
                .entry((check.as_str(), r.design.as_str()))
                .or_default()
                .push(r.seed);
        }
    }
    let failing: BTreeSet<u64> = by_check.values().flatten().copied().collect();
    if failing.is_empty() {
        s.push_str("every invariant held on every seed\n");
    } else {
        s.push_str(&format!(
            "{} of {} seeds broke an invariant:\n",
            failing.len(),
            seeds.len()
        ));
        s.push_str(&crate::hunt::failing_lines(&by_check));
        s.push_str(&format!(
            "each failing row holds its repro: SELECT repro FROM {TABLE} WHERE scenario_hash = \
             '{}' AND build = '{}' AND seed = N\n",
            hunt.scenario_hash, hunt.build
        ));
    }
    if !hunt.others.is_empty() {
        s.push_str(&format!(
            "the table also holds (choose with --scenario-hash and --build): {}\n",
            hunt.others.join("; ")
        ));
    }
    (s, !failing.is_empty())
}

/// The coverage lines, as `hunt` prints them: on how many seeds some design put each check to
/// the test, ran each of the shop's rarer paths (and how often in all), and met each kind of
/// fault.
fn coverage(rows: &[Seen], n_seeds: usize) -> String {
    #[derive(Default)]
    struct PerSeed<'a> {
        exercised: BTreeSet<&'a str>,
        paths: BTreeMap<&'a str, i64>,
        faults: BTreeSet<&'a str>,
    }
    let mut per_seed: BTreeMap<u64, PerSeed> = BTreeMap::new();
    for r in rows {
        let seed = per_seed.entry(r.seed).or_default();
        seed.exercised
            .extend(r.exercised.iter().map(String::as_str));
        for (name, n) in r.path_names.iter().zip(&r.path_counts) {
            *seed.paths.entry(name.as_str()).or_default() += n;
        }
        seed.faults.extend(r.faults.iter().map(String::as_str));
    }
    let seeds = n_seeds.max(1);
    let pct = |n: usize| n as f64 * 100.0 / seeds as f64;
    let mut s = String::from("coverage (seeds that put each check to the test):\n");
    for name in scalelab_sim::judge::check::CHECKS {
        let n = per_seed
            .values()
            .filter(|p| p.exercised.contains(name))
            .count();
        let flag = if n == 0 { "  never exercised" } else { "" };
        s.push_str(&format!(
            "  {name:<24} {n:>5} of {seeds} ({:.0}%){flag}\n",
            pct(n)
        ));
    }
    s.push_str("paths (seeds on which some design ran each; times in all):\n");
    let names: BTreeSet<&str> = per_seed
        .values()
        .flat_map(|p| p.paths.keys().copied())
        .collect();
    for name in names {
        let n = per_seed
            .values()
            .filter(|p| p.paths.get(name).is_some_and(|&c| c > 0))
            .count();
        let total: i64 = per_seed.values().filter_map(|p| p.paths.get(name)).sum();
        let flag = if n == 0 { "  never ran" } else { "" };
        s.push_str(&format!(
            "  {name:<42} {n:>5} of {seeds} ({:.0}%) {total:>8} times{flag}\n",
            pct(n)
        ));
    }
    s.push_str("faults (seeds on which some design met each kind):\n");
    for kind in FaultKind::ALL {
        let n = per_seed
            .values()
            .filter(|p| p.faults.contains(kind.name()))
            .count();
        let flag = if n == 0 { "  never" } else { "" };
        s.push_str(&format!(
            "  {:<24} {n:>5} of {seeds} ({:.0}%){flag}\n",
            kind.name(),
            pct(n)
        ));
    }
    s
}

/// Which slices recorded seeds, and which seeds of the ranges they were cut from are missing
/// (a slice still running, or one that failed and was not run again).
fn slices_line(rows: &[Seen], seeds: &BTreeSet<u64>) -> String {
    let mut slices: BTreeMap<(u64, u64, u64, u64), BTreeSet<u64>> = BTreeMap::new();
    for r in rows {
        slices
            .entry((r.whole.start, r.whole.end, r.shard.count, r.shard.index))
            .or_default()
            .insert(r.seed);
    }
    let ranges: BTreeSet<(u64, u64)> = slices.keys().map(|k| (k.0, k.1)).collect();
    let mut s = String::new();
    for (start, end) in ranges {
        let mine: Vec<String> = slices
            .iter()
            .filter(|(k, _)| (k.0, k.1) == (start, end))
            .map(|(k, v)| format!("{}/{} ({})", k.3, k.2, v.len()))
            .collect();
        let missing: Vec<u64> = (start..end).filter(|x| !seeds.contains(x)).collect();
        let gap = if missing.is_empty() {
            "none missing".to_owned()
        } else {
            let shown: Vec<String> = missing.iter().take(12).map(u64::to_string).collect();
            format!(
                "{} missing: {}{}",
                missing.len(),
                shown.join(", "),
                if missing.len() > 12 { ", ..." } else { "" }
            )
        };
        s.push_str(&format!(
            "seeds {start}..{end}: slices (seeds recorded) {} · {gap}\n",
            mine.join(", ")
        ));
    }
    s
}
