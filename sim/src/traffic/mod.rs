//! The shoppers: when they arrive and what each one plans to do (`workload`, pure functions
//! of the seed), and the simulated browser that carries a plan out over HTTP (`browser`),
//! including the liveness probe's shopper.
//!
//! Must not: know how the shop works inside. Browsers see only HTTP, like real ones; what
//! they were told is recorded as evidence for the checkers.

pub mod browser;
pub mod loadgen;
pub mod workload;
