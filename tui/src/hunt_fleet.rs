//! Hunting on many machines: `hunt --shard I/N` (which slice of the seed range this process
//! runs) and `hunt --results postgres://...` (each seed's outcome in a PostgreSQL table, so
//! that slices run anywhere add up to one hunt; `hunt_report` reads it back).
//!
//! Owns the slice arithmetic, the results table (its schema and its key), the thread that
//! writes it, the database URL's checks and redaction, and what identifies a build. Must not: run or judge seeds (`hunt`
//! does, through `scalelab_sim`), or touch the database from inside a simulation: madsim
//! refuses new system threads there and answers the clock and randomness from the run's seed.
//! So the writer is a thread of its own with a real tokio runtime (current-thread), started
//! from the main thread before any seed runs; the hunt's workers hand it finished outcomes
//! through a channel and never wait for it. The batch engine that fans slices out (a
//! Kubernetes Indexed Job, `deploy/hunt-job.yaml`) is not ours: a slice is a plain process.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use real_tokio::sync::mpsc;
use scalelab_sim::faults::inject::Event;
use scalelab_sim::Report;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection as _};

use crate::repro;

/// The table every slice writes to.
pub const TABLE: &str = "scalelab_hunt_results";

/// How long the database gets to answer when a hunt or a report starts (a URL that reaches
/// the wrong kind of service, or a host that drops packets, would otherwise hang).
pub const CONNECT_LIMIT: Duration = Duration::from_secs(5);

/// How long one seed's rows get to be written, per attempt.
const WRITE_LIMIT: Duration = Duration::from_secs(15);

/// Attempts at one seed's rows before the hunt gives up on the database.
const WRITE_ATTEMPTS: u32 = 3;

