//! In-memory implementations of the ports: the reference behaviour every other adapter must
//! match, the shop's embedded default, and what the tests run against.
//!
//! Must not: pretend to be durable. Everything here dies with the process.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::bugs::Bugs;
use crate::model::SalesReport;
use crate::model::{
    CustomerId, Email, NewOrder, Order, OrderId, Placement, Product, ProductId, ProductPage,
    Settlement,
};
use crate::ports::{Mailer, Payments, PortError, SessionStore, Store};
use crate::session::{Session, SessionId};

/// The price of product `id` in [`demo_catalog`]: from $5.00 to $99.99, spread by a
/// multiplicative step so that neighbours differ.
pub fn demo_price_cents(id: u32) -> u64 {
    500 + u64::from(id).wrapping_mul(7919) % 9500
}

/// A catalog for demos and simulations: `count` products with ids 1..=count, names and prices
/// that follow from the id alone (no randomness, so every world builds the same shop).
pub fn demo_catalog(count: u32) -> Vec<Product> {
    const KINDS: [&str; 8] = [
        "Mug",
        "T-shirt",
        "Lamp",
        "Backpack",
        "Kettle",
        "Notebook",
        "Headphones",
        "Plant",
    ];
    const COLOURS: [&str; 6] = ["red", "blue", "green", "black", "white", "yellow"];
    (1..=count)
        .map(|id| {
            let kind = KINDS[id as usize % KINDS.len()];
            let colour = COLOURS[(id as usize / KINDS.len()) % COLOURS.len()];
            Product {
                id,
                name: format!("{colour} {kind} #{id}"),
                price_cents: demo_price_cents(id),
            }
        })
        .collect()
}

/// Orders and inventory in memory, behind one lock: every operation is trivially atomic.
pub struct MemoryStore {
    inner: Mutex<Tables>,
    bugs: Bugs,
}

#[derive(Default)]
struct Tables {
    products: BTreeMap<ProductId, (Product, u32)>,
    orders: BTreeMap<OrderId, Order>,
    by_customer: BTreeMap<CustomerId, Vec<OrderId>>,
    /// Payment reference -> order: a unique index, so one payment (one cart) is one order.
    by_payment: BTreeMap<String, OrderId>,
    /// Payments given up on by `settle`: no order may use them (see `Store::settle`).
    voided: BTreeSet<String>,
    /// The outbox: orders whose side-work message is not yet published.
    unpublished: BTreeSet<OrderId>,
    stock_movements: BTreeSet<OrderId>,
    shipping_labels: BTreeSet<OrderId>,
    /// The order id sequence: the next id, and the step between ids.
    next_order_id: OrderId,
    order_id_step: OrderId,
}

impl MemoryStore {
    /// A store holding `products`, each with `stock` units; order ids 1, 2, 3, ...
    pub fn new(products: Vec<Product>, stock: u32) -> MemoryStore {
        MemoryStore::with_order_ids(products, stock, 1, 1)
    }

    /// Like [`MemoryStore::new`], with order ids `first, first + step, ...`: how shards keep
    /// order ids unique across the shop (a sequence `START first INCREMENT BY step` in SQL).
    pub fn with_order_ids(
        products: Vec<Product>,
        stock: u32,
        first: OrderId,
        step: OrderId,
    ) -> MemoryStore {
        let products = products.into_iter().map(|p| (p.id, (p, stock))).collect();
        MemoryStore {
            inner: Mutex::new(Tables {
                products,
                next_order_id: first.max(1),
                order_id_step: step.max(1),
                ..Tables::default()
            }),
            bugs: Bugs::default(),
        }
    }

