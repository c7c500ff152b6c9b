//! scalelab-sim: the deterministic simulator.
//!
//! One run = one fresh OS thread + one madsim `Runtime` + a seed. Inside it, the real storefront
//! code from `scalelab-system` runs on simulated hosts, talking over a simulated network to a
//! simulated database and mail provider, driven by simulated browsers. Same scenario + same
//! seed + same build = the same run, bit for bit, and the same trace hash.
//!
//! Must not: contain storefront or business logic (that is `scalelab-system`'s), or draw
//! anything (that is `scalelab-tui`'s).
//!
//! # Layout
//!
//! - [`scenario`]: the scenario file's schema and rules.
//! - [`workload`]: arrivals, customers, the session funnel: pure functions of the seed.
//! - [`host`]: CPU cores with the Universal Scalability Law; the middleware that charges
//!   requests for CPU.
//! - [`db`]: the PostgreSQL-like database server and the `Store` port against it.
//! - [`broker`]: the Kafka-like broker cluster and the `Publisher`/`Subscription` ports.
//! - [`fault`]: fault kinds, roles, the timeline's entries, swarm schedules, live commands.
//! - [`inject`]: applies faults to a design's nodes by role, and heals them.
//! - [`live`]: live sessions: designs in lock-step, tick by tick, with live commands and a
//!   frame of each design after every tick (the live view's feed).
//! - [`lb`]: the load balancer (round robin / least connections, health checks).
//! - [`mail`]: the mail provider and the `Mailer` port against it.
//! - [`rpc`]: request/response over pooled simulated connections (used by `db` and `mail`).
//! - [`sessions`]: the Redis-like session store and the `SessionStore` port against it.
//! - [`check`]: the checkers (DESIGN.md §8), judged from evidence after each run;
//!   [`recovery`]: whether the shop comes back once every fault has healed.
//! - [`client`]: simulated browsers speaking HTTP; [`net`]: adapters over madsim's network.
//! - [`metrics`]: histograms, the bounded time series, the trace hash.
//! - [`autoscale`]: the Kubernetes HPA's decisions, as pure functions.
//! - [`design`]: the designs, assembled from system code and simulated infrastructure.
//! - [`run`]: running a design and running it; [`report`]: the result.
//! - [`bench`]: measurements of the simulator itself.

#[cfg(not(madsim))]
compile_error!("scalelab-sim runs only in the sim world: build it with `--cfg madsim` (the workspace's .cargo/config.toml does)");

pub mod autoscale;
pub mod bench;
pub mod broker;
pub mod check;
pub mod client;
pub mod db;
pub mod deadline;
pub mod design;
pub mod fault;
pub mod host;
pub mod inject;
pub mod lb;
pub mod live;
pub mod mail;
pub mod metrics;
pub mod net;
pub mod recovery;
pub mod report;
pub mod rpc;
pub mod run;
pub mod scenario;
pub mod sessions;
pub mod workload;

pub use design::Design;
pub use report::Report;
pub use run::{run, run_designs, run_designs_with, run_with, Progress, RunError, RunOptions};
pub use scenario::{parse, Scenario, ScenarioError};
