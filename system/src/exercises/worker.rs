//! LESSON 5 EXERCISE: a worker service's loop. This file is yours to change.
//!
//! A worker service takes the orders that checkout published to the broker and does one
//! kind of side work for each (`job`: the confirmation email, the stock movement or the
//! shipping label). The loop below was written in a hurry and loses confirmation emails when
//! things go wrong: when the mail provider is down for a while, and when a worker dies in the
//! middle of a job. Lesson 5 (`lessons/05-broker-outage-and-idempotency.md`) shows how to
//! catch it at it; your job is to make the loop keep the shop's promise that every
//! acknowledged order gets its confirmation email, through a broker outage, a mail outage
//! and a worker that dies.
//!
//! Grade it with (it rebuilds the simulator with this file, then runs the lesson's scenario):
//!
//! ```sh
//! cargo run --release --bin scalelab -- lesson check 5
//! ```
//!
//! The rules of the game: keep the signature; use only the ports you are given; never
//! block without awaiting (the simulator's clock only moves when your code awaits); when
//! the subscription fails, return its error and the service will join the group again after
//! a second. The shop's own worker (`system/src/worker.rs`) is a correct answer: try without
//! reading it first.
//!
//! Must not: be wired into the shop by default. Only `scalelab lesson check 5` runs it.

use std::time::Duration;

use crate::model::Order;
use crate::ports::{Mailer, PortError, Store, Subscription};
use crate::worker::{handle, Job};

/// Takes orders from `subscription` and does `job` for each, until the subscription fails.
pub async fn run_worker(
    job: Job,
    subscription: &dyn Subscription,
    store: &dyn Store,
    mailer: &dyn Mailer,
) -> PortError {
    loop {
        let batch = match subscription.poll(16).await {
            Ok(batch) => batch,
            Err(e) => return e,
        };
        for delivery in batch {
            // Tell the broker straight away that we have this one, so that it is not handed
            // to another worker while we are busy with it.
            if let Err(e) = subscription.commit(&delivery).await {
                return e;
            }
            let Ok(order) = serde_json::from_slice::<Order>(&delivery.payload) else {
                continue;
            };
            // A few tries, then move on: one stubborn order must not hold up the others.
            for attempt in 1..=3 {
                if handle(job, &order, store, mailer).await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
            }
        }
    }
}
