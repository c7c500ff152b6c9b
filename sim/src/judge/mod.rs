//! Judging a run, after it ends, from evidence the simulator gathered (what browsers were
//! told, what the databases hold, what the mail provider received, the metrics): the safety
//! checkers (`check`) and the liveness judgement (`recovery`).
//!
//! Must not: reach into the shop's internals or change the run. Checkers live apart from the
//! system they check, so that a bug in the shop cannot also blind the check.

pub mod cart_once;
pub mod check;
pub mod recovery;
