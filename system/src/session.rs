//! Sessions: the id in the cookie, the record behind it, and how ids are made. Where sessions
//! are kept is a port (`ports::SessionStore`); the in-process store of the naive design is
//! `memory::InMemorySessions`, beside the other in-memory ports.
//!
//! Must not: draw randomness from the OS or a thread-local generator. Ids come from a generator
//! seeded with a value handed in by whoever starts the shop (the simulator passes a seeded
//! value, a real server passes one drawn from the OS at start-up).

use std::collections::BTreeMap;
use std::sync::Mutex;

use rand_chacha::ChaCha12Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::model::{CustomerId, ProductId};

/// The opaque id a browser carries in its `sid` cookie: 32 lowercase hex digits (128 bits).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SessionId(String);

impl SessionId {
    /// Accepts only well-formed ids, so that a forged cookie cannot smuggle odd keys into a
    /// session store.
    pub fn parse(s: &str) -> Option<SessionId> {
        let ok = s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| SessionId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Makes session ids from a seeded ChaCha generator.
pub struct SessionIds {
    rng: Mutex<ChaCha12Rng>,
}

impl SessionIds {
    pub fn from_seed(seed: u64) -> SessionIds {
        SessionIds {
            rng: Mutex::new(ChaCha12Rng::seed_from_u64(seed)),
        }
    }

    pub fn next(&self) -> SessionId {
        let mut bytes = [0u8; 16];
        // A poisoned lock only means another request panicked mid-draw; the generator is still
        // a valid generator, so keep going rather than take the shop down.
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        rng.fill_bytes(&mut bytes);
        let mut s = String::with_capacity(32);
        for b in bytes {
            s.push_str(&format!("{b:02x}"));
        }
        SessionId(s)
    }
}

/// One item in a cart: how many, and the unit price seen when it was added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartItem {
    pub quantity: u32,
    pub price_cents: u64,
}

/// Everything the shop remembers about a visitor between requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Set by `POST /login`; checkout and order history need it.
    pub customer_id: Option<CustomerId>,
    /// Product id -> item. A `BTreeMap` so the cart always lists in the same order.
    pub cart: BTreeMap<ProductId, CartItem>,
    /// How many checkouts this session has attempted: part of the payment idempotency key.
    pub checkouts: u32,
}
