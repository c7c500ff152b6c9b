//! The side work of a checkout, and the inline way of doing it.
//!
//! Three effects follow every committed order: a confirmation email, a stock movement for the
//! warehouse, and a shipping label. Each handler here is idempotent by order id, so running it
//! twice (a retried request, a redelivered message) does no harm.
//!
//! The naive and horizontal designs run them *inline*, inside the checkout request, with
//! [`Inline`]: the customer waits for the mail provider, and when it is down checkout fails.
//! The queued designs publish the order instead and run these same handlers in worker services.

use std::sync::Arc;

use async_trait::async_trait;

use crate::model::{Email, Order};
use crate::ports::{Mailer, PortError, SideWork, Store};

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
}

/// The confirmation email for an order. Built from the order alone, so a retry builds the
/// same email.
pub fn confirmation_email(order: &Order) -> Email {
    let items: u32 = order.lines.iter().map(|l| l.quantity).sum();
    Email {
        order_id: order.id,
        customer_id: order.customer_id,
        subject: format!("Your order #{} is confirmed", order.id),
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
