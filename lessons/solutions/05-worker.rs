//! Reference solution of lesson 5's exercise (`system/src/exercises/worker.rs`). Compiled
//! only into test builds (the `lesson-solutions` feature of `scalelab-system`), so that the
//! tests can show that the grader passes it and fails the starting code.
//!
//! Must not: be compiled into the `scalelab` a student runs, or be read before trying.

use std::time::Duration;

use crate::model::Order;
use crate::ports::{Mailer, PortError, Store, Subscription};
use crate::worker::{handle, Job};

/// Pauses between tries of a failing job: short at first, then capped, so that a long mail
/// outage costs a try every couple of seconds rather than a storm of them.
const BACKOFF_MS: [u64; 5] = [50, 150, 400, 1000, 2000];

/// Takes orders from `subscription` and does `job` for each, until the subscription fails.
///
/// The order of the two steps is the whole point: the effect first, the commit after. A
/// worker that dies between them leaves the message uncommitted, and the group hands it to
/// another worker: the effect may then happen twice, never zero times (at least once). That
/// is safe because every effect is keyed by the order id (the email names its order, the
/// stock movement and the label are stored by order id), so doing one twice leaves the same
/// result as doing it once.
pub async fn run_worker(
    job: Job,
    subscription: &dyn Subscription,
    store: &dyn Store,
    mailer: &dyn Mailer,
) -> PortError {
    loop {
        let batch = match subscription.poll(16).await {
            Ok(batch) => batch,
            // The service loop waits a moment and joins the group again.
            Err(e) => return e,
        };
        for delivery in batch {
            // A message nobody can read will never get better: skip it (after committing, so
            // that it is not delivered forever).
            if let Ok(order) = serde_json::from_slice::<Order>(&delivery.payload) {
                until_done(job, &order, store, mailer).await;
            }
            if let Err(e) = subscription.commit(&delivery).await {
                return e;
            }
        }
    }
}

/// Does `job` for `order`, trying again after each failure until it succeeds. Giving up
/// would lose the effect for good; while we wait, the rest of this partition waits too, which
/// is the price of keeping one order's messages in order.
async fn until_done(job: Job, order: &Order, store: &dyn Store, mailer: &dyn Mailer) {
    let mut failures = 0usize;
    while handle(job, order, store, mailer).await.is_err() {
        let pause = BACKOFF_MS[failures.min(BACKOFF_MS.len() - 1)];
        tokio::time::sleep(Duration::from_millis(pause)).await;
        failures += 1;
    }
}