/// The I-th (from 0) of N contiguous slices of a seed range: slice i is
/// `A + floor(len*i/N) .. A + floor(len*(i+1)/N)`, so the slices cover the range once,
/// in order, and differ in length by at most one seed. Counting from 0 lets a Kubernetes
/// Indexed Job pass `JOB_COMPLETION_INDEX` as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole range: what a hunt without `--shard` runs.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N`, 0 <= I < N.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| {
            format!("expected a slice as I/N (the I-th of N, counting from 0, e.g. 0/4), got '{s}'")
        })?;
        let index: u64 = i
            .trim()
            .parse()
            .map_err(|_| format!("'{i}' is not a slice number (a whole number from 0)"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("'{n}' is not a number of slices (a whole number from 1)"))?;
        if count == 0 {
            return Err("a seed range cannot be cut into 0 slices".to_owned());
        }
        if index >= count {
            return Err(format!(
                "there is no slice {index} of {count}: slices count from 0 to {} \
                 (as JOB_COMPLETION_INDEX does)",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// This slice's seeds of `seeds`.
    pub fn slice(&self, seeds: &Range<u64>) -> Range<u64> {
        let len = u128::from(seeds.end.saturating_sub(seeds.start));
        // len * i / N <= len, so the sum stays within the range and within u64.
        let at = |i: u64| seeds.start + (len * u128::from(i) / u128::from(self.count)) as u64;
        at(self.index)..at(self.index + 1)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// How a hunt names the seeds it runs: `seeds 25..50, slice 1/4 of 0..100`.
pub fn seeds_label(shard: Shard, whole: &Range<u64>) -> String {
    let mine = shard.slice(whole);
    if shard == Shard::WHOLE {
        format!("seeds {}..{}", mine.start, mine.end)
    } else {
        format!(
            "seeds {}..{}, slice {shard} of {}..{}",
            mine.start, mine.end, whole.start, whole.end
        )
    }
}

/// What a hunt was asked to do beyond its own machine: its slice, and where to record.
pub struct Fleet {
    pub shard: Shard,
    /// A PostgreSQL URL (`--results`, or `SCALELAB_RESULTS_URL`).
    pub results: Option<String>,
}

/// What every row of one hunt shares.
pub struct Hunted<'a> {
    pub scenario_name: &'a str,
    pub scenario_text: &'a str,
    pub scenario_path: &'a str,
    pub whole: Range<u64>,
    pub shard: Shard,
}

/// One (seed, design) outcome, as the table holds it.
struct Row {
    seed: i64,
    design: String,
    broken: Vec<String>,
    exercised: Vec<String>,
    /// The shop's rarer paths and how often they ran (`Report::paths`), as two arrays.
    path_names: Vec<String>,
    path_counts: Vec<i64>,
    /// The kinds of fault that began in this design (applicable ones only).
    faults: Vec<String>,
    trace_hash: String,
    started_ms: i64,
    finished_ms: i64,
    repro: Option<String>,
}

/// The results table of a hunt, or nothing when the hunt was given no `--results`.
pub struct Results(Option<Writer>);

struct Writer {
    tx: mpsc::UnboundedSender<Vec<Row>>,
    /// Set by the writer thread when it has given up on the database.
    failed: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Result<Written, String>>,
    target: String,
    /// `scenario hash H, build B`: what `hunt report` can be asked for.
    key: String,
    /// The scenario text and path, for the repro of a broken design.
    scenario_text: String,
    scenario_path: String,
}

/// What the writer did: new rows, and rows already there (a rerun, or a retried slice).
#[derive(Default)]
struct Written {
    new: u64,
    already: u64,
}

/// What every row of one hunt carries besides its outcome.
struct Fixed {
    scenario_hash: String,
    build: String,
    scenario: String,
    shard: Shard,
    whole: Range<u64>,
}

impl Results {
    /// Connects to the database and makes sure the table exists, before any seed runs: a
    /// URL that is wrong, a database that is down or does not answer in `CONNECT_LIMIT` is an
    /// error here (bad input), never a panic or a hang half way through a hunt.
    pub fn open(fleet: &Fleet, hunted: &Hunted) -> Result<Results, String> {
        let Some(url) = &fleet.results else {
            return Ok(Results(None));
        };
        if hunted.whole.end > i64::MAX as u64 {
            return Err(format!(
                "--results records seeds up to {}; the range ends at {}",
                i64::MAX,
                hunted.whole.end
            ));
        }
        let (options, target) = options(url)?;
        let fixed = Fixed {
            scenario_hash: scenario_hash(hunted.scenario_text),
            build: build_id()?,
            scenario: hunted.scenario_name.to_owned(),
            shard: hunted.shard,
            whole: hunted.whole.clone(),
        };
        let key = format!(
            "scenario hash {}, build {}",
            fixed.scenario_hash, fixed.build
        );
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let failed = Arc::new(AtomicBool::new(false));
        let flag = failed.clone();
        let thread = std::thread::Builder::new()
            .name("hunt-results".to_owned())
            .spawn(move || write_all(options, fixed, rx, ready_tx, flag))
            .map_err(|e| format!("cannot start the thread that writes results: {e}"))?;
        // The thread answers within CONNECT_LIMIT; the extra second covers starting it.
        match ready_rx.recv_timeout(CONNECT_LIMIT + Duration::from_secs(1)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("the results database {target}: {e}")),
            Err(_) => {
                return Err(format!(
                    "the results database {target} did not answer in {} s",
                    CONNECT_LIMIT.as_secs()
                ))
            }
        }
        Ok(Results(Some(Writer {
            tx,
            failed,
            thread,
            target,
            key,
            scenario_text: hunted.scenario_text.to_owned(),
            scenario_path: hunted.scenario_path.to_owned(),
        })))
    }

    /// Where the rows go (the URL without its password), if anywhere.
    pub fn target(&self) -> Option<&str> {
        self.0.as_ref().map(|w| w.target.as_str())
    }

    /// Hands one seed's outcome (one row per design) to the writer, which writes it at once,
    /// so that a slice killed half way keeps every seed it finished.
    pub fn record(&self, seed: u64, started: SystemTime, reports: &[Report]) {
        let Some(w) = &self.0 else {
            return;
        };
        let finished_ms = unix_ms(SystemTime::now());
        let rows = reports
            .iter()
            .map(|r| {
                let broken: Vec<String> = r
                    .checks
                    .iter()
                    .filter(|c| c.failed())
                    .map(|c| c.name.to_owned())
                    .collect();
                let repro = (!broken.is_empty()).then(|| {
                    repro::render(&w.scenario_text, &w.scenario_path, std::slice::from_ref(r))
                });
                let mut faults: Vec<&str> = r
                    .faults
                    .iter()
                    .filter(|a| a.applicable)
                    .filter_map(|a| match &a.event {
                        Event::Began { fault, .. } => Some(fault.kind().name()),
                        _ => None,
                    })
                    .collect();
                faults.sort_unstable();
                faults.dedup();
                Row {
                    // `open` refused ranges past i64::MAX.
                    seed: seed as i64,
                    design: r.design.to_owned(),
                    exercised: r
                        .checks
                        .iter()
                        .filter(|c| c.exercised)
                        .map(|c| c.name.to_owned())
                        .collect(),
                    broken,
                    path_names: r.paths.iter().map(|(n, _)| (*n).to_owned()).collect(),
                    path_counts: r.paths.iter().map(|&(_, c)| c as i64).collect(),
                    faults: faults.into_iter().map(str::to_owned).collect(),
                    trace_hash: r.trace_hash.clone(),
                    started_ms: unix_ms(started),
                    finished_ms,
                    repro,
                }
            })
            .collect();
        // A send fails only once the writer has stopped, which `stopped` reports.
        let _ = w.tx.send(rows);
    }

    /// The writer gave up on the database: running more seeds would record nothing.
    pub fn stopped(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|w| w.failed.load(Ordering::Relaxed))
    }

    /// Waits for every row handed over to be written; says what was written, or why not.
    pub fn finish(self) -> Result<Option<String>, String> {
        let Some(w) = self.0 else {
            return Ok(None);
        };
        drop(w.tx);
        let written = w
            .thread
            .join()
            .map_err(|_| "the thread that writes results panicked".to_owned())??;
        Ok(Some(format!(
            "recorded in {} (table {TABLE}; {}): {} new row(s), {} already there",
            w.target, w.key, written.new, written.already
        )))
    }
}

/// The connection options for `url`, and the URL as it may be shown (without its password).
pub fn options(url: &str) -> Result<(PgConnectOptions, String), String> {
    let parsed = url::Url::parse(url).map_err(|e| {
        format!(
            "--results: '{}' is not a URL ({e}); expected postgres://user@host:port/database",
            redact_text(url)
        )
    })?;
    let target = redact(&parsed);
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(format!(
            "--results: {target} is not a PostgreSQL URL; expected postgres://user@host:port/database"
        ));
    }
    let options = PgConnectOptions::from_url(&parsed)
        .map_err(|e| format!("--results: {target}: {e}"))?
        .application_name("scalelab hunt");
    Ok((options, target))
}

/// A URL as it may be printed: without its password.
fn redact(url: &url::Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() && shown.set_password(Some("***")).is_err() {
        return "(a URL)".to_owned();
    }
    shown.to_string()
}

/// A string that is not even a URL, as it may be printed: anything between `:` and `@` after
/// the scheme could be a password.
fn redact_text(s: &str) -> String {
    match (s.find("://"), s.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user_info = &s[scheme + 3..at];
            match user_info.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &s[..scheme + 3], &s[at..]),
                None => s.to_owned(),
            }
        }
        _ => s.to_owned(),
    }
}

