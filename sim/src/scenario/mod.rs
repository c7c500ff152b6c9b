//! The scenario format: what a run simulates, as commented TOML read with serde.
//!
//! This module owns the schema and its rules: unknown keys are rejected, values are checked
//! where they are read (so that toml can point at their line and column), and the few rules
//! that span several fields are checked afterwards with the spans toml recorded. It must not
//! read files or print: the CLI does that, and renders [`ScenarioError`] with the file's text.

use std::fmt;
use std::num::NonZeroU32;
use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use toml::Spanned;

pub mod fault;
mod limits;
pub mod swarm;

pub use crate::numbers::{NonNegative, Positive, Probability};
pub use crate::service::Service;
use fault::TimedFault;
use swarm::{Swarm, Variation};

/// A problem in a scenario's text: where (byte range in the file) and what.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    pub span: Option<Range<usize>>,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Parses and checks a scenario. `text` is the whole file.
pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    let mut scenario: Scenario = toml::from_str(text).map_err(|e| ScenarioError {
        span: e.span(),
        message: e.message().trim().to_owned(),
    })?;
    scenario.network.resolve()?;
    scenario.check()?;
    Ok(scenario)
}

/// One scenario: the traffic, the costs, the designs' parameters, the SLO.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name; the CLI defaults it to the file name.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// What to watch, in a line: the live view shows it under the description when it
    /// starts, so a presenter's first screen says what the run will show.
    #[serde(default)]
    pub story: String,
    /// How long arrivals go on, in virtual seconds.
    pub duration_s: Spanned<Positive>,
    pub workload: Spanned<Workload>,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub slo: Slo,
    #[serde(default)]
    pub app: AppCosts,
    #[serde(default)]
    pub database: Database,
    #[serde(default)]
    pub mail: Mail,
    #[serde(default)]
    pub vertical: Vertical,
    #[serde(default)]
    pub horizontal: Horizontal,
    #[serde(default)]
    pub session_store: SessionStoreParams,
    #[serde(default)]
    pub queued: Queued,
    #[serde(default)]
    pub sharded: Sharded,
    #[serde(default)]
    pub metrics: Metrics,
    /// The fault timeline: `[[faults]]` tables, each applied at the first tick (metrics
    /// interval boundary) at or after its `at_s`.
    #[serde(default)]
    pub faults: Vec<Spanned<TimedFault>>,
    /// Random faults drawn from the seed, on top of the timeline.
    #[serde(default)]
    pub swarm: Option<Spanned<Swarm>>,
    #[serde(default)]
    pub checks: Checks,
}

/// What the checkers need to know about the scenario.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// After arrivals stop, how long the run goes on so that queued side work can finish
    /// before the checkers look (an order acknowledged at the end still gets its email).
    pub drain_s: Positive,
    /// After a broker outage ends, consumer lag must be back below its level before the
    /// outage within this many seconds.
    pub lag_recovery_s: Positive,
    /// Once every fault has healed, the shop must be back at its level before the first
    /// fault within this many seconds (the `recovers` check). Optional, as are the three
    /// tolerances below.
    #[serde(default = "recovery_s")]
    pub recovery_s: Positive,
    /// Back means orders per arriving session at least this share of the level before the
    /// first fault...
    #[serde(default = "recovery_orders")]
    pub recovery_orders: Probability,
    /// ...availability at most this much under it (0.02 = two points)...
    #[serde(default = "recovery_availability_drop")]
    pub recovery_availability_drop: Probability,
    /// ...and p99 at most this many times it.
    #[serde(default = "recovery_p99")]
    pub recovery_p99: Positive,
}

fn recovery_s() -> Positive {
    Positive(60.0)
}
fn recovery_orders() -> Probability {
    Probability(0.8)
}
fn recovery_availability_drop() -> Probability {
    Probability(0.02)
}
fn recovery_p99() -> Positive {
    Positive(1.5)
}

