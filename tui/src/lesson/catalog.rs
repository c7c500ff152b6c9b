//! The course as data: one exercise definition per lesson (`lessons/exercises/NN.toml`) and
//! the scenarios they run (`lessons/scenarios/*.toml`), embedded in the binary so that
//! `scalelab lesson` works from any directory and cannot be graded against an edited copy.
//!
//! Owns the exercise format: the lesson's title and page, its base scenario, designs and
//! seeds (public and held back), the knobs and answer fields a student may set, the
//! predictions asked for, the targets (a figure, a comparison, a threshold, a pointer) and the
//! ladder of hints. Must not: run anything or print; `grade` does that.

use std::collections::BTreeSet;

use serde::Deserialize;

/// The exercise definitions, in lesson order.
const EXERCISES: [&str; 10] = [
    include_str!("../../../lessons/exercises/01.toml"),
    include_str!("../../../lessons/exercises/02.toml"),
    include_str!("../../../lessons/exercises/03.toml"),
    include_str!("../../../lessons/exercises/04.toml"),
    include_str!("../../../lessons/exercises/05.toml"),
    include_str!("../../../lessons/exercises/06.toml"),
    include_str!("../../../lessons/exercises/07.toml"),
    include_str!("../../../lessons/exercises/08.toml"),
    include_str!("../../../lessons/exercises/09.toml"),
    include_str!("../../../lessons/exercises/10.toml"),
];

/// The lessons' scenarios, by file name under `lessons/scenarios/`.
pub const SCENARIOS: [(&str, &str); 10] = [
    (
        "01-flash-sale.toml",
        include_str!("../../../lessons/scenarios/01-flash-sale.toml"),
    ),
    (
        "02-dead-replica.toml",
        include_str!("../../../lessons/scenarios/02-dead-replica.toml"),
    ),
    (
        "03-spike.toml",
        include_str!("../../../lessons/scenarios/03-spike.toml"),
    ),
    (
        "04-order-rush.toml",
        include_str!("../../../lessons/scenarios/04-order-rush.toml"),
    ),
    (
        "05-outages.toml",
        include_str!("../../../lessons/scenarios/05-outages.toml"),
    ),
    (
        "06-celebrity.toml",
        include_str!("../../../lessons/scenarios/06-celebrity.toml"),
    ),
    (
        "07-resharding.toml",
        include_str!("../../../lessons/scenarios/07-resharding.toml"),
    ),
    (
        "08-load-test.toml",
        include_str!("../../../lessons/scenarios/08-load-test.toml"),
    ),
    (
        "09-swarm.toml",
        include_str!("../../../lessons/scenarios/09-swarm.toml"),
    ),
    (
        "10-shard-key.toml",
        include_str!("../../../lessons/scenarios/10-shard-key.toml"),
    ),
];

/// One lesson's graded exercise.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    pub lesson: u8,
    pub title: String,
    /// The lesson's Markdown page, from the repository's root.
    pub page: String,
    /// The base scenario, a file name under `lessons/scenarios/`.
    pub scenario: String,
    /// What to do, in a few lines: the answer file's header.
    pub task: String,
    /// The designs every seed runs, unless an answer field picks one (`design_field`).
    pub designs: Vec<String>,
    /// Seeds the lesson prints.
    pub seeds: Vec<u64>,
    /// Seeds the lesson does not print, so that an answer tuned to the public seeds alone
    /// does not pass; output names them only as "a held-back seed".
    #[serde(default)]
    pub held_back: Vec<u64>,
    /// A code exercise: the student's code is what is graded.
    #[serde(default)]
    pub code: Option<CodeExercise>,
    /// Scenario keys the answer may set.
    #[serde(default)]
    pub knobs: Vec<Knob>,
    /// Answers that are not scenario keys (a seed, a cause, a design), in `[answer]`.
    #[serde(default)]
    pub fields: Vec<Knob>,
    /// An answer field naming the design to run instead of `designs`.
    #[serde(default)]
    pub design_field: Option<String>,
    /// An answer field naming one more seed to run (the one the student found).
    #[serde(default)]
    pub seed_field: Option<String>,
    #[serde(default)]
    pub predictions: Vec<Prediction>,
    pub targets: Vec<Target>,
    /// From a nudge to nearly the answer.
    pub hints: Vec<String>,
}

/// Which code a code exercise grades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodeExercise {
    /// `system/src/exercises/worker.rs` (lesson 5).
    Worker,
    /// `system/src/exercises/shard_key.rs` (lesson 10).
    ShardKey,
}

impl CodeExercise {
    pub fn file(self) -> &'static str {
        match self {
            CodeExercise::Worker => "system/src/exercises/worker.rs",
            CodeExercise::ShardKey => "system/src/exercises/shard_key.rs",
        }
    }
}

