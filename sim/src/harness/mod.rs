//! Running designs: one run on its own thread and madsim runtime (`run`), several designs in
//! lock-step for the live view (`live`), the result as data (`report`), and measurements of
//! the simulator itself (`bench`).
//!
//! Must not: print or draw (that is `scalelab-tui`'s), or hold the shop's or the simulated
//! world's logic.

pub mod bench;
pub mod launch;
pub mod live;
pub mod liveness;
pub mod report;
pub mod run;
pub mod shrink;
pub mod validate;
