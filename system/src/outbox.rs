//! The transactional outbox: how the queued designs hand checkout's side work to the broker
//! without ever losing it, and without making checkout wait for the broker.
//!
//! The problem it solves is the *dual write*. Checkout must do two things: commit the order
//! (database) and publish a message for the workers (broker). Done one after the other, a crash
//! in between leaves a committed order that no worker will ever hear of; and while the broker
//! is down, checkout fails although the order could be taken. So checkout writes only to the
//! database: the order *and* its message, in the same transaction (`NewOrder::outbox`). Either
//! both exist or neither does. A relay ([`run_relay`]) then reads the messages not yet
//! published, publishes them, and marks them published.
//!
//! The relay may publish a message twice (it dies after publishing and before marking): the
//! workers are idempotent by order id, so that is harmless. What it never does is mark a
//! message it has not published: a broker outage only makes the outbox, and the lag, grow.
//!
//! Must not: decide what the side work is (that is `worker`), or read a clock other than
//! tokio's.

use std::time::Duration;

use async_trait::async_trait;

use crate::model::Order;
use crate::ports::{PortError, Publisher, SideWork, Store};
use crate::worker::ORDERS_TOPIC;

/// Side work through the outbox: checkout writes the message with the order; a relay
/// publishes it. Nothing is left to do once the order is placed.
pub struct Outbox;

#[async_trait]
impl SideWork for Outbox {
    fn in_outbox(&self) -> bool {
        true
    }

    async fn order_placed(&self, _order: &Order) -> Result<(), PortError> {
        Ok(())
    }
}

/// Messages the relay reads from the outbox at a time.
pub const BATCH: usize = 64;
/// How long the relay waits when the outbox is empty before looking again.
pub const IDLE: Duration = Duration::from_millis(50);
/// How long it waits after a failure, growing up to a limit (the broker or the database is
/// down: asking again at once would only add load).
const RETRY_MS: [u64; 5] = [100, 200, 500, 1000, 2000];

/// The relay: forever, publishes what the outbox of `store` holds, oldest first, and marks
/// what it published. One relay per database: two would only publish some messages twice.
pub async fn run_relay(store: &dyn Store, publisher: &dyn Publisher) {
    let mut failures = 0;
    loop {
        match relay_once(store, publisher).await {
            Ok(0) => {
                failures = 0;
                tokio::time::sleep(IDLE).await;
            }
            Ok(_) => failures = 0,
            Err(_) => {
                let pause = RETRY_MS[failures.min(RETRY_MS.len() - 1)];
                tokio::time::sleep(Duration::from_millis(pause)).await;
                failures += 1;
            }
        }
    }
}

/// One pass: publishes up to [`BATCH`] messages and marks those that were published (and
/// settled, see `Publisher::settled`). Returns how many it marked; an error means some were
/// left for the next pass.
pub async fn relay_once(store: &dyn Store, publisher: &dyn Publisher) -> Result<usize, PortError> {
    let waiting = store.unpublished(BATCH).await?;
    let mut published = Vec::with_capacity(waiting.len());
    let mut failed = None;
    for order in waiting {
        let payload = match serde_json::to_vec(&order) {
            Ok(payload) => payload,
            Err(e) => return Err(PortError::Unavailable(format!("encoding order: {e}"))),
        };
        // The order id is the key: one order's messages stay in one partition, in order.
        match publisher.publish(ORDERS_TOPIC, order.id, payload).await {
            Ok(()) => published.push(order),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    if !published.is_empty() {
        publisher.settled().await?;
        store.mark_published(&published).await?;
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(published.len()),
    }
}
