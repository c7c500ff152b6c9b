//! Planted bugs: deliberate mistakes that tests switch on to prove that the simulator's
//! checkers catch them. A checker that has never failed proves nothing.
//!
//! Each switch sits at the line of shop code it breaks, marked `PLANTED BUG`, so a student
//! can see what the mistake looks like in real code. The switches exist only with the
//! `planted-bugs` feature, which only test builds turn on: without it `Bugs` has no fields
//! and every question below answers "no", so a normal build cannot carry one by accident.
//!
//! Must not: be enabled by anything a user controls (scenario files, flags, environment).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::model::{
    CustomerId, Email, NewOrder, Order, Placement, Product, ProductId, ProductPage, SalesReport,
    Settlement,
};
use crate::ports::{Mailer, PortError, Publisher, SessionStore, Store};
use crate::session::{Session, SessionId};

/// Which planted bugs are switched on. `Bugs::default()` is the correct shop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bugs {
    /// A worker acknowledges (commits) a message before its effect is done: if it dies in
    /// between, the effect is lost. (Caught by the one-confirmation-email check.)
    #[cfg(feature = "planted-bugs")]
    pub ack_before_effect: bool,
    /// The shard router places orders with the map from before the last shard was added.
    /// (Caught by orders-on-their-shard.)
    #[cfg(feature = "planted-bugs")]
    pub stale_shard_map: bool,
    /// Checkout's transaction takes stock without checking there is enough. (Caught by
    /// no-oversell.)
    #[cfg(feature = "planted-bugs")]
    pub skip_stock_check: bool,
    /// A stateless replica keeps a copy of every session in its own memory and trusts it.
    /// (Caught by cart-survives.)
    #[cfg(feature = "planted-bugs")]
    pub cart_in_memory: bool,
    /// Every database numbers its orders 1, 2, 3, ... ignoring its shard's offset, so two
    /// shards hand out the same order id: the id a customer was given finds someone else's
    /// order. (Caught by no-lost-order.)
    #[cfg(feature = "planted-bugs")]
    pub shard_blind_ids: bool,
    /// A worker whose broker fails stops consuming for good instead of reconnecting.
    /// (Caught by lag-recovers.)
    #[cfg(feature = "planted-bugs")]
    pub worker_gives_up: bool,
    /// The outbox relay's publisher gives up on the broker after its first failure and never
    /// tries it again: after a broker outage no side work is published any more, and the
    /// outbox only grows. (Caught by lag-recovers.)
    #[cfg(feature = "planted-bugs")]
    pub publisher_never_reconnects: bool,
    /// The mail client drops the emails' idempotency keys: every retried send is one more
    /// email. (Caught by one-confirmation-email.)
    #[cfg(feature = "planted-bugs")]
    pub email_without_key: bool,
    /// A worker tries a job once and moves on when it fails, committing the message: side
    /// work that met a passing outage is never done. (Caught by queue-drained.)
    #[cfg(feature = "planted-bugs")]
    pub skip_failed_jobs: bool,
    /// The session store skips writes that do not make the cart bigger, to save round
    /// trips: a removed item comes back, and is paid for. (Caught by cart-exact.)
    #[cfg(feature = "planted-bugs")]
    pub save_only_growing_carts: bool,
    /// The shard router reads a customer's order history from the shard their id picks by
    /// modulo, copied from the catalog's routing, not from the shard map. (Caught by
    /// read-your-writes.)
    #[cfg(feature = "planted-bugs")]
    pub history_by_modulo: bool,
    /// The shard router's sales report asks the first shard only, as the unsharded code
    /// did. (Caught by read-your-writes, which compares the report with the databases.)
    #[cfg(feature = "planted-bugs")]
    pub report_first_shard_only: bool,
    /// The database does not keep payment references unique: two checkouts of one cart at
    /// once (a double click) both become orders. (Caught by one-order-per-cart.)
    #[cfg(feature = "planted-bugs")]
    pub cart_paid_twice: bool,
    /// Checkout stops trying the database for good after its first failed placement (a
    /// circuit breaker that never closes): the shop never takes another order once a
    /// database fault has passed. (Caught by recovers.)
    #[cfg(feature = "planted-bugs")]
    pub checkout_breaker_never_closes: bool,
}

