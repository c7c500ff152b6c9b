//! The side work of a checkout, and the inline way of doing it.
//!
//! Three effects follow every committed order: a confirmation email, a stock movement for the
//! warehouse, and a shipping label. Each handler here is idempotent by order id, so running it
//! twice (a retried request, a redelivered message) does no harm.
//!
//! The naive and horizontal designs run them *inline*, inside the checkout request, with
//! [`Inline`]: the customer waits for the mail provider, and when it is down checkout fails.
//! The queued designs write the order's message to the outbox instead (`outbox::Outbox`; a
//! relay publishes it to the broker) and run these same handlers in worker services
//! ([`run_worker`]), one consumer group per kind of job.

use std::sync::Arc;

use async_trait::async_trait;

use crate::bugs::Bugs;
use crate::model::{Email, Order};
use crate::ports::{Mailer, PortError, SideWork, Store, Subscription};

/// The topic that committed orders are published to.
pub const ORDERS_TOPIC: &str = "orders";

/// The kinds of side work, each of which a queued design can scale on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Job {
    ConfirmationEmail,
    StockMovement,
    ShippingLabel,
}

impl Job {
    pub const ALL: [Job; 3] = [
        Job::ConfirmationEmail,
        Job::StockMovement,
        Job::ShippingLabel,
    ];

    /// The consumer group of the workers that do this job.
    pub fn group(self) -> &'static str {
        match self {
            Job::ConfirmationEmail => "confirmation-emails",
            Job::StockMovement => "stock-movements",
            Job::ShippingLabel => "shipping-labels",
        }
    }
}

/// The confirmation email for an order. Built from the order alone, so a retry builds the
/// same email.
pub fn confirmation_email(order: &Order) -> Email {
    let items: u32 = order.lines.iter().map(|l| l.quantity).sum();
    Email {
        order_id: order.id,
        customer_id: order.customer_id,
        subject: format!("Your order #{} is confirmed", order.id),
        // One confirmation per order: the order id makes the key (never the attempt, the
        // time or the worker, which would make each retry a new email).
        idempotency_key: Some(format!("order-{}-confirmation", order.id)),
        body: format!(
            "Thank you! {items} item(s), total ${}.{:02}. We will email you again when it ships.",
            order.total_cents / 100,
            order.total_cents % 100
        ),
    }
}

/// Runs one job for one order.
pub async fn handle(
    job: Job,
    order: &Order,
    store: &dyn Store,
    mailer: &dyn Mailer,
) -> Result<(), PortError> {
    match job {
        Job::ConfirmationEmail => mailer.send(&confirmation_email(order)).await,
        Job::StockMovement => store.record_stock_movement(order).await,
        Job::ShippingLabel => store.create_shipping_label(order).await,
    }
}

/// Side work done inside the checkout request, one job after the other.
pub struct Inline {
    pub store: Arc<dyn Store>,
    pub mailer: Arc<dyn Mailer>,
}

#[async_trait]
impl SideWork for Inline {
    async fn order_placed(&self, order: &Order) -> Result<(), PortError> {
        for job in Job::ALL {
            handle(job, order, self.store.as_ref(), self.mailer.as_ref()).await?;
        }
        Ok(())
    }
}

/// How a worker waits before trying a failed job again, growing up to a limit.
const RETRY_MS: [u64; 6] = [50, 100, 200, 500, 1000, 2000];

/// A worker service: takes orders from its subscription and does `job` for each, forever.
///
/// It commits a message only after its effect is done, so a worker that dies mid-job leaves
/// the message to be delivered again (at least once). A job that fails is retried, with
/// growing pauses, before the worker moves on: skipping it would lose an effect, and later
/// messages of the partition wait meanwhile (the partition stays in order). A message that
/// cannot be read is committed and skipped: retrying would never help. Returns only when the
/// subscription fails.
pub async fn run_worker(
    job: Job,
    subscription: &dyn Subscription,
    store: &dyn Store,
    mailer: &dyn Mailer,
) -> PortError {
    run_worker_with(job, subscription, store, mailer, Bugs::default()).await
}

/// [`run_worker`], with planted bugs for the simulator's tests (see [`crate::bugs`]).
pub async fn run_worker_with(
    job: Job,
    subscription: &dyn Subscription,
    store: &dyn Store,
    mailer: &dyn Mailer,
    bugs: Bugs,
) -> PortError {
    loop {
        let batch = match subscription.poll(16).await {
            Ok(batch) => batch,
            // PLANTED BUG (`worker_gives_up`): swallowing the error and waiting for messages
            // that can no longer come leaves the worker alive and useless.
            Err(_) if bugs.worker_gives_up() => std::future::pending().await,
            Err(e) => return e,
        };
        for delivery in batch {
            // PLANTED BUG (`ack_before_effect`): committing first means a worker that dies
            // before the effect is done has told the broker it is done.
            if bugs.ack_before_effect() {
                if let Err(e) = subscription.commit(&delivery).await {
                    return e;
                }
            }
            if let Ok(order) = serde_json::from_slice::<Order>(&delivery.payload) {
                if bugs.skip_failed_jobs() {
                    // PLANTED BUG (`skip_failed_jobs`): "log it and move on" turns a
                    // database blip into a parcel that never ships.
                    let _ = handle(job, &order, store, mailer).await;
                } else {
                    do_with_retries(job, &order, store, mailer).await;
                }
            }
            if let Err(e) = subscription.commit(&delivery).await {
                return e;
            }
        }
    }
}

async fn do_with_retries(job: Job, order: &Order, store: &dyn Store, mailer: &dyn Mailer) {
    let mut attempt = 0;
    while handle(job, order, store, mailer).await.is_err() {
        let pause = RETRY_MS[attempt.min(RETRY_MS.len() - 1)];
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        attempt += 1;
    }
}
