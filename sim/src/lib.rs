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
//! The folders are layers: each uses only the ones above it in this list.
//!
//! - [`numbers`], [`seed`], [`draw`], [`service`]: checked numbers, the seed's independent
//!   random streams, platform-independent exponential and Zipf draws, and service-time
//!   distributions.
//! - [`scenario`]: what a run simulates, as TOML: the schema and its rules, and the fault
//!   vocabulary (roles, kinds, the timeline, swarm schedules, live commands).
//! - [`world`]: the simulated world: network and connections, CPUs, the database, session
//!   store, broker cluster, mail provider and load balancer, with the shop's ports over them.
//! - [`metrics`]: what a run measures (histograms, the time series, the trace hash).
//! - [`traffic`]: the shoppers: arrivals and plans, and the browser that speaks HTTP.
//! - [`deployment`]: a design, assembled from system code and the simulated world, and its
//!   autoscaler.
//! - [`faults`]: applying faults to a deployment's nodes, and healing them.
//! - [`judge`]: the checkers and the liveness judgement, from evidence after a run.
//! - [`harness`]: running a design (`run`), designs in lock-step for the live view (`live`),
//!   the report, and benchmarks of the simulator itself.

#[cfg(not(madsim))]
compile_error!("scalelab-sim runs only in the sim world: build it with `--cfg madsim` (the workspace's .cargo/config.toml does)");

pub mod deployment;
pub mod draw;
pub mod faults;
pub mod harness;
pub mod judge;
pub mod metrics;
pub mod numbers;
pub mod scenario;
pub mod seed;
pub mod service;
pub mod traffic;
pub mod world;

pub use deployment::design::Design;
pub use harness::launch::{run, run_designs, run_designs_with, run_with, RunError};
pub use harness::report::Report;
pub use harness::run::{Progress, RunOptions};
pub use scenario::{parse, Scenario, ScenarioError};
pub use traffic::workload::expected_requests;