impl Default for Checks {
    fn default() -> Self {
        Checks {
            drain_s: Positive(120.0),
            lag_recovery_s: Positive(180.0),
            recovery_s: recovery_s(),
            recovery_orders: recovery_orders(),
            recovery_availability_drop: recovery_availability_drop(),
            recovery_p99: recovery_p99(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// Sessions arrive at a rate, whether or not the shop keeps up (real traffic).
    Open,
    /// A fixed number of users, each starting a new session after the last (JMeter style).
    Closed,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub model: Model,
    /// Open model: the arrival rate of new sessions over time (linear between points).
    #[serde(default)]
    pub curve: Vec<CurvePoint>,
    /// Closed model: how many users.
    #[serde(default)]
    #[serde(deserialize_with = "limits::users")]
    pub users: Option<NonZeroU32>,
    /// Mean pause between a user's requests.
    pub think_time_ms_mean: Positive,
    /// Mean of how long a user waits for a page before leaving.
    pub patience_ms_mean: Positive,
    /// Customers 1..=customers; who shops is drawn with Zipf skew `customer_skew`.
    #[serde(deserialize_with = "limits::customers")]
    pub customers: NonZeroU32,
    pub customer_skew: NonNegative,
    /// Products 1..=products; what they look at is drawn with Zipf skew `product_skew`.
    #[serde(deserialize_with = "limits::products")]
    pub products: NonZeroU32,
    pub product_skew: NonNegative,
    pub funnel: Funnel,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CurvePoint {
    pub at_s: Spanned<NonNegative>,
    #[serde(deserialize_with = "limits::rate")]
    pub sessions_per_s: NonNegative,
}

/// The browse -> cart -> checkout funnel: the chance of each step, given the one before.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Funnel {
    /// Mean number of product pages viewed after the first catalog page.
    pub product_views_mean: NonNegative,
    pub add_to_cart: Probability,
    pub second_item: Probability,
    pub remove_item: Probability,
    pub checkout: Probability,
    pub view_orders: Probability,
    /// The chance that a shopper who checks out clicks "buy" twice: two `POST /checkout` with
    /// the same cookie at the same instant, each on its own connection (so behind a balancer
    /// they may reach two replicas). The shop must take one order and answer the other with
    /// 409; the one-order-per-cart check holds it to that. Optional, 0 by default, so that
    /// scenarios written before it keep their trace hashes; drawn from its own seed stream
    /// (a swarm or a scenario may turn it on without moving any other draw).
    #[serde(default = "no_double_click")]
    pub double_click: Probability,
    /// The chance that a shopper who checks out has the shop open in a second tab, which
    /// sends a request of the same session while checkout runs: it adds a product to the
    /// cart, or reads the order history (half the time each). The two requests race in the
    /// shop; the checkers must judge what each tab was told, not a browser's single line of
    /// requests. Optional, 0 by default (scenarios written before it keep their trace
    /// hashes); drawn from its own seed stream, as `double_click` is.
    #[serde(default = "no_double_click")]
    pub second_tab: Probability,
}

fn no_double_click() -> Probability {
    Probability(0.0)
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// A named pair of latencies, in place of `latency_ms_min` and `latency_ms_max`.
    #[serde(default)]
    pub preset: Option<Spanned<NetPreset>>,
    /// One-way latency of each message, drawn uniformly from min..max (jitter), from 0.01 ms
    /// (10 us). Without them (and without a preset): the data-centre preset.
    #[serde(default = "unset_latency")]
    pub latency_ms_min: Spanned<NonNegative>,
    #[serde(default = "unset_latency")]
    pub latency_ms_max: Spanned<NonNegative>,
}

/// The named latency pairs a scenario may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetPreset {
    /// A hop between two machines in one data centre: 0.1-0.5 ms one way.
    DataCentre,
    /// Two processes on one machine (the real world's `serve` on loopback): 0.01-0.03 ms.
    Loopback,
}

impl NetPreset {
    /// (min, max) one-way latency in ms.
    pub fn latency_ms(self) -> (f64, f64) {
        match self {
            NetPreset::DataCentre => (0.1, 0.5),
            NetPreset::Loopback => (0.01, 0.03),
        }
    }
}

/// A latency the file did not give: an empty span says so (see `Network::resolve`).
fn unset_latency() -> Spanned<NonNegative> {
    Spanned::new(0..0, NonNegative(f64::NAN))
}

impl Network {
    /// Fills in the latencies from the preset (or the data-centre default) when the file gave
    /// none; a file that gives both a preset and a latency is refused, pointing at the latency.
    fn resolve(&mut self) -> Result<(), ScenarioError> {
        let given = |l: &Spanned<NonNegative>| l.span() != (0..0);
        let preset = match &self.preset {
            Some(p) => {
                for l in [&self.latency_ms_min, &self.latency_ms_max] {
                    if given(l) {
                        return Err(invalid(
                            l.span(),
                            "a network preset sets both latencies: remove this line, or the preset",
                        ));
                    }
                }
                *p.get_ref()
            }
            None => NetPreset::DataCentre,
        };
        let (min, max) = preset.latency_ms();
        if !given(&self.latency_ms_min) {
            self.latency_ms_min = Spanned::new(0..0, NonNegative(min));
        }
        if !given(&self.latency_ms_max) {
            let max = max.max(self.latency_ms_min.get_ref().0);
            self.latency_ms_max = Spanned::new(0..0, NonNegative(max));
        }
        Ok(())
    }
}

impl Default for Network {
    fn default() -> Self {
        let (min, max) = NetPreset::DataCentre.latency_ms();
        Network {
            preset: None,
            latency_ms_min: Spanned::new(0..0, NonNegative(min)),
            latency_ms_max: Spanned::new(0..0, NonNegative(max)),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// A request answered later than this counts as unavailable; clients give up then.
    pub timeout_ms: Positive,
}

impl Default for Slo {
    fn default() -> Self {
        Slo {
            timeout_ms: Positive(2000.0),
        }
    }
}

/// CPU time each kind of request costs on the app host, in milliseconds of one core.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppCosts {
    pub browse_cpu_ms: NonNegative,
    pub product_cpu_ms: NonNegative,
    pub login_cpu_ms: NonNegative,
    pub cart_cpu_ms: NonNegative,
    pub checkout_cpu_ms: NonNegative,
    pub orders_cpu_ms: NonNegative,
    /// How each request's CPU time varies around its kind's `*_cpu_ms` (the mean): `fixed`
    /// when absent (every request of a kind costs exactly its mean), `"exponential"`, or
    /// `{ dist = "lognormal", cv = 1.5 }`. Optional, so that older scenarios keep their
    /// trace hashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    /// One kind's own distribution, over `service` (e.g. `checkout_service`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browse_service: Option<Service>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_service: Option<Service>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_service: Option<Service>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_service: Option<Service>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_service: Option<Service>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders_service: Option<Service>,
    /// Idle sessions are forgotten after this long.
    pub session_ttl_s: Positive,
    /// Products on the catalog page.
    pub catalog_page_size: NonZeroU32,
}

impl Default for AppCosts {
    fn default() -> Self {
        AppCosts {
            browse_cpu_ms: NonNegative(4.0),
            product_cpu_ms: NonNegative(2.0),
            login_cpu_ms: NonNegative(1.0),
            cart_cpu_ms: NonNegative(1.5),
            checkout_cpu_ms: NonNegative(6.0),
            orders_cpu_ms: NonNegative(3.0),
            service: None,
            browse_service: None,
            product_service: None,
            login_service: None,
            cart_service: None,
            checkout_service: None,
            orders_service: None,
            session_ttl_s: Positive(1800.0),
            catalog_page_size: NonZeroU32::MIN.saturating_add(19),
        }
    }
}

/// A host's CPU: cores, and how much each added core loses to contention (serialised work)
/// and coherency (cross-core chatter) - the two terms of the Universal Scalability Law.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    #[serde(deserialize_with = "limits::cores")]
    pub cores: NonZeroU32,
    pub contention: Probability,
    pub coherency: Probability,
}

/// The PostgreSQL-like database server.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub host: Host,
    /// Server-side limit: queries beyond this many at once are refused.
    pub max_connections: NonZeroU32,
    /// Client-side pool per app process: queries wait here for a free connection.
    pub pool_size: NonZeroU32,
    pub pool_timeout_ms: Positive,
    pub statement_timeout_ms: Positive,
    /// CPU per read query, per written row, in ms of one core.
    pub read_cpu_ms: NonNegative,
    pub write_cpu_ms: NonNegative,
    /// Time to make a commit durable (WAL flush); row locks are held through it.
    pub commit_ms: NonNegative,
    /// How long a transaction waits for a locked inventory row before giving up.
    pub lock_timeout_ms: Positive,
    #[serde(deserialize_with = "limits::stock")]
    pub stock_per_product: u32,
    /// How each statement's read CPU, write CPU and commit vary around their means: `fixed`
    /// when absent, as in `[app]`. One draw per statement (a write of three rows is one draw
    /// of mean 3 x `write_cpu_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    /// Each one's own distribution, over `service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_service: Option<Service>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_service: Option<Service>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_service: Option<Service>,
}

impl Default for Database {
    fn default() -> Self {
        Database {
            host: Host {
                cores: NonZeroU32::MIN.saturating_add(7),
                contention: Probability(0.02),
                coherency: Probability(0.0002),
            },
            max_connections: NonZeroU32::MIN.saturating_add(199),
            pool_size: NonZeroU32::MIN.saturating_add(39),
            pool_timeout_ms: Positive(1000.0),
            statement_timeout_ms: Positive(5000.0),
            read_cpu_ms: NonNegative(0.6),
            write_cpu_ms: NonNegative(1.2),
            commit_ms: NonNegative(2.0),
            lock_timeout_ms: Positive(2000.0),
            stock_per_product: 1_000_000,
            service: None,
            read_service: None,
            write_service: None,
            commit_service: None,
        }
    }
}

/// The external mail provider.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Mail {
    pub latency_ms_mean: NonNegative,
    pub timeout_ms: Positive,
    /// How each send's latency varies around `latency_ms_mean`: `exponential` when absent
    /// (the provider's latency always was), or `"fixed"`, or a lognormal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
}

