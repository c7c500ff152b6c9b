//! A design, deployed: which implementations stand behind the shop's ports (`design`), what
//! runs on each node (`processes`), the app hosts (`replicas`) and the autoscaler that adds
//! and retires them (`autoscale`), and the [`Deployment`] itself (`nodes`): the one value
//! that knows every node of a run, made by `build`.
//!
//! Must not: contain shop logic (it wires system code to the simulated world) or decide when
//! faults happen.

pub mod autoscale;
pub mod build;
pub mod design;
pub mod nodes;
pub mod processes;
pub mod replicas;

pub use build::build;
pub use nodes::Deployment;