    /// The same store with planted bugs switched on (see [`crate::bugs`]).
    pub fn with_bugs(mut self, bugs: Bugs) -> MemoryStore {
        // PLANTED BUG (`shard_blind_ids`): a sequence that ignores its shard's offset.
        if bugs.shard_blind_ids() {
            let mut t = self.lock();
            t.next_order_id = 1;
            t.order_id_step = 1;
        }
        self.bugs = bugs;
        self
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Units of a product in stock (for tests and checkers).
    pub fn stock(&self, id: ProductId) -> Option<u32> {
        self.lock().products.get(&id).map(|(_, s)| *s)
    }

    /// Every order, by id (for checkers and admin tools: a full table scan).
    pub fn all_orders(&self) -> Vec<Order> {
        self.lock().orders.values().cloned().collect()
    }

    /// Every order, moving them out of the store (which keeps its stock, outbox and side
    /// work): for whoever judges a finished run, which would otherwise hold a second copy of
    /// every order at the moment memory is highest.
    pub fn take_orders(&self) -> Vec<Order> {
        let mut t = self.lock();
        t.by_customer.clear();
        std::mem::take(&mut t.orders).into_values().collect()
    }

    /// Units in stock of every product, by id (for checkers).
    pub fn stock_levels(&self) -> Vec<(ProductId, u32)> {
        self.lock()
            .products
            .iter()
            .map(|(&id, (_, stock))| (id, *stock))
            .collect()
    }

    /// Messages waiting in the outbox (for the queue lag).
    pub fn outbox_len(&self) -> usize {
        self.lock().unpublished.len()
    }

    /// How many stock movements and shipping labels exist (for tests and checkers).
    pub fn side_effects(&self) -> (usize, usize) {
        let t = self.lock();
        (t.stock_movements.len(), t.shipping_labels.len())
    }

    /// The orders that have a stock movement, and those that have a shipping label.
    pub fn side_work_done(&self) -> (BTreeSet<OrderId>, BTreeSet<OrderId>) {
        let t = self.lock();
        (t.stock_movements.clone(), t.shipping_labels.clone())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn list_products(&self, limit: usize) -> Result<Vec<Product>, PortError> {
        Ok(self
            .lock()
            .products
            .values()
            .take(limit)
            .map(|(p, _)| p.clone())
            .collect())
    }

    async fn product(&self, id: ProductId) -> Result<Option<ProductPage>, PortError> {
        Ok(self.lock().products.get(&id).map(|(p, stock)| ProductPage {
            product: p.clone(),
            in_stock: *stock,
        }))
    }

    async fn place_order(&self, order: NewOrder) -> Result<Placement, PortError> {
        let mut t = self.lock();
        // A placement that arrives after its checkout gave up on it (and refunded the charge)
        // must not become an order nobody paid for.
        if t.voided.contains(&order.payment_ref) {
            return Ok(Placement::PaymentVoided);
        }
        // One payment, one order: the second checkout of a cart (a double click) finds the
        // first one's order and changes nothing.
        // PLANTED BUG (`cart_paid_twice`): without this lookup, both clicks become orders.
        if let Some(&id) = t.by_payment.get(&order.payment_ref) {
            if !self.bugs.cart_paid_twice() {
                return Ok(Placement::AlreadyPlaced(id));
            }
        }
        // Check every line before taking anything, so a failed order reserves nothing.
        // PLANTED BUG (`skip_stock_check`): without this check, stock "runs out" below zero
        // (held at zero here, as an unsigned column would be) and buyers get goods that do
        // not exist.
        if !self.bugs.skip_stock_check() {
            for line in &order.lines {
                let in_stock = t.products.get(&line.product_id).map_or(0, |(_, s)| *s);
                if in_stock < line.quantity {
                    return Ok(Placement::OutOfStock(line.product_id));
                }
            }
        }
        for line in &order.lines {
            if let Some((_, stock)) = t.products.get_mut(&line.product_id) {
                *stock = stock.saturating_sub(line.quantity);
            }
        }
        let id = t.next_order_id;
        t.next_order_id += t.order_id_step;
        let placed = Order {
            id,
            customer_id: order.customer_id,
            total_cents: order.total_cents(),
            lines: order.lines,
            payment_ref: order.payment_ref,
        };
        t.by_customer
            .entry(placed.customer_id)
            .or_default()
            .push(placed.id);
        t.by_payment.insert(placed.payment_ref.clone(), placed.id);
        if order.outbox {
            t.unpublished.insert(placed.id);
        }
        t.orders.insert(placed.id, placed.clone());
        Ok(Placement::Placed(placed))
    }

    async fn settle(
        &self,
        _customer: CustomerId,
        payment_ref: &str,
    ) -> Result<Settlement, PortError> {
        let mut t = self.lock();
        if let Some(order) = t
            .by_payment
            .get(payment_ref)
            .and_then(|id| t.orders.get(id))
        {
            return Ok(Settlement::Placed(order.clone()));
        }
        t.voided.insert(payment_ref.to_owned());
        Ok(Settlement::Voided)
    }

    async fn orders_for(&self, customer: CustomerId) -> Result<Vec<Order>, PortError> {
        let t = self.lock();
        let ids = t
            .by_customer
            .get(&customer)
            .map(Vec::as_slice)
            .unwrap_or_default();
        Ok(ids
            .iter()
            .filter_map(|id| t.orders.get(id).cloned())
            .collect())
    }

    async fn record_stock_movement(&self, order: &Order) -> Result<(), PortError> {
        self.lock().stock_movements.insert(order.id);
        Ok(())
    }

    async fn create_shipping_label(&self, order: &Order) -> Result<(), PortError> {
        self.lock().shipping_labels.insert(order.id);
        Ok(())
    }

    async fn unpublished(&self, limit: usize) -> Result<Vec<Order>, PortError> {
        let t = self.lock();
        Ok(t.unpublished
            .iter()
            .take(limit)
            .filter_map(|id| t.orders.get(id).cloned())
            .collect())
    }

    async fn mark_published(&self, orders: &[Order]) -> Result<(), PortError> {
        let mut t = self.lock();
        for order in orders {
            t.unpublished.remove(&order.id);
        }
        Ok(())
    }

    async fn sales_report(&self) -> Result<SalesReport, PortError> {
        let t = self.lock();
        let mut report = SalesReport::default();
        for order in t.orders.values() {
            report.orders += 1;
            report.revenue_cents += order.total_cents;
            for line in &order.lines {
                *report.units_by_product.entry(line.product_id).or_insert(0) +=
                    u64::from(line.quantity);
            }
        }
        Ok(report)
    }
}

/// A mailer that keeps what it was asked to send: one email per order id, however often asked.
#[derive(Default)]
pub struct MemoryMailer {
    sent: Mutex<BTreeMap<OrderId, Email>>,
}

impl MemoryMailer {
    pub fn sent(&self) -> Vec<Email> {
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, email: &Email) -> Result<(), PortError> {
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(email.order_id, email.clone());
        Ok(())
    }
}

/// A payment provider that approves every charge at once. The reference follows from the
/// idempotency key, so a retried charge returns the same reference and keeps no state.
#[derive(Default)]
pub struct FakePayments;

#[async_trait]
impl Payments for FakePayments {
    async fn charge(
        &self,
        _customer: CustomerId,
        _amount_cents: u64,
        idempotency_key: &str,
    ) -> Result<String, PortError> {
        Ok(format!("pay-{idempotency_key}"))
    }

    async fn refund(&self, _payment_ref: &str) -> Result<(), PortError> {
        Ok(())
    }
}

/// Sessions in this process's memory: what the naive design does. Fast, and lost with the
/// process; a second replica cannot see them, which is why the scaled designs move them out.
///
/// Sessions idle for longer than the time-to-live are dropped, so memory stays bounded.
pub struct InMemorySessions {
    ttl: Duration,
    inner: Mutex<Sessions>,
}

struct Sessions {
    map: BTreeMap<SessionId, (Session, Instant)>,
    last_sweep: Option<Instant>,
}

impl InMemorySessions {
    pub fn new(ttl: Duration) -> InMemorySessions {
        InMemorySessions {
            ttl,
            inner: Mutex::new(Sessions {
                map: BTreeMap::new(),
                last_sweep: None,
            }),
        }
    }

    /// How many sessions are held right now.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Sessions> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl SessionStore for InMemorySessions {
    async fn load(&self, id: &SessionId) -> Result<Option<Session>, PortError> {
        let now = Instant::now();
        let inner = self.lock();
        Ok(inner
            .map
            .get(id)
            .filter(|(_, seen)| now.duration_since(*seen) < self.ttl)
            .map(|(s, _)| s.clone()))
    }

    async fn save(&self, id: &SessionId, session: &Session) -> Result<(), PortError> {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.map.insert(id.clone(), (session.clone(), now));
        // Sweep expired sessions at most a few times per time-to-live: each sweep walks the
        // whole map, so doing it on every save would make saves O(n).
        let due = inner
            .last_sweep
            .is_none_or(|t| now.duration_since(t) >= self.ttl / 4);
        if due {
            let ttl = self.ttl;
            inner
                .map
                .retain(|_, (_, seen)| now.duration_since(*seen) < ttl);
            inner.last_sweep = Some(now);
        }
        Ok(())
    }
}