impl Bugs {
    pub fn ack_before_effect(&self) -> bool {
        #[cfg(feature = "planted-bugs")]
        return self.ack_before_effect;
        #[cfg(not(feature = "planted-bugs"))]
        false
    }

    pub fn stale_shard_map(&self) -> bool {
        #[cfg(feature = "planted-bugs")]
        return self.stale_shard_map;
        #[cfg(not(feature = "planted-bugs"))]
        false
    }

    pub fn skip_stock_check(&self) -> bool {
        #[cfg(feature = "planted-bugs")]
        return self.skip_stock_check;
        #[cfg(not(feature = "planted-bugs"))]
        false
    }

    pub fn cart_in_memory(&self) -> bool {
        #[cfg(feature = "planted-bugs")]
        return self.cart_in_memory;
        #[cfg(not(feature = "planted-bugs"))]
        false
    }

    pub fn shard_blind_ids(&self) -> bool {
        #[cfg(feature = "planted-bugs")]
        return self.shard_blind_ids;
        #[cfg(not(feature = "planted-bugs"))]
        false
    }

    pub fn worker_gives_up(&self) -> bool {
        #[cfg(feature = "planted-bugs")]
        return self.worker_gives_up;
        #[cfg(not(feature = "planted-bugs"))]
        false
    }

    pub fn publisher_never_reconnects(&self) -> bool {
        #[cfg(feature = "planted-bugs")]
        return self.publisher_never_reconnects;
        #[cfg(not(feature = "planted-bugs"))]
        false
    }

    pub fn email_without_key(&self) -> bool {
        #[cfg(feature = "planted-bugs")]
        return self.email_without_key;
        #[cfg(not(feature = "planted-bugs"))]
        false
    }

    pub fn skip_failed_jobs(&self) -> bool {
        #[cfg(feature = "planted-bugs")]
        return self.skip_failed_jobs;
        #[cfg(not(feature = "planted-bugs"))]
        false
    }

    pub fn save_only_growing_carts(&self) -> bool {
        #[cfg(feature = "planted-bugs")]
        return self.save_only_growing_carts;
        #[cfg(not(feature = "planted-bugs"))]
        false
    }

    pub fn history_by_modulo(&self) -> bool {
        #[cfg(feature = "planted-bugs")]
        return self.history_by_modulo;
        #[cfg(not(feature = "planted-bugs"))]
        false
    }

    pub fn report_first_shard_only(&self) -> bool {
        #[cfg(feature = "planted-bugs")]
        return self.report_first_shard_only;
        #[cfg(not(feature = "planted-bugs"))]
        false
    }

    pub fn cart_paid_twice(&self) -> bool {
        #[cfg(feature = "planted-bugs")]
        return self.cart_paid_twice;
        #[cfg(not(feature = "planted-bugs"))]
        false
    }

    pub fn checkout_breaker_never_closes(&self) -> bool {
        #[cfg(feature = "planted-bugs")]
        return self.checkout_breaker_never_closes;
        #[cfg(not(feature = "planted-bugs"))]
        false
    }
}

/// PLANTED BUG (`email_without_key`): a mail client that sends the email without its
/// idempotency key ("the provider's API works without it"). It does, until a send times out
/// after the provider delivered it: the retry is a second email, and the customer wonders
/// whether they paid twice.
pub struct KeylessMailer {
    pub inner: Arc<dyn Mailer>,
}

#[async_trait]
impl Mailer for KeylessMailer {
    async fn send(&self, email: &Email) -> Result<(), PortError> {
        let email = Email {
            idempotency_key: None,
            ..email.clone()
        };
        self.inner.send(&email).await
    }
}

/// PLANTED BUG (`publisher_never_reconnects`): a "circuit breaker" in front of the broker
/// that opens on the first failure and has no way to close again. Real breakers let a trial
/// request through after a while (half-open) and close when it succeeds; without that, a
/// broker outage of a minute stops the side work for good.
pub struct StuckPublisher {
    pub inner: Arc<dyn Publisher>,
    pub open: AtomicBool,
}

#[async_trait]
impl Publisher for StuckPublisher {
    async fn publish(&self, topic: &str, key: u64, payload: Vec<u8>) -> Result<(), PortError> {
        if self.open.load(Ordering::Relaxed) {
            return Err(PortError::Unavailable("broker: circuit open".into()));
        }
        let result = self.inner.publish(topic, key, payload).await;
        if result.is_err() {
            self.open.store(true, Ordering::Relaxed);
        }
        result
    }
}

