//! Conformance suites: what every implementation of a port must do, written once and run
//! against each implementation (in process, simulated, and later Redis, SQL, NATS).
//!
//! Compiled only with the `conformance` feature, which the test suites turn on. Each function
//! panics, with a message naming the broken promise, when the implementation misbehaves.
//!
//! Must not: depend on any one implementation.

use std::time::Duration;

use crate::model::CustomerId;
use crate::ports::SessionStore;
use crate::session::{CartItem, Session, SessionId};

fn id(n: u8) -> SessionId {
    let hex = format!("{n:02x}").repeat(16);
    SessionId::parse(&hex).unwrap_or_else(|| panic!("{hex} is a well-formed session id"))
}

fn session(customer: CustomerId) -> Session {
    let mut s = Session {
        customer_id: Some(customer),
        ..Session::default()
    };
    s.cart.insert(
        7,
        CartItem {
            quantity: 2,
            price_cents: 1999,
        },
    );
    s
}

/// The `SessionStore` promises. `ttl` is the time-to-live the store was configured with.
pub async fn session_store(store: &dyn SessionStore, ttl: Duration) {
    let (a, b) = (id(1), id(2));
    assert_eq!(
        store.load(&a).await,
        Ok(None),
        "an unknown session loads as None"
    );

    store.save(&a, &session(1)).await.expect("save a");
    assert_eq!(
        store.load(&a).await,
        Ok(Some(session(1))),
        "a saved session loads back as saved"
    );

    store.save(&b, &session(2)).await.expect("save b");
    let mut changed = session(1);
    changed.cart.clear();
    changed.checkouts = 3;
    store.save(&a, &changed).await.expect("save a again");
    assert_eq!(
        store.load(&a).await,
        Ok(Some(changed)),
        "a save replaces the session"
    );
    assert_eq!(
        store.load(&b).await,
        Ok(Some(session(2))),
        "sessions are independent"
    );

    // Expiry: a session not touched for longer than its time-to-live is gone.
    tokio::time::sleep(ttl * 2).await;
    assert_eq!(
        store.load(&a).await,
        Ok(None),
        "an idle session expires after its time-to-live"
    );
}
