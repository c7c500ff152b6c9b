//! A design, deployed: which implementations stand behind the shop's ports, which simulated
//! nodes run them, and the autoscaler that adds and removes app replicas.
//!
//! Must not: contain shop logic (it wires system code to the simulated world) or decide when
//! faults happen.

pub mod autoscale;
pub mod design;