/// PLANTED BUG (`cart_in_memory`): a "cache" in front of the shared session store that
/// answers from this process's memory when it can. Behind a load balancer, the next request
/// of a visitor may go to another replica, which changes the session there; when a later
/// request comes back here, this replica serves its stale copy, and the cart loses what was
/// added elsewhere. A stateless replica must not keep state.
pub struct StaleSessionCache {
    pub inner: Arc<dyn SessionStore>,
    pub cache: Mutex<BTreeMap<SessionId, Session>>,
}

#[async_trait]
impl SessionStore for StaleSessionCache {
    async fn load(&self, id: &SessionId) -> Result<Option<Session>, PortError> {
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned();
        match cached {
            Some(s) => Ok(Some(s)),
            None => self.inner.load(id).await,
        }
    }

    async fn save(&self, id: &SessionId, session: &Session) -> Result<(), PortError> {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), session.clone());
        self.inner.save(id, session).await
    }
}

/// PLANTED BUG (`save_only_growing_carts`): a write-saving "optimisation" in front of the
/// session store that skips a save unless the cart has more lines than the stored one. Page
/// views change nothing, so it seems safe, until a shopper removes an item: the reply shows
/// the cart without it, the store still has it, and checkout charges for it.
pub struct GrowOnlySessions {
    pub inner: Arc<dyn SessionStore>,
}

#[async_trait]
impl SessionStore for GrowOnlySessions {
    async fn load(&self, id: &SessionId) -> Result<Option<Session>, PortError> {
        self.inner.load(id).await
    }

    async fn save(&self, id: &SessionId, session: &Session) -> Result<(), PortError> {
        let stored = self.inner.load(id).await?;
        let grows = stored.is_none_or(|s| {
            session.cart.len() > s.cart.len() || session.customer_id != s.customer_id
        });
        if grows {
            self.inner.save(id, session).await
        } else {
            Ok(())
        }
    }
}

/// PLANTED BUG (`checkout_breaker_never_closes`): a "circuit breaker" in front of the database
/// for checkout that opens on the first failed placement and never closes, so that a struggling
/// database is not hammered. It is not: once a database fault has come and gone, every
/// checkout still fails at once, and the shop sells nothing more while every page looks fine.
/// (A real breaker lets a trial request through after a while and closes when it succeeds.)
pub struct StuckCheckout {
    pub inner: Arc<dyn Store>,
    pub open: AtomicBool,
}

#[async_trait]
impl Store for StuckCheckout {
    async fn list_products(&self, limit: usize) -> Result<Vec<Product>, PortError> {
        self.inner.list_products(limit).await
    }
    async fn product(&self, id: ProductId) -> Result<Option<ProductPage>, PortError> {
        self.inner.product(id).await
    }
    async fn place_order(&self, order: NewOrder) -> Result<Placement, PortError> {
        if self.open.load(Ordering::Relaxed) {
            return Err(PortError::Unavailable("db: circuit open".into()));
        }
        let placed = self.inner.place_order(order).await;
        if placed.is_err() {
            self.open.store(true, Ordering::Relaxed);
        }
        placed
    }
    async fn settle(
        &self,
        customer: CustomerId,
        payment_ref: &str,
    ) -> Result<Settlement, PortError> {
        self.inner.settle(customer, payment_ref).await
    }
    async fn orders_for(&self, customer: CustomerId) -> Result<Vec<Order>, PortError> {
        self.inner.orders_for(customer).await
    }
    async fn record_stock_movement(&self, order: &Order) -> Result<(), PortError> {
        self.inner.record_stock_movement(order).await
    }
    async fn create_shipping_label(&self, order: &Order) -> Result<(), PortError> {
        self.inner.create_shipping_label(order).await
    }
    async fn sales_report(&self) -> Result<SalesReport, PortError> {
        self.inner.sales_report().await
    }
    async fn unpublished(&self, limit: usize) -> Result<Vec<Order>, PortError> {
        self.inner.unpublished(limit).await
    }
    async fn mark_published(&self, orders: &[Order]) -> Result<(), PortError> {
        self.inner.mark_published(orders).await
    }
}