/// A value the student may set, with its type and bounds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Knob {
    /// Dotted, as in the scenario: `vertical.host.cores`.
    pub key: String,
    /// One line for the answer file.
    pub doc: String,
    pub kind: KnobKind,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub choices: Vec<String>,
    /// The starting value of a field (knobs start at the scenario's value).
    #[serde(default)]
    pub start: Option<toml::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KnobKind {
    Integer,
    Number,
    Choice,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prediction {
    pub key: String,
    pub question: String,
    /// The target beside whose figure the prediction is printed.
    pub beside: String,
}

/// A figure, a comparison and a threshold, and what to look at when it is missed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub id: String,
    pub label: String,
    /// What is measured: see `Figure::parse`.
    pub figure: String,
    /// The design whose reports the figure reads (default: every design run).
    #[serde(default)]
    pub design: Option<String>,
    /// How the seeds' figures combine into one.
    #[serde(default)]
    pub over: Option<Over>,
    pub cmp: Cmp,
    pub value: toml::Value,
    pub unit: Unit,
    pub pointer: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Over {
    /// The lowest over the seeds (and its seed).
    Min,
    /// The highest over the seeds (and its seed).
    Max,
    Mean,
    Sum,
    /// A yes/no figure that must be yes on every seed (the first seed where it is not).
    Every,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Cmp {
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "<")]
    Lt,
}

impl Cmp {
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Ge => ">=",
            Cmp::Le => "<=",
            Cmp::Eq => "=",
            Cmp::Gt => ">",
            Cmp::Lt => "<",
        }
    }
}

/// How a figure is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    /// A share, shown as a percentage: 0.9938 -> 99.38%.
    Percent,
    Ms,
    Seconds,
    Count,
    /// Times the mean: 1.23x.
    Ratio,
    ReplicaMinutes,
    CoreMinutes,
    Cores,
    /// Yes/no, shown as held/violated.
    Held,
    /// Yes/no, shown as yes/no.
    YesNo,
    Text,
}

/// What a target measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Figure {
    /// From each run's report.
    Run(RunFigure),
    /// The value the answer gave a knob (or the scenario's, if it gave none).
    Knob(String),
    /// An answer field, as written.
    Field(String),
    /// Share of customers whose shard changes when one shard is added (pure computation
    /// over the scenario's customers with the answer's placement).
    MovedShare,
    /// The fullest shard's customers over the mean (pure computation).
    CustomerBalance,
    /// Customers placed on a shard that does not exist (pure computation).
    OutOfRange,
    /// The seed in `seed_field` violates a check on the lesson's starting configuration.
    BaseFails,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunFigure {
    Availability,
    WorstWindow,
    P99,
    Orders,
    EmailsSent,
    ReplicaMinutes,
    /// App cores taking traffic, integrated over the run: what the app tier costs, whether
    /// it is one big host or many small ones.
    CoreMinutes,
    ReplicasMax,
    QueueLagMax,
    /// When the queue lag was last above this many orders, in virtual seconds (the end of
    /// that window; infinite if it still was at the end of the arrivals). A few orders are
    /// always in flight, so "cleared" means "back under a small number", not zero.
    LagClearedAt(u64),
    CartsLost,
    /// No checker found a violation.
    ChecksHeld,
    /// One checker held (or does not apply to the design).
    Check(String),
    /// How many violations one checker found.
    Violations(String),
    /// The busiest database shard's mean CPU over the mean of all shards.
    ShardCpuRatio,
    /// The busiest shard's CPU in its busiest second.
    DbCpuPeak,
    /// Database cores over all shards (cores per server x servers).
    DbCoresTotal,
    SessionsStarted,
    /// Requests answered within the SLO per virtual second.
    Throughput,
}