/// The scenario's identity in the table: xxh3 of its file's text, as 16 hex digits.
pub fn scenario_hash(text: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

/// What identifies this build in the table: the crate's version, the git commit if the build
/// was given one (`SCALELAB_GIT_COMMIT` at build time, as `deploy/Containerfile` does), and
/// xxh3 of the binary itself. The binary's hash is the part that makes the key right: two
/// builds of one commit with local edits differ, and one image run on a thousand machines
/// is one build. (A commit alone would be stale or missing in a local build; a build script
/// asking git would rebuild on every commit and still miss uncommitted edits.)
pub fn build_id() -> Result<String, String> {
    let exe = std::env::current_exe()
        .and_then(std::fs::read)
        .map_err(|e| format!("cannot read this program's binary to identify the build: {e}"))?;
    let binary = xxhash_rust::xxh3::xxh3_64(&exe);
    Ok(
        match option_env!("SCALELAB_GIT_COMMIT").filter(|c| !c.is_empty()) {
            Some(commit) => format!("{}+{commit}.{binary:016x}", env!("CARGO_PKG_VERSION")),
            None => format!("{}+{binary:016x}", env!("CARGO_PKG_VERSION")),
        },
    )
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A real tokio runtime on the current thread, for the database only.
pub fn runtime() -> Result<real_tokio::runtime::Runtime, String> {
    real_tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime for the database client: {e}"))
}

/// One connection, within `CONNECT_LIMIT`. A single connection rather than a pool: one
/// writer per process needs no more, and a pool turns "connection refused" into "pool timed
/// out" after its whole timeout.
pub async fn connect(options: &PgConnectOptions) -> Result<PgConnection, String> {
    match real_tokio::time::timeout(CONNECT_LIMIT, PgConnection::connect_with(options)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer in {} s", CONNECT_LIMIT.as_secs())),
    }
}

/// Creates the table if it is missing. Slices start at once, and PostgreSQL's `CREATE TABLE
/// IF NOT EXISTS` can fail when two sessions race through it, so the creation holds an
/// advisory lock of the transaction.
async fn create_table(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(7201620020)")
        .execute(&mut *tx)
        .await?;
    // The key is what makes a rerun or a retried slice harmless: one row per scenario text,
    // build, seed and design. The same build on the same seed gives the same outcome (the
    // runs are deterministic), so the first row written stands.
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (
            scenario_hash text NOT NULL,
            build text NOT NULL,
            seed bigint NOT NULL,
            design text NOT NULL,
            scenario text NOT NULL,
            verdict text NOT NULL CHECK (verdict IN ('held', 'broken')),
            broken text[] NOT NULL,
            exercised text[] NOT NULL,
            path_names text[] NOT NULL,
            path_counts bigint[] NOT NULL,
            faults text[] NOT NULL,
            trace_hash text NOT NULL,
            seed_started_ms bigint NOT NULL,
            seed_finished_ms bigint NOT NULL,
            shard_index bigint NOT NULL,
            shard_count bigint NOT NULL,
            range_start bigint NOT NULL,
            range_end bigint NOT NULL,
            repro text,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (scenario_hash, build, seed, design)
        )"
    ))
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// One seed's rows in one transaction; a row already there is left as it is.
async fn insert(
    conn: &mut PgConnection,
    fixed: &Fixed,
    rows: &[Row],
) -> Result<Written, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let mut written = Written::default();
    for row in rows {
        let done = sqlx::query(&format!(
            "INSERT INTO {TABLE} (scenario_hash, build, seed, design, scenario, verdict, broken,
                exercised, path_names, path_counts, faults, trace_hash, seed_started_ms,
                seed_finished_ms, shard_index, shard_count, range_start, range_end, repro)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                $17, $18, $19)
             ON CONFLICT (scenario_hash, build, seed, design) DO NOTHING"
        ))
        .bind(&fixed.scenario_hash)
        .bind(&fixed.build)
        .bind(row.seed)
        .bind(&row.design)
        .bind(&fixed.scenario)
        .bind(if row.broken.is_empty() {
            "held"
        } else {
            "broken"
        })
        .bind(&row.broken)
        .bind(&row.exercised)
        .bind(&row.path_names)
        .bind(&row.path_counts)
        .bind(&row.faults)
        .bind(&row.trace_hash)
        .bind(row.started_ms)
        .bind(row.finished_ms)
        .bind(fixed.shard.index as i64)
        .bind(fixed.shard.count as i64)
        .bind(fixed.whole.start as i64)
        .bind(fixed.whole.end as i64)
        .bind(&row.repro)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            written.new += 1;
        } else {
            written.already += 1;
        }
    }
    tx.commit().await?;
    Ok(written)
}

