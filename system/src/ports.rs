//! The ports: every piece of infrastructure the shop needs, as a trait.
//!
//! The storefront and the worker handlers only ever talk to these traits. Which implementation
//! sits behind each one *is* the design:
//!
//! | port            | naive vertical        | horizontal            | queued                 | sharded                  |
//! |-----------------|-----------------------|-----------------------|------------------------|--------------------------|
//! | `SessionStore`  | in process memory     | external store        | external store         | external store           |
//! | `Store`         | one database          | one database          | one database           | shard router over N dbs  |
//! | `SideWork`      | inline, in checkout   | inline                | publish to a broker    | publish to a broker      |
//!
//! The traits are shaped so that SQL databases (sqlx), Redis and a Kafka-like broker can
//! implement them: every call may fail with a [`PortError`], every write that may be retried is
//! keyed (order id, payment idempotency key) so that doing it twice does no harm.
//!
//! They use `async_trait` so that the app can hold them as `Arc<dyn Port>` and a design can be
//! chosen at run time; generic parameters would spread through every handler signature, which
//! is harder to read for little gain at these call rates.

use async_trait::async_trait;
use std::fmt;

use crate::model::SalesReport;
use crate::model::{
    CustomerId, Email, NewOrder, Order, Placement, Product, ProductId, ProductPage, Settlement,
};
use crate::session::{Session, SessionId};

/// Why infrastructure could not do what was asked. The storefront turns these into 503/504.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PortError {
    /// The service refused or could not be reached (down, partitioned, too many connections).
    Unavailable(String),
    /// The service did not answer in time; the operation may or may not have happened.
    Timeout(String),
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortError::Unavailable(what) => write!(f, "unavailable: {what}"),
            PortError::Timeout(what) => write!(f, "timed out: {what}"),
        }
    }
}

impl std::error::Error for PortError {}

/// Orders and inventory: the shop's database.
#[async_trait]
pub trait Store: Send + Sync {
    /// The first `limit` products of the catalog, by id.
    async fn list_products(&self, limit: usize) -> Result<Vec<Product>, PortError>;
    /// One product with its stock, or `None` if there is no such product.
    async fn product(&self, id: ProductId) -> Result<Option<ProductPage>, PortError>;
    /// In one transaction: take every line out of stock, or none of them; then record the order.
    async fn place_order(&self, order: NewOrder) -> Result<Placement, PortError>;
    /// After `place_order` failed with an unknown outcome, decide it for good, in one
    /// transaction: if an order has this payment, it is returned; otherwise the payment is
    /// voided, so that the lost placement cannot commit later (it will find
    /// `Placement::PaymentVoided`), and the caller may refund the charge. Safe to repeat.
    async fn settle(
        &self,
        customer: CustomerId,
        payment_ref: &str,
    ) -> Result<Settlement, PortError>;
    /// A customer's orders, oldest first.
    async fn orders_for(&self, customer: CustomerId) -> Result<Vec<Order>, PortError>;
    /// Side work: record the stock movement of an order for the warehouse. Idempotent by order id.
    async fn record_stock_movement(&self, order: &Order) -> Result<(), PortError>;
    /// Side work: create the shipping label of an order. Idempotent by order id.
    async fn create_shipping_label(&self, order: &Order) -> Result<(), PortError>;
    /// Totals over every order: a query across all customers.
    async fn sales_report(&self) -> Result<SalesReport, PortError>;
    /// The outbox: orders placed with `NewOrder::outbox` whose message is not yet marked
    /// published, oldest first, at most `limit`.
    async fn unpublished(&self, limit: usize) -> Result<Vec<Order>, PortError>;
    /// Marks these orders' messages as published: the relay will not publish them again.
    /// Whole orders, so that a shard router can send each to its customer's shard.
    async fn mark_published(&self, orders: &[Order]) -> Result<(), PortError>;
}

/// Where sessions live: in process memory (naive) or in a shared store (stateless designs).
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn load(&self, id: &SessionId) -> Result<Option<Session>, PortError>;
    async fn save(&self, id: &SessionId, session: &Session) -> Result<(), PortError>;
}

/// The mail provider. Sending the same order's confirmation twice must be harmless to callers;
/// the email's idempotency key lets the provider deliver it once however often it is sent.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &Email) -> Result<(), PortError>;
}

/// The payment provider. `idempotency_key` makes a retried charge a no-op, as real providers do.
#[async_trait]
pub trait Payments: Send + Sync {
    /// Charge a customer; returns the provider's reference for the payment.
    async fn charge(
        &self,
        customer: CustomerId,
        amount_cents: u64,
        idempotency_key: &str,
    ) -> Result<String, PortError>;
    /// Give the money back, e.g. when the goods ran out after the charge.
    async fn refund(&self, payment_ref: &str) -> Result<(), PortError>;
}

/// What happens after an order is committed: confirmation email, stock movement, shipping
/// label. Inline (inside the checkout request), or written to the outbox with the order for a
/// relay to hand to a broker and its workers.
#[async_trait]
pub trait SideWork: Send + Sync {
    /// Whether checkout writes the side-work message to the outbox, in the order's own
    /// transaction (see `outbox`). If so, `order_placed` has nothing left to do.
    fn in_outbox(&self) -> bool {
        false
    }
    async fn order_placed(&self, order: &Order) -> Result<(), PortError>;
}

/// One message as a consumer receives it: where it sits in its partition, its key, its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub partition: u32,
    pub offset: u64,
    pub key: u64,
    pub payload: Vec<u8>,
}

/// Publishing to a Kafka-shaped broker: a topic is split into partitions, and the key picks
/// the partition, so messages with the same key stay in order. `publish` returns once the
/// broker has the message durably (acknowledged by its replicas).
#[async_trait]
pub trait Publisher: Send + Sync {
    async fn publish(&self, topic: &str, key: u64, payload: Vec<u8>) -> Result<(), PortError>;
    /// Returns once what was published so far would survive a crash of this process: at once
    /// for a broker that keeps its messages (the default), only after its consumers are done
    /// for a broker in this process's memory. The outbox relay marks a message published only
    /// after this, so that a crash never loses one.
    async fn settled(&self) -> Result<(), PortError> {
        Ok(())
    }
}

/// A consumer's view of one topic, as a member of a consumer group: the group's members share
/// the partitions, and the group remembers, per partition, how far it has committed.
///
/// Delivery is at least once: a message is delivered again if its consumer dies (or the group
/// rebalances) before committing it. That is why every effect is idempotent by order id.
#[async_trait]
pub trait Subscription: Send + Sync {
    /// The next messages of this consumer's partitions; may be empty after a short wait.
    async fn poll(&self, max: usize) -> Result<Vec<Delivery>, PortError>;
    /// Marks `delivery` and everything before it in its partition as done for the group.
    async fn commit(&self, delivery: &Delivery) -> Result<(), PortError>;
}
