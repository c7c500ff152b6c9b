//! The course's code exercises: the files a student edits (lesson 5's worker loop in
//! [`worker`], lesson 10's shard placement in [`shard_key`]), and [`Exercise`], which says
//! whose code a run uses.
//!
//! The shop never calls anything here on its own. `Exercise::default()` means "the shop's own
//! code", and it is what every run uses unless `scalelab lesson check` asks the simulator to
//! swap a student's code in (the simulator's `RunOptions::exercise`). The reference solutions
//! live in `lessons/solutions/` and are compiled only with the `lesson-solutions` feature,
//! which only test builds enable, so that tests can show the starting code failing and the
//! reference passing the same grader.
//!
//! Must not: be used by the shop's default wiring, or be enabled by anything a user controls
//! other than the grader.

pub mod shard_key;
pub mod worker;

// The reference solutions, by path: they live with the lessons, out of the student's way.
#[cfg(feature = "lesson-solutions")]
#[path = "../../../lessons/solutions/10-shard_key.rs"]
mod reference_shard_key;
#[cfg(feature = "lesson-solutions")]
#[path = "../../../lessons/solutions/05-worker.rs"]
mod reference_worker;

use crate::model::CustomerId;
use crate::ports::{Mailer, PortError, Store, Subscription};
use crate::shard::{ShardFn, ShardId, ShardMap, Strategy};
use crate::worker::Job;

/// Whose version of an exercise's code runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// The file under `system/src/exercises/`, as the student left it.
    Student,
    /// The reference solution from `lessons/solutions/` (test builds only).
    #[cfg(feature = "lesson-solutions")]
    Reference,
}

impl Code {
    /// The reference solution, if this build has it (only builds with `lesson-solutions`).
    pub fn reference() -> Option<Code> {
        #[cfg(feature = "lesson-solutions")]
        return Some(Code::Reference);
        #[cfg(not(feature = "lesson-solutions"))]
        None
    }

    /// Lesson 10's placement in this version, as the shard map takes it.
    pub fn placement(self) -> ShardFn {
        match self {
            Code::Student => ShardFn {
                name: "lesson 10 (student)",
                place: shard_key::shard_for,
            },
            #[cfg(feature = "lesson-solutions")]
            Code::Reference => ShardFn {
                name: "lesson 10 (reference)",
                place: reference_shard_key::shard_for,
            },
        }
    }
}

/// Which exercises a run takes from student (or reference) code. The default is none: the
/// shop's own worker loop and the scenario's shard strategy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exercise {
    /// Lesson 5: the worker services run this loop instead of `worker::run_worker`.
    pub worker: Option<Code>,
    /// Lesson 10: customers are placed on shards by this function instead of the scenario's
    /// strategy, by the shard router and by the checker that looks for misplaced orders alike.
    pub shard_key: Option<Code>,
}

impl Exercise {
    /// The shard map a run uses: `map` itself, or, with lesson 10's exercise, a map over as
    /// many shards that places customers with that exercise's code.
    pub fn shard_map(&self, map: ShardMap) -> ShardMap {
        match self.shard_key {
            Some(code) => ShardMap::new(map.shards(), Strategy::Custom(code.placement())),
            None => map,
        }
    }
}

/// Lesson 5's worker loop, in `code`'s version. Same contract as `worker::run_worker`.
pub async fn run_worker(
    code: Code,
    job: Job,
    subscription: &dyn Subscription,
    store: &dyn Store,
    mailer: &dyn Mailer,
) -> PortError {
    match code {
        Code::Student => worker::run_worker(job, subscription, store, mailer).await,
        #[cfg(feature = "lesson-solutions")]
        Code::Reference => reference_worker::run_worker(job, subscription, store, mailer).await,
    }
}

/// Lesson 10's placement, in `code`'s version: the shard of `customer` out of `shards`.
pub fn shard_for(code: Code, customer: CustomerId, shards: u32) -> ShardId {
    (code.placement().place)(customer, shards)
}