/// The writer thread: connects and creates the table (answering on `ready`), then writes
/// each seed's rows as they come, retrying a failed write; after the last attempt it sets
/// `failed` and returns the error.
fn write_all(
    options: PgConnectOptions,
    fixed: Fixed,
    mut rx: mpsc::UnboundedReceiver<Vec<Row>>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
    failed: Arc<AtomicBool>,
) -> Result<Written, String> {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(e.clone()));
            return Err(e);
        }
    };
    rt.block_on(async move {
        let mut conn = match start(&options).await {
            Ok(conn) => {
                let _ = ready.send(Ok(()));
                Some(conn)
            }
            Err(e) => {
                let _ = ready.send(Err(e.clone()));
                return Err(e);
            }
        };
        let mut total = Written::default();
        while let Some(rows) = rx.recv().await {
            let mut attempt = 1;
            loop {
                match write_once(&mut conn, &options, &fixed, &rows).await {
                    Ok(w) => {
                        total.new += w.new;
                        total.already += w.already;
                        break;
                    }
                    Err(error) if attempt == WRITE_ATTEMPTS => {
                        failed.store(true, Ordering::Relaxed);
                        let seed = rows.first().map_or(0, |r| r.seed);
                        return Err(format!(
                            "could not record seed {seed} after {WRITE_ATTEMPTS} attempts: \
                             {error}; {} new row(s) were recorded before it (run the slice \
                             again: rows already there are kept)",
                            total.new
                        ));
                    }
                    Err(_) => {
                        real_tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
                        attempt += 1;
                    }
                }
            }
        }
        if let Some(conn) = conn {
            let _ = conn.close().await;
        }
        Ok(total)
    })
}

