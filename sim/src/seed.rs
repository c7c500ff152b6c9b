//! The seed streams: every random draw of a run's workload comes from the run's seed, through
//! an independent ChaCha stream per purpose, so that adding a draw for one purpose does not
//! shift the draws of another (arrivals stay the same when the funnel changes).
//!
//! Must not: be used inside the simulated infrastructure, which draws from `madsim::rand`
//! (seeded by madsim from the same seed).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The independent purposes that draw randomness from the run's seed.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    Arrivals,
    Customers,
    Funnel,
    /// The swarm schedule of random faults.
    Faults,
    /// Which shoppers a hot-shard or hot-product fault redirects.
    Skew,
    /// A swarm seed's variations of the world (scarce stock, a late mail provider).
    Variation,
    /// Which shoppers click "buy" twice (`funnel.double_click`).
    DoubleClick,
    /// Which shoppers have a second tab open, and what it does (`funnel.second_tab`).
    SecondTab,
    /// Which swarm kills and partitions are aimed at the outbox relay (`swarm.relay_share`).
    RelayFaults,
    /// Which swarm network faults are confined to the links between two roles, and which
    /// (`swarm.network_between`).
    NetworkLinks,
}

/// A generator for one purpose, derived from the run's seed.
pub fn stream(seed: u64, purpose: Purpose) -> ChaCha8Rng {
    let tag: &[u8] = match purpose {
        Purpose::Arrivals => b"arrivals",
        Purpose::Customers => b"customers",
        Purpose::Funnel => b"funnel",
        Purpose::Faults => b"faults",
        Purpose::Skew => b"skew",
        Purpose::Variation => b"variation",
        Purpose::DoubleClick => b"double-click",
        Purpose::SecondTab => b"second-tab",
        Purpose::RelayFaults => b"relay-faults",
        Purpose::NetworkLinks => b"network-links",
    };
    let mut key = seed.to_le_bytes().to_vec();
    key.extend_from_slice(tag);
    ChaCha8Rng::seed_from_u64(xxhash_rust::xxh3::xxh3_64(&key))
}
