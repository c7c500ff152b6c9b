//! Applying faults: the injector maps a fault's role onto one deployment's nodes, breaks them,
//! and heals them when their time is up.
//!
//! Must not: decide when faults happen (the scenario's timeline, the swarm and live commands
//! do; the harness applies them at tick boundaries) or draw randomness.

pub mod inject;
pub mod schedule;