/// Connects and creates the table, each within `CONNECT_LIMIT`.
async fn start(options: &PgConnectOptions) -> Result<PgConnection, String> {
    let mut conn = connect(options).await?;
    match real_tokio::time::timeout(CONNECT_LIMIT, create_table(&mut conn)).await {
        Ok(Ok(())) => Ok(conn),
        Ok(Err(e)) => Err(format!("cannot create table {TABLE}: {e}")),
        Err(_) => Err(format!(
            "creating table {TABLE} took more than {} s",
            CONNECT_LIMIT.as_secs()
        )),
    }
}

/// One attempt at one seed's rows, within `WRITE_LIMIT`, connecting again first if the last
/// attempt lost the connection. A failed attempt drops the connection: its state is unknown.
async fn write_once(
    conn: &mut Option<PgConnection>,
    options: &PgConnectOptions,
    fixed: &Fixed,
    rows: &[Row],
) -> Result<Written, String> {
    let mut c = match conn.take() {
        Some(c) => c,
        None => connect(options).await?,
    };
    match real_tokio::time::timeout(WRITE_LIMIT, insert(&mut c, fixed, rows)).await {
        Ok(Ok(w)) => {
            *conn = Some(c);
            Ok(w)
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer in {} s", WRITE_LIMIT.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_is_in_exactly_one_slice() {
        for start in [0u64, 7, u64::MAX - 1000] {
            for len in 0..=60u64 {
                let whole = start..start + len;
                for count in 1..=17u64 {
                    let mut next = whole.start;
                    for index in 0..count {
                        let s = Shard { index, count }.slice(&whole);
                        assert_eq!(s.start, next, "slices are contiguous, in order");
                        assert!(s.end >= s.start);
                        let size = s.end - s.start;
                        assert!(
                            size == len / count || size == len / count + 1,
                            "{index}/{count} of {len}: {size} seeds"
                        );
                        next = s.end;
                    }
                    assert_eq!(next, whole.end, "{count} slices of {len} cover it");
                }
            }
        }
        // A range as long as u64 allows does not overflow.
        let all = 0..u64::MAX;
        assert_eq!(
            Shard { index: 1, count: 2 }.slice(&all),
            u64::MAX / 2..u64::MAX
        );
        assert_eq!(Shard::WHOLE.slice(&(5..9)), 5..9);
        assert_eq!(Shard { index: 2, count: 4 }.slice(&(0..100)), 50..75);
    }

    #[test]
    fn a_slice_is_i_of_n_counting_from_0() {
        assert_eq!(Shard::parse("0/4"), Ok(Shard { index: 0, count: 4 }));
        assert_eq!(Shard::parse(" 3 / 4 "), Ok(Shard { index: 3, count: 4 }));
        let no = |s: &str| Shard::parse(s).unwrap_err();
        assert!(no("4/4").contains("no slice 4 of 4: slices count from 0 to 3"));
        assert!(no("0/0").contains("0 slices"));
        assert!(no("2").contains("expected a slice as I/N"));
        assert!(no("a/4").contains("'a' is not a slice number"));
        assert!(no("1/-4").contains("'-4' is not a number of slices"));
        assert_eq!(
            seeds_label(Shard { index: 1, count: 4 }, &(0..100)),
            "seeds 25..50, slice 1/4 of 0..100"
        );
        assert_eq!(seeds_label(Shard::WHOLE, &(0..100)), "seeds 0..100");
    }

    /// The Kubernetes Job's command is one this build parses, its slices are the Job's
    /// completions, and its scenario ships in the image (deploy/Containerfile copies
    /// scenarios/). The manifest's schema is checked in tests/hunt_results.rs.
    #[test]
    fn the_job_manifest_runs_a_hunt_this_build_parses() {
        use clap::Parser;
        let manifest = include_str!("../../deploy/hunt-job.yaml");
        let field = |key: &str| -> u64 {
            manifest
                .lines()
                .find_map(|l| l.trim().strip_prefix(key))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("{key} in the manifest"))
        };
        let completions = field("completions:");
        assert!(field("parallelism:") <= completions);
        assert!(manifest.contains("completionMode: Indexed"));
        // The hunt's command: from its first line to the shell's `;`.
        let at = manifest
            .lines()
            .position(|l| l.trim().starts_with("scalelab hunt "))
            .expect("a scalelab hunt command");
        let lines: Vec<&str> = manifest.lines().skip(at).collect();
        let joined = lines.join(" ");
        let command = joined.split(';').next().unwrap_or_default();
        let index = "\"${JOB_COMPLETION_INDEX}/";
        assert!(
            command.contains(index),
            "the slice comes from JOB_COMPLETION_INDEX: {command}"
        );
        for i in [0, completions - 1] {
            let words: Vec<String> = command
                .replace(index, &format!("{i}/"))
                .split_whitespace()
                .map(|w| w.trim_matches('"').to_owned())
                .collect();
            let cli =
                crate::Cli::try_parse_from(&words).unwrap_or_else(|e| panic!("{command}: {e}"));
            let crate::Command::Hunt {
                shard: Some(shard),
                scenario: Some(scenario),
                ..
            } = cli.command
            else {
                panic!("not a sliced hunt: {command}");
            };
            assert_eq!(
                shard,
                Shard {
                    index: i,
                    count: completions
                }
            );
            let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(&scenario);
            assert!(shipped.exists(), "{} is in scenarios/", scenario.display());
        }
    }

    #[test]
    fn urls_are_shown_without_their_password() {
        let (_, shown) = options("postgres://hunter:s3cret@db.example:5432/hunts").expect("url");
        assert_eq!(shown, "postgres://hunter:***@db.example:5432/hunts");
        assert!(!options("mysql://a:s3cret@h/db")
            .unwrap_err()
            .contains("s3cret"));
        let e = options("postgres://a:s3cret@[bad/db").unwrap_err();
        assert!(!e.contains("s3cret") && e.contains("is not a URL"), "{e}");
    }
}