impl Default for Mail {
    fn default() -> Self {
        Mail {
            latency_ms_mean: NonNegative(120.0),
            timeout_ms: Positive(3000.0),
            service: None,
        }
    }
}

impl Mail {
    /// The distribution of a send's latency.
    pub fn service(&self) -> Service {
        self.service.unwrap_or(Service::Exponential)
    }
}

/// What a database statement spends its time on, each with its own distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbWork {
    Read,
    Write,
    Commit,
}

impl Database {
    /// The distribution of `work`: its own setting, else the section's, else `fixed`.
    pub fn service(&self, work: DbWork) -> Service {
        let own = match work {
            DbWork::Read => self.read_service,
            DbWork::Write => self.write_service,
            DbWork::Commit => self.commit_service,
        };
        Service::pick(&[own, self.service], Service::Fixed)
    }
}

/// The naive design: one big host running the whole monolith.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Vertical {
    pub host: Host,
    /// Requests waiting for a core beyond this are refused with 503 (a full accept queue).
    pub max_waiting_requests: NonZeroU32,
}

impl Default for Vertical {
    fn default() -> Self {
        Vertical {
            host: Host {
                cores: NonZeroU32::MIN.saturating_add(15),
                contention: Probability(0.03),
                coherency: Probability(0.0003),
            },
            max_waiting_requests: NonZeroU32::MIN.saturating_add(1999),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Balance {
    RoundRobin,
    LeastConnections,
}

/// The horizontal design: stateless replicas behind a load balancer, autoscaled like the
/// Kubernetes HPA.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Horizontal {
    /// Each replica's host.
    pub replica: Host,
    /// Per replica: requests waiting for a core beyond this get 503.
    pub max_waiting_requests: NonZeroU32,
    /// Database connections per replica (the database's `max_connections` is shared by all).
    pub db_pool_size: NonZeroU32,
    #[serde(deserialize_with = "limits::replicas")]
    pub min_replicas: NonZeroU32,
    pub max_replicas: Spanned<NonZeroU32>,
    /// The autoscaler's target mean CPU utilization of the replicas.
    pub target_cpu: Probability,
    /// No scaling while utilization/target is within 1 +/- this.
    pub tolerance: Probability,
    /// How often the autoscaler looks (Kubernetes: 15 s).
    pub sync_period_s: Positive,
    /// Scale up only as far as every recommendation of this window agrees (Kubernetes: 0).
    pub scale_up_window_s: NonNegative,
    /// Scale down only as far as the highest recommendation of this window (Kubernetes: 300).
    pub scale_down_window_s: NonNegative,
    /// From the decision to scale up until a new replica takes traffic (scheduling, image
    /// pull, start-up, readiness probe).
    pub startup_delay_s: NonNegative,
    pub balance: Balance,
    pub health_interval_ms: Positive,
    pub health_timeout_ms: Positive,
    pub unhealthy_after: NonZeroU32,
    pub healthy_after: NonZeroU32,
}

impl Default for Horizontal {
    fn default() -> Self {
        let n = |v: u32| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN);
        Horizontal {
            replica: Host {
                cores: n(2),
                contention: Probability(0.03),
                coherency: Probability(0.0003),
            },
            max_waiting_requests: n(200),
            db_pool_size: n(4),
            min_replicas: n(5),
            max_replicas: Spanned::new(0..0, n(50)),
            target_cpu: Probability(0.6),
            tolerance: Probability(0.1),
            sync_period_s: Positive(15.0),
            scale_up_window_s: NonNegative(0.0),
            scale_down_window_s: NonNegative(300.0),
            startup_delay_s: NonNegative(20.0),
            balance: Balance::LeastConnections,
            health_interval_ms: Positive(1000.0),
            health_timeout_ms: Positive(500.0),
            unhealthy_after: n(2),
            healthy_after: n(2),
        }
    }
}

/// The queued design: the horizontal one, plus a Kafka-like broker and worker services that
/// do the side work of checkout.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Queued {
    #[serde(deserialize_with = "limits::brokers")]
    pub brokers: NonZeroU32,
    #[serde(deserialize_with = "limits::partitions")]
    pub partitions: NonZeroU32,
    /// Copies of each partition (leader included); at most `brokers`.
    pub replication: Spanned<NonZeroU32>,
    /// Messages kept per partition.
    pub retention_messages: NonZeroU32,
    /// Worker services per kind of job.
    #[serde(deserialize_with = "limits::workers")]
    pub email_workers: NonZeroU32,
    #[serde(deserialize_with = "limits::workers")]
    pub stock_workers: NonZeroU32,
    #[serde(deserialize_with = "limits::workers")]
    pub label_workers: NonZeroU32,
    /// A worker not heard from for this long leaves its group (its partitions move).
    pub session_timeout_ms: Positive,
    pub heartbeat_ms: Positive,
    pub timeout_ms: Positive,
}

