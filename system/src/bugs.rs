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

use crate::ports::{PortError, Publisher, SessionStore};
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
    /// The database does not keep payment references unique: two checkouts of one cart at
    /// once (a double click) both become orders. (Caught by one-order-per-cart.)
    #[cfg(feature = "planted-bugs")]
    pub cart_paid_twice: bool,
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

    pub fn cart_paid_twice(&self) -> bool {
        #[cfg(feature = "planted-bugs")]
        return self.cart_paid_twice;
        #[cfg(not(feature = "planted-bugs"))]
        false
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
