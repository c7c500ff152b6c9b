//! Reference solution of lesson 10's exercise (`system/src/exercises/shard_key.rs`): jump
//! consistent hashing, after Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash
//! Algorithm" (2014). Compiled only into test builds (the `lesson-solutions` feature of
//! `scalelab-system`).
//!
//! Must not: be compiled into the `scalelab` a student runs, or be read before trying.

use crate::model::CustomerId;
use crate::shard::ShardId;

/// The shard, from `0` to `shards - 1`, that holds `customer`'s data.
///
/// Think of the customer walking along the shard numbers 0, 1, 2, ... with a die seeded by
/// their id: at each shard they stay behind with probability 1/(number of shards so far).
/// Growing from n to n+1 shards then moves exactly the customers that stay at the new shard,
/// about 1/(n+1) of them, and nobody moves between old shards. The walk jumps ahead instead
/// of stepping, so it takes about ln(n) steps, and it needs no table.
pub fn shard_for(customer: CustomerId, shards: u32) -> ShardId {
    let shards = i64::from(shards.max(1));
    let mut state = customer;
    let mut here: i64 = 0;
    let mut next: i64 = 0;
    while next < shards {
        here = next;
        // One step of a 64-bit linear congruential generator: the customer's die.
        state = state
            .wrapping_mul(2_862_933_555_777_941_757)
            .wrapping_add(1);
        // The next shard at which this customer would stay behind.
        let draw = ((state >> 33) + 1) as f64;
        next = ((here + 1) as f64 * ((1u64 << 31) as f64 / draw)) as i64;
    }
    here as ShardId
}