impl Default for Queued {
    fn default() -> Self {
        let n = |v: u32| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN);
        Queued {
            brokers: n(3),
            partitions: n(12),
            replication: Spanned::new(0..0, n(3)),
            retention_messages: n(1_000_000),
            email_workers: n(6),
            stock_workers: n(3),
            label_workers: n(3),
            session_timeout_ms: Positive(10_000.0),
            heartbeat_ms: Positive(1000.0),
            timeout_ms: Positive(2000.0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShardStrategy {
    Modulo,
    Hash,
    ConsistentHash,
}

/// The sharded design: the queued one, with the database split by customer into shards, each
/// a database server like `[database]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Sharded {
    #[serde(deserialize_with = "limits::shards")]
    pub shards: NonZeroU32,
    pub strategy: ShardStrategy,
    /// Points per shard on the hash ring (consistent-hash only).
    pub vnodes: NonZeroU32,
    /// How much cheaper each query is on a shard than on the one big database, because a
    /// shard's smaller data fits in memory (1 = no such effect).
    #[serde(default = "one")]
    pub working_set_speedup: Positive,
}

fn one() -> Positive {
    Positive(1.0)
}

impl Default for Sharded {
    fn default() -> Self {
        Sharded {
            shards: NonZeroU32::new(4).unwrap_or(NonZeroU32::MIN),
            strategy: ShardStrategy::ConsistentHash,
            vnodes: NonZeroU32::new(64).unwrap_or(NonZeroU32::MIN),
            working_set_speedup: Positive(1.0),
        }
    }
}

/// The Redis-like session store of the stateless designs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SessionStoreParams {
    /// CPU per command on its single core, in ms.
    pub command_cpu_ms: NonNegative,
    pub max_connections: NonZeroU32,
    /// Connections per replica.
    pub pool_size: NonZeroU32,
    pub timeout_ms: Positive,
}

impl Default for SessionStoreParams {
    fn default() -> Self {
        SessionStoreParams {
            command_cpu_ms: NonNegative(0.05),
            max_connections: NonZeroU32::new(10_000).unwrap_or(NonZeroU32::MIN),
            pool_size: NonZeroU32::new(16).unwrap_or(NonZeroU32::MIN),
            timeout_ms: Positive(500.0),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// The time series' interval, in virtual seconds.
    pub interval_s: Positive,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            interval_s: Positive(1.0),
        }
    }
}

fn invalid(span: Range<usize>, message: impl Into<String>) -> ScenarioError {
    ScenarioError {
        span: (span != (0..0)).then_some(span),
        message: message.into(),
    }
}

impl Scenario {
    /// The world `seed` runs in: this scenario, with the swarm's variations for the seed
    /// applied (scarce stock, a late mail provider), and what they were, for the event log.
    /// Without a swarm, or when the seed varies nothing, the scenario itself.
    pub fn for_seed(self: &Arc<Self>, seed: u64) -> (Arc<Scenario>, Vec<String>) {
        let Some(swarm) = &self.swarm else {
            return (self.clone(), Vec::new());
        };
        let v = swarm.get_ref().variation(seed, self.mail.timeout_ms.0);
        if v == Variation::default() {
            return (self.clone(), Vec::new());
        }
        let mut scn = Scenario::clone(self);
        let mut said = Vec::new();
        if let Some(stock) = v.stock_per_product {
            scn.database.stock_per_product = stock;
            said.push(format!(
                "swarm: scarce stock, {stock} unit(s) of each product"
            ));
        }
        if let Some(ms) = v.mail_latency_ms_mean {
            scn.mail.latency_ms_mean = NonNegative(ms);
            said.push(format!(
                "swarm: late mail, {ms:.0} ms on average (the shop waits {:.0} ms)",
                scn.mail.timeout_ms.0
            ));
        }
        (Arc::new(scn), said)
    }

