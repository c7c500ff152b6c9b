//! Plain data of the shop: products, cart lines, orders, emails.
//!
//! No behaviour lives here beyond small helpers (totals); the rules are in `storefront` and
//! `worker`. Money is kept in whole cents (`u64`) so that sums are exact.

use serde::{Deserialize, Serialize};

pub type ProductId = u32;
pub type CustomerId = u64;
pub type OrderId = u64;

/// A product as the catalog lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    pub price_cents: u64,
}

/// A product page: the product plus how many are in stock right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductPage {
    pub product: Product,
    pub in_stock: u32,
}

/// One line of a cart or an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub product_id: ProductId,
    pub quantity: u32,
    /// The unit price at the moment the line was priced (at checkout).
    pub price_cents: u64,
}

/// What checkout asks the store to create: reserve every line, then record the order, as one
/// transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    pub customer_id: CustomerId,
    pub lines: Vec<Line>,
    pub payment_ref: String,
    /// Also write the order's side-work message to the outbox, in the same transaction (the
    /// queued designs: a relay publishes it to the broker later; see `outbox`).
    #[serde(default)]
    pub outbox: bool,
}

impl NewOrder {
    pub fn total_cents(&self) -> u64 {
        total_cents(&self.lines)
    }
}

/// An order the store has committed. Once a client has seen its id, it must never be lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub customer_id: CustomerId,
    pub lines: Vec<Line>,
    pub total_cents: u64,
    pub payment_ref: String,
}

/// The outcome of trying to place an order: it is placed; or one product ran out and nothing
/// was reserved; or an order with the same payment already exists, and nothing was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Placement {
    Placed(Order),
    OutOfStock(ProductId),
    /// The cart was already turned into this order: a double click, or a retried checkout.
    /// One payment reference, one order (the database keeps it unique).
    AlreadyPlaced(OrderId),
    /// The checkout that took this payment gave up on it (its placement's outcome was unknown,
    /// see `Store::settle`) and refunded it: no order may use this payment any more.
    PaymentVoided,
}

/// What became of a payment whose placement failed with an unknown outcome (a timeout: the
/// transaction may have committed after the shop stopped waiting). See `Store::settle`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Settlement {
    /// The order was placed after all: the checkout goes on as if it had been told so.
    Placed(Order),
    /// No order has this payment, and now none ever will: the charge can be refunded.
    Voided,
}

/// A confirmation email.
///
/// Sending is at least once (a worker retries a send that timed out, though the provider may
/// have delivered it; a message is redelivered after a crash), so the email carries an
/// idempotency key, as mail APIs accept one: the provider delivers one email per key and
/// treats a repeat as done. Without a key, every retry is one more email in the inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub order_id: OrderId,
    pub customer_id: CustomerId,
    pub subject: String,
    pub body: String,
    /// The same for every send of this email, different for every other email.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// What the admin sales report shows: totals over every order in the shop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesReport {
    pub orders: u64,
    pub revenue_cents: u64,
    /// Units sold per product, by product id.
    pub units_by_product: std::collections::BTreeMap<ProductId, u64>,
}

impl SalesReport {
    /// Adds another report's totals to this one (how a scatter-gather query combines shards).
    pub fn merge(&mut self, other: &SalesReport) {
        self.orders += other.orders;
        self.revenue_cents += other.revenue_cents;
        for (&product, &units) in &other.units_by_product {
            *self.units_by_product.entry(product).or_insert(0) += units;
        }
    }
}

pub fn total_cents(lines: &[Line]) -> u64 {
    lines
        .iter()
        .map(|l| l.price_cents * u64::from(l.quantity))
        .sum()
}
