//! The designs, as choices: which implementation stands behind each of the shop's ports, and
//! the parameters the simulated services take from the scenario. The same system code in
//! every design; only the choices differ.
//!
//! | design     | app tier                                    | sessions       | side work        | database             |
//! |------------|---------------------------------------------|----------------|------------------|----------------------|
//! | vertical   | one big host                                | in its memory  | inline           | one                  |
//! | horizontal | N small replicas, load balancer, autoscaler | external store | inline           | one                  |
//! | queued     | as horizontal                               | external store | broker + workers | one                  |
//! | sharded    | as horizontal                               | external store | broker + workers | N shards by customer |
//!
//! Must not: create nodes or run anything (`build` does), or contain shop logic.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::scenario::{Scenario, ShardStrategy};
use crate::world::{broker, sessions};
use scalelab_system::bugs::Bugs;
use scalelab_system::exercises::Exercise;
use scalelab_system::shard::{ShardMap, Strategy};

/// Where browsers reach the naive design's one app host.
pub const APP: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)), 80);
/// Where browsers reach the load balancer of the scaled designs.
pub const LB: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 80);
/// The one database of the unsharded designs (shard 0's address).
pub const DB: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 2, 1)), 5432);
pub const MAIL: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 3, 1)), 25);
pub const SESSIONS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 4, 1)), 6379);

/// Database shard `i` (shard 0 is the single database of the unsharded designs).
pub fn db_addr(shard: u32) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 2, shard as u8 + 1)), 5432)
}

/// A design of the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Design {
    Vertical,
    Horizontal,
    Queued,
    Sharded,
}

impl Design {
    /// Every design the simulator can run, in the order reports show them.
    pub const ALL: [Design; 4] = [
        Design::Vertical,
        Design::Horizontal,
        Design::Queued,
        Design::Sharded,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Design::Vertical => "vertical",
            Design::Horizontal => "horizontal",
            Design::Queued => "queued",
            Design::Sharded => "sharded",
        }
    }

    pub fn parse(s: &str) -> Option<Design> {
        Design::ALL.into_iter().find(|d| d.name() == s)
    }

    /// How this design wires the shop's ports.
    pub fn wiring(self, scn: &Scenario) -> Wiring {
        let h = &scn.horizontal;
        match self {
            Design::Vertical => Wiring {
                db_pool: scn.database.pool_size.get(),
                external_sessions: false,
                queued: false,
                shards: 1,
                bugs: Bugs::default(),
                exercise: Exercise::default(),
            },
            Design::Horizontal | Design::Queued | Design::Sharded => Wiring {
                db_pool: h.db_pool_size.get(),
                external_sessions: true,
                queued: self != Design::Horizontal,
                shards: if self == Design::Sharded {
                    scn.sharded.shards.get()
                } else {
                    1
                },
                bugs: Bugs::default(),
                exercise: Exercise::default(),
            },
        }
    }
}

/// Which implementations stand behind the ports on an app host or a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wiring {
    /// Database connections per process (per shard when sharded).
    pub db_pool: u32,
    /// Sessions in the session store (else in the process's memory).
    pub external_sessions: bool,
    /// Side work through the broker (else inline).
    pub queued: bool,
    /// Database shards; 1 is one unsharded database.
    pub shards: u32,
    /// Planted bugs (tests only; see `scalelab_system::bugs`).
    pub bugs: Bugs,
    /// Student code swapped in by `scalelab lesson check` (see `scalelab_system::exercises`);
    /// the default is the shop's own.
    pub exercise: Exercise,
}

/// The shard map a run with `wiring` uses: the scenario's, or lesson 10's placement when the
/// grader swaps a student's in (the router and the checkers then agree on it).
pub fn wired_shard_map(scn: &Scenario, wiring: Wiring) -> ShardMap {
    wiring.exercise.shard_map(shard_map(scn))
}

/// The shard map of the scenario's `[sharded]` section.
pub fn shard_map(scn: &Scenario) -> ShardMap {
    let strategy = match scn.sharded.strategy {
        ShardStrategy::Modulo => Strategy::Modulo,
        ShardStrategy::Hash => Strategy::Hash,
        ShardStrategy::ConsistentHash => Strategy::ConsistentHash {
            vnodes: scn.sharded.vnodes.get(),
        },
    };
    ShardMap::new(scn.sharded.shards.get(), strategy)
}

fn ms(v: f64) -> Duration {
    Duration::from_secs_f64(v / 1000.0)
}

/// The Kafka-like cluster's parameters, from the scenario.
pub fn broker_params(scn: &Scenario) -> broker::Params {
    let q = &scn.queued;
    broker::Params {
        brokers: q.brokers.get(),
        partitions: q.partitions.get(),
        replication: q.replication.get_ref().get(),
        retention_messages: q.retention_messages.get() as usize,
        session_timeout: ms(q.session_timeout_ms.0),
        heartbeat: ms(q.heartbeat_ms.0),
        poll_wait: Duration::from_millis(20),
        timeout: ms(q.timeout_ms.0),
    }
}

/// The Redis-like session store's parameters, from the scenario.
pub fn session_params(scn: &Scenario) -> sessions::Params {
    let p = &scn.session_store;
    sessions::Params {
        command_cpu: ms(p.command_cpu_ms.0),
        ttl: Duration::from_secs_f64(scn.app.session_ttl_s.0),
        max_connections: p.max_connections.get(),
        pool_size: p.pool_size.get(),
        timeout: ms(p.timeout_ms.0),
    }
}