    /// The rules that involve more than one value.
    fn check(&self) -> Result<(), ScenarioError> {
        if self.duration_s.get_ref().0 > limits::DURATION_S {
            return Err(invalid(
                self.duration_s.span(),
                format!(
                    "duration_s is {}, more than the limit of {} (one simulated day): the run's \
                     sessions, series and checks grow with its length, and a day is already \
                     hours of wall time",
                    self.duration_s.get_ref().0,
                    limits::DURATION_S
                ),
            ));
        }
        let w = self.workload.get_ref();
        match w.model {
            Model::Open if w.curve.is_empty() => {
                return Err(invalid(
                    self.workload.span(),
                    "an open workload needs a `curve` of arrival rates",
                ));
            }
            Model::Closed if w.users.is_none() => {
                return Err(invalid(
                    self.workload.span(),
                    "a closed workload needs `users`",
                ));
            }
            _ => {}
        }
        for pair in w.curve.windows(2) {
            if pair[1].at_s.get_ref().0 <= pair[0].at_s.get_ref().0 {
                return Err(invalid(
                    pair[1].at_s.span(),
                    format!(
                        "curve points must be in time order: {} s comes after {} s",
                        pair[1].at_s.get_ref().0,
                        pair[0].at_s.get_ref().0
                    ),
                ));
            }
        }
        let net = &self.network;
        if net.latency_ms_min.get_ref().0 < limits::LATENCY_MS_MIN {
            return Err(invalid(
                net.latency_ms_min.span(),
                format!(
                    "latency_ms_min is {}, but the simulator resolves hops from {} ms (10 us) up; a hop on loopback takes about that",
                    net.latency_ms_min.get_ref().0,
                    limits::LATENCY_MS_MIN
                ),
            ));
        }
        if net.latency_ms_max.get_ref().0 < net.latency_ms_min.get_ref().0 {
            return Err(invalid(
                net.latency_ms_max.span(),
                format!(
                    "latency_ms_max ({}) is below latency_ms_min ({})",
                    net.latency_ms_max.get_ref().0,
                    net.latency_ms_min.get_ref().0
                ),
            ));
        }
        let h = &self.horizontal;
        if *h.max_replicas.get_ref() < h.min_replicas || h.max_replicas.get_ref().get() > 5000 {
            return Err(invalid(
                h.max_replicas.span(),
                format!(
                    "max_replicas ({}) must be from min_replicas ({}) to 5000",
                    h.max_replicas.get_ref(),
                    h.min_replicas
                ),
            ));
        }
        let q = &self.queued;
        if *q.replication.get_ref() > q.brokers {
            return Err(invalid(
                q.replication.span(),
                format!(
                    "replication ({}) cannot exceed brokers ({})",
                    q.replication.get_ref(),
                    q.brokers
                ),
            ));
        }
        let shards = self.sharded.shards.get();
        let products = w.products.get();
        for f in &self.faults {
            let at_s = f.get_ref().at_s;
            if at_s >= self.duration_s() {
                return Err(invalid(
                    f.span(),
                    format!(
                        "this fault starts at {at_s} s, but the run ends at {} s",
                        self.duration_s()
                    ),
                ));
            }
            if let Err(message) = f.get_ref().fault.check(shards, products) {
                return Err(invalid(f.span(), message));
            }
        }
        if let Some(swarm) = &self.swarm {
            swarm
                .get_ref()
                .check()
                .map_err(|message| invalid(swarm.span(), message))?;
        }
        if self.metrics.interval_s.0 > self.duration_s.get_ref().0 {
            return Err(invalid(
                self.duration_s.span(),
                format!(
                    "duration_s ({}) is shorter than one metrics interval ({} s)",
                    self.duration_s.get_ref().0,
                    self.metrics.interval_s.0
                ),
            ));
        }
        Ok(())
    }

    pub fn duration_s(&self) -> f64 {
        self.duration_s.get_ref().0
    }

    pub fn workload(&self) -> &Workload {
        self.workload.get_ref()
    }
}
