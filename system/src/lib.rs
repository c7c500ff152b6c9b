//! scalelab-system: the web shop that scalelab scales.
//!
//! This crate is the product code: the storefront HTTP API, sessions, cart and checkout, the
//! handlers for the side work of a checkout, and the *ports* (traits) through which all of it
//! reaches infrastructure. It is deliberately small and plain, because students read it.
//!
//! It must not know that it may be simulated. It reads time only through `tokio::time` and
//! randomness only from values handed to it, and it keeps no global mutable state: the same code
//! runs on real tokio and, unchanged, under the madsim simulator (where `tokio` is madsim-tokio).
//!
//! # Layout
//!
//! - [`model`]: products, carts, orders: plain data.
//! - [`ports`]: the traits for storage, sessions, mail, payments and side work. Every design
//!   (vertical, horizontal, queued, sharded) is a different choice of implementations for these.
//! - [`session`]: session ids and the session record.
//! - [`api`]: the storefront's routes and the JSON bodies of its requests and replies, shared
//!   by the handlers and every client.
//! - [`storefront`]: the axum router and its handlers (browse, cart, checkout, order history).
//! - [`worker`]: the side work of a checkout (confirmation email, inventory update, shipping
//!   label), and the inline dispatcher that runs it inside the checkout request.
//! - [`outbox`]: the transactional outbox of the queued designs: checkout writes the side
//!   work's message with the order, in one transaction; a relay publishes it to the broker.
//! - [`shard`]: sharding by customer: the shard map, its strategies, and the routing `Store`.
//! - [`memory`]: in-memory implementations of the ports (among them `InMemorySessions`, the
//!   naive design's session store), for tests and the embedded default.
//! - [`memory_broker`]: a Kafka-shaped broker in process memory (partitions, consumer groups,
//!   commits), for tests and `scalelab serve`'s embedded default.
//! - [`server`]: the accept loop that serves a router over any tokio-compatible listener.
//! - [`bugs`]: planted bugs that tests switch on to prove the simulator's checkers catch them.
//! - [`exercises`]: the course's code exercises (a worker loop, a shard placement) that a
//!   student edits; the shop runs them only when `scalelab lesson check` asks.
//! - `conformance` (feature `conformance`): what every implementation of a port must do.
//! - `real` (real world only): the ports on SQLite/PostgreSQL, Redis and NATS JetStream, and
//!   the whole real deployment of each design (`real::deploy`), graceful shutdown included.

pub mod api;
pub mod bugs;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod exercises;
pub mod memory;
pub mod memory_broker;
pub mod model;
pub mod outbox;
pub mod ports;
#[cfg(not(madsim))]
pub mod real;
pub mod server;
pub mod session;
pub mod shard;
pub mod storefront;
pub mod worker;