impl Figure {
    pub fn parse(s: &str) -> Option<Figure> {
        if let Some(k) = s.strip_prefix("knob:") {
            return Some(Figure::Knob(k.to_owned()));
        }
        if let Some(k) = s.strip_prefix("field:") {
            return Some(Figure::Field(k.to_owned()));
        }
        if let Some(c) = s.strip_prefix("check:") {
            return Some(Figure::Run(RunFigure::Check(c.to_owned())));
        }
        if let Some(n) = s.strip_prefix("lag_cleared_at_s:") {
            return n
                .parse()
                .ok()
                .map(|n| Figure::Run(RunFigure::LagClearedAt(n)));
        }
        if let Some(c) = s.strip_prefix("violations:") {
            return Some(Figure::Run(RunFigure::Violations(c.to_owned())));
        }
        Some(match s {
            "moved_share" => Figure::MovedShare,
            "customer_balance" => Figure::CustomerBalance,
            "out_of_range" => Figure::OutOfRange,
            "base_fails" => Figure::BaseFails,
            other => Figure::Run(match other {
                "availability" => RunFigure::Availability,
                "worst_window" => RunFigure::WorstWindow,
                "p99_ms" => RunFigure::P99,
                "orders" => RunFigure::Orders,
                "emails_sent" => RunFigure::EmailsSent,
                "replica_minutes" => RunFigure::ReplicaMinutes,
                "core_minutes" => RunFigure::CoreMinutes,
                "replicas_max" => RunFigure::ReplicasMax,
                "queue_lag_max" => RunFigure::QueueLagMax,
                "carts_lost" => RunFigure::CartsLost,
                "checks_held" => RunFigure::ChecksHeld,
                "shard_cpu_ratio" => RunFigure::ShardCpuRatio,
                "db_cpu_peak" => RunFigure::DbCpuPeak,
                "db_cores_total" => RunFigure::DbCoresTotal,
                "sessions_started" => RunFigure::SessionsStarted,
                "throughput" => RunFigure::Throughput,
                _ => return None,
            }),
        })
    }
}

/// Every exercise, in lesson order, each checked with [`Exercise::validate`].
pub fn all() -> Result<Vec<Exercise>, String> {
    EXERCISES
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let e = toml::from_str::<Exercise>(text)
                .map_err(|e| format!("lessons/exercises/{:02}.toml: {}", i + 1, e.message()))?;
            e.validate()?;
            Ok(e)
        })
        .collect()
}

/// The embedded text of a lesson scenario.
pub fn scenario_text(name: &str) -> Option<&'static str> {
    SCENARIOS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, text)| text)
}

impl Exercise {
    /// `answers/NN.toml`.
    pub fn answer_path(&self) -> String {
        format!("answers/{:02}.toml", self.lesson)
    }

    /// The figures of its targets, parsed; an error names what is wrong (a bug in the
    /// course's data, caught by the tests).
    pub fn figures(&self) -> Result<Vec<Figure>, String> {
        self.targets
            .iter()
            .map(|t| {
                Figure::parse(&t.figure).ok_or_else(|| {
                    format!(
                        "lesson {}: target `{}` measures an unknown figure `{}`",
                        self.lesson, t.id, t.figure
                    )
                })
            })
            .collect()
    }

    /// Checks that the definition hangs together: figures exist, predictions sit beside real
    /// targets, knobs and fields are unique, at least three hints.
    pub fn validate(&self) -> Result<(), String> {
        let here = |m: String| format!("lesson {}: {m}", self.lesson);
        self.figures()?;
        let ids: BTreeSet<&str> = self.targets.iter().map(|t| t.id.as_str()).collect();
        if ids.len() != self.targets.len() {
            return Err(here("two targets share an id".into()));
        }
        for p in &self.predictions {
            if !ids.contains(p.beside.as_str()) {
                return Err(here(format!(
                    "prediction `{}` sits beside an unknown target `{}`",
                    p.key, p.beside
                )));
            }
        }
        let keys: BTreeSet<&str> = self
            .knobs
            .iter()
            .chain(&self.fields)
            .map(|k| k.key.as_str())
            .collect();
        if keys.len() != self.knobs.len() + self.fields.len() {
            return Err(here("two knobs or fields share a key".into()));
        }
        for k in self.knobs.iter().chain(&self.fields) {
            if k.kind == KnobKind::Choice && k.choices.is_empty() {
                return Err(here(format!("`{}` is a choice without choices", k.key)));
            }
        }
        // The answer template writes knobs under their `[section]` headers after
        // `[predict]`, so each knob needs a section, and a section's knobs must be together.
        let mut sections: Vec<&str> = Vec::new();
        for k in &self.knobs {
            let Some((section, _)) = k.key.rsplit_once('.') else {
                return Err(here(format!("knob `{}` has no section", k.key)));
            };
            if sections.last() != Some(&section) {
                if sections.contains(&section) {
                    return Err(here(format!("the knobs of [{section}] are not together")));
                }
                sections.push(section);
            }
        }
        for f in [&self.design_field, &self.seed_field].into_iter().flatten() {
            if !self.fields.iter().any(|k| &k.key == f) {
                return Err(here(format!("`{f}` is not one of the answer fields")));
            }
        }
        if self.hints.len() < 3 {
            return Err(here("fewer than three hints".into()));
        }
        if self.seeds.is_empty() {
            return Err(here("no public seeds".into()));
        }
        if scenario_text(&self.scenario).is_none() {
            return Err(here(format!("no embedded scenario `{}`", self.scenario)));
        }
        Ok(())
    }
}
