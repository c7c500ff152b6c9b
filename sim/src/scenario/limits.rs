//! The most a scenario may ask for: each count that the simulator turns into nodes, tasks or
//! rows has a limit, checked as the value is read (so the error points at it) and refused
//! with the limit and why. Without them a typo could exhaust the machine: a host of
//! 4,294,967,295 cores took 4.5 GB in 30 s before it was stopped, and a curve of 10^12
//! sessions per second hung without a word.
//!
//! The limits are far above every shipped scenario; they bound what one machine can simulate,
//! not what a lesson may try.
//!
//! Must not: judge whether a scenario makes sense (`mod.rs`'s `check` does the rules between
//! values); only how much of the machine it may take.

use std::num::NonZeroU32;

use serde::de::{Deserializer, Error as _};
use serde::Deserialize;

use crate::numbers::NonNegative;

/// The shortest one-way hop, in ms: 10 us, a hop on loopback. The vendored madsim resolves
/// any delay to the nanosecond; below this the hops would outnumber the work being measured
/// and no real network is that fast.
pub const LATENCY_MS_MIN: f64 = 0.01;
/// Cores of one simulated host.
pub const CORES: u32 = 1024;
/// Arrivals per second at any point of the curve.
pub const RATE: f64 = 100_000.0;
/// Users of a closed workload.
pub const USERS: u32 = 1_000_000;
/// Customers of the shop.
pub const CUSTOMERS: u32 = 100_000_000;
/// Products in the catalog.
pub const PRODUCTS: u32 = 100_000;
/// App replicas.
pub const REPLICAS: u32 = 5000;
/// Brokers in the cluster.
pub const BROKERS: u32 = 16;
/// Partitions of the orders topic.
pub const PARTITIONS: u32 = 1024;
/// Workers of one kind of job.
pub const WORKERS: u32 = 1000;
/// Database shards.
pub const SHARDS: u32 = 64;
/// Units of each product in stock.
pub const STOCK: u32 = 1_000_000_000;
/// Virtual seconds of arrivals: one simulated day.
pub const DURATION_S: f64 = 86_400.0;

fn count<'de, D: Deserializer<'de>>(d: D, max: u32, why: &str) -> Result<NonZeroU32, D::Error> {
    let n = NonZeroU32::deserialize(d)?;
    if n.get() > max {
        return Err(D::Error::custom(format!(
            "{n} is more than the limit of {max}: {why}"
        )));
    }
    Ok(n)
}

pub fn cores<'de, D: Deserializer<'de>>(d: D) -> Result<NonZeroU32, D::Error> {
    count(
        d,
        CORES,
        "each core of a simulated host is booked on its own, so memory and time grow with cores",
    )
}

pub fn rate<'de, D: Deserializer<'de>>(d: D) -> Result<NonNegative, D::Error> {
    let rate = NonNegative::deserialize(d)?;
    if rate.0 > RATE {
        return Err(D::Error::custom(format!(
            "{} sessions per second is more than the limit of {RATE}: every session is a \
             simulated browser of its own, and at the limit a minute is already millions of \
             requests to simulate",
            rate.0
        )));
    }
    Ok(rate)
}

pub fn users<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NonZeroU32>, D::Error> {
    count(
        d,
        USERS,
        "every user is a simulated browser, running all the time",
    )
    .map(Some)
}

pub fn customers<'de, D: Deserializer<'de>>(d: D) -> Result<NonZeroU32, D::Error> {
    count(
        d,
        CUSTOMERS,
        "the simulated shop keeps its customers' sessions and orders in memory; more than a run \
         of hours can reach is more likely a typo than a plan",
    )
}

pub fn products<'de, D: Deserializer<'de>>(d: D) -> Result<NonZeroU32, D::Error> {
    count(
        d,
        PRODUCTS,
        "every database, and every shard, holds the whole catalog with a row lock per product",
    )
}

pub fn replicas<'de, D: Deserializer<'de>>(d: D) -> Result<NonZeroU32, D::Error> {
    count(
        d,
        REPLICAS,
        "each replica is a simulated node, as many as max_replicas allows",
    )
}

pub fn brokers<'de, D: Deserializer<'de>>(d: D) -> Result<NonZeroU32, D::Error> {
    count(
        d,
        BROKERS,
        "each broker is a simulated node with an address of its own, and replication talks to \
         every one",
    )
}

pub fn partitions<'de, D: Deserializer<'de>>(d: D) -> Result<NonZeroU32, D::Error> {
    count(
        d,
        PARTITIONS,
        "every consumer group keeps an offset per partition, and every poll looks at them all",
    )
}

pub fn workers<'de, D: Deserializer<'de>>(d: D) -> Result<NonZeroU32, D::Error> {
    count(
        d,
        WORKERS,
        "each worker is a simulated node, polling all the time",
    )
}

pub fn shards<'de, D: Deserializer<'de>>(d: D) -> Result<NonZeroU32, D::Error> {
    count(
        d,
        SHARDS,
        "each shard is a simulated database node with an address of its own (10.0.2.1 on), and \
         the sales report asks every one",
    )
}

pub fn stock<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = u32::deserialize(d)?;
    if n > STOCK {
        return Err(D::Error::custom(format!(
            "{n} is more than the limit of {STOCK}: no run sells that many of one product, so \
             it is more likely a typo than a plan"
        )));
    }
    Ok(n)
}
