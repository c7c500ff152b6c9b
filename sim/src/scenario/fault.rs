//! Faults: what can go wrong, which role it hits, and when.
//!
//! Owns the fault kinds of DESIGN.md §7 and the roles they target, the scenario's fault
//! timeline entries, the swarm schedule drawn from the seed, and live commands. A fault names
//! a *role* (`app`, `session-store`, `db`, `shard:2`, `broker`, `worker`, `mail`), never a
//! node: the same fault goes to all four designs, and each maps it onto its own nodes (or
//! reports "n/a" where it has no such role).
//!
//! Must not: know how a design is built or apply anything; `inject` does that at tick
//! boundaries. Randomness here comes only from the run's seed (`seed::stream`).

use std::fmt;
use std::str::FromStr;

use rand::seq::SliceRandom;
use rand::Rng;
use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize, Serializer};

use crate::numbers::{NonNegative, Positive, Probability};
use crate::seed::{stream, Purpose};

/// Something every design understands as a part of the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The app tier: the one big host, or one replica (the oldest taking traffic).
    App,
    /// The external session store (stateless designs only).
    SessionStore,
    /// The database: the one server, or every shard.
    Db,
    /// One database shard (sharded design only).
    Shard(u32),
    /// The broker cluster (queued designs only).
    Broker,
    /// One worker service (queued designs only): the first confirmation-email worker.
    Worker,
    /// The external mail provider.
    Mail,
}

impl Role {
    /// The names a scenario may use, for error messages.
    pub const NAMES: &'static str =
        "`app`, `session-store`, `db`, `shard:N`, `broker`, `worker` or `mail`";
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::App => f.write_str("app"),
            Role::SessionStore => f.write_str("session-store"),
            Role::Db => f.write_str("db"),
            Role::Shard(n) => write!(f, "shard:{n}"),
            Role::Broker => f.write_str("broker"),
            Role::Worker => f.write_str("worker"),
            Role::Mail => f.write_str("mail"),
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        Ok(match s {
            "app" => Role::App,
            "session-store" => Role::SessionStore,
            "db" => Role::Db,
            "broker" => Role::Broker,
            "worker" => Role::Worker,
            "mail" => Role::Mail,
            _ => match s.strip_prefix("shard:").map(str::parse::<u32>) {
                Some(Ok(n)) => Role::Shard(n),
                _ => return Err(format!("unknown role `{s}`, expected {}", Role::NAMES)),
            },
        })
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }
}

/// One fault. Durations are in virtual seconds; a fault with a duration heals itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    /// The role's node dies: its tasks and in-memory state are gone. With `restart_after_s`
    /// it boots again after that long (databases, brokers and the session store keep what
    /// they had written: their disks survive).
    Kill {
        target: Role,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restart_after_s: Option<Positive>,
    },
    /// The role's CPU does each piece of work `factor` times slower (a noisy neighbour, a
    /// throttled VM).
    Slow {
        target: Role,
        factor: Positive,
        duration_s: Positive,
    },
    /// No message passes between the nodes of the two roles, either way.
    Partition {
        between: [Role; 2],
        duration_s: Positive,
    },
    /// Every network hop gets slower by `extra_latency_ms`, and loses a share `loss` of
    /// its messages (a lost message on a connection stalls it until a timeout gives up).
    Network {
        #[serde(default = "zero")]
        extra_latency_ms: NonNegative,
        #[serde(default = "no_loss")]
        loss: Probability,
        duration_s: Positive,
    },
    /// The broker cluster goes down, or with `leader_only` just the broker leading
    /// partition 0.
    BrokerOutage {
        #[serde(default)]
        leader_only: bool,
        duration_s: Positive,
    },
    /// A database server (`db`: all of them; `shard:N`: one) goes down and comes back after
    /// `duration_s`, as a failover to a standby would.
    DbDown { target: Role, duration_s: Positive },
    /// A share of new shoppers are customers who live on shard `shard` (a celebrity's
    /// followers, one region's sale). The same shoppers arrive in every design; only the
    /// sharded one feels it as a hot shard.
    HotShard {
        shard: u32,
        share: Probability,
        duration_s: Positive,
    },
    /// A share of what new shoppers look at and buy is product `product` (a doorbuster):
    /// its inventory row becomes hot in every design.
    HotProduct {
        product: u32,
        share: Probability,
        duration_s: Positive,
    },
    /// The mail provider refuses every connection.
    MailOutage { duration_s: Positive },
}

fn zero() -> NonNegative {
    NonNegative(0.0)
}

fn no_loss() -> Probability {
    Probability(0.0)
}

impl Fault {
    /// The kinds, as scenario files spell them.
    pub const KINDS: [&'static str; 9] = [
        "kill",
        "slow",
        "partition",
        "network",
        "broker-outage",
        "db-down",
        "hot-shard",
        "hot-product",
        "mail-outage",
    ];

    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Kill { .. } => "kill",
            Fault::Slow { .. } => "slow",
            Fault::Partition { .. } => "partition",
            Fault::Network { .. } => "network",
            Fault::BrokerOutage { .. } => "broker-outage",
            Fault::DbDown { .. } => "db-down",
            Fault::HotShard { .. } => "hot-shard",
            Fault::HotProduct { .. } => "hot-product",
            Fault::MailOutage { .. } => "mail-outage",
        }
    }

    /// How long until it heals itself, in seconds; `None` for a kill without restart.
    pub fn duration_s(&self) -> Option<f64> {
        match self {
            Fault::Kill {
                restart_after_s, ..
            } => restart_after_s.map(|d| d.0),
            Fault::Slow { duration_s, .. }
            | Fault::Partition { duration_s, .. }
            | Fault::Network { duration_s, .. }
            | Fault::BrokerOutage { duration_s, .. }
            | Fault::DbDown { duration_s, .. }
            | Fault::HotShard { duration_s, .. }
            | Fault::HotProduct { duration_s, .. }
            | Fault::MailOutage { duration_s } => Some(duration_s.0),
        }
    }

    /// Checks what serde cannot: which roles make sense for the kind, and that shards and
    /// products exist. `shards` and `products` are the scenario's.
    pub fn check(&self, shards: u32, products: u32) -> Result<(), String> {
        let shard_ok = |role: &Role| match role {
            Role::Shard(n) if *n >= shards => Err(format!(
                "shard:{n} does not exist: the scenario has {shards} shard(s), shard:0 to shard:{}",
                shards.saturating_sub(1)
            )),
            _ => Ok(()),
        };
        match self {
            Fault::Kill { target, .. } => shard_ok(target),
            Fault::Slow { target, .. } => match target {
                Role::App | Role::SessionStore | Role::Db | Role::Shard(_) => shard_ok(target),
                other => Err(format!(
                    "`slow` needs a role with modelled CPU (app, session-store, db or shard:N), not `{other}`"
                )),
            },
            Fault::Partition { between, .. } => {
                if between[0] == between[1] {
                    return Err(format!(
                        "a partition is between two different roles, got `{}` twice",
                        between[0]
                    ));
                }
                shard_ok(&between[0]).and(shard_ok(&between[1]))
            }
            Fault::DbDown { target, .. } => match target {
                Role::Db | Role::Shard(_) => shard_ok(target),
                other => Err(format!("`db-down` targets `db` or `shard:N`, not `{other}`")),
            },
            Fault::HotShard { shard, .. } => shard_ok(&Role::Shard(*shard)),
            Fault::HotProduct { product, .. } if *product == 0 || *product > products => Err(
                format!("product {product} does not exist: products are 1 to {products}"),
            ),
            _ => Ok(()),
        }
    }
}

/// A fault of the scenario's timeline: `at_s` plus the fault's own keys, in one table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimedFault {
    pub at_s: f64,
    #[serde(flatten)]
    pub fault: Fault,
}

impl<'de> Deserialize<'de> for TimedFault {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TimedFault, D::Error> {
        // `at_s` sits next to the fault's own keys; serde's `flatten` would lose the check
        // for unknown keys, so take it out by hand and read the rest as a `Fault`.
        let mut table = toml::Table::deserialize(d)?;
        let at = table
            .remove("at_s")
            .ok_or_else(|| D::Error::custom("a fault needs `at_s`: when it starts, in seconds"))?;
        let at_s = NonNegative::deserialize(at)
            .map_err(|e| D::Error::custom(format!("at_s: {}", e.message().trim())))?;
        if !table.contains_key("kind") {
            return Err(D::Error::custom(format!(
                "a fault needs `kind`, one of {}",
                Fault::KINDS.join(", ")
            )));
        }
        let fault = Fault::deserialize(toml::Value::Table(table))
            .map_err(|e| D::Error::custom(e.message().trim()))?;
        Ok(TimedFault {
            at_s: at_s.0,
            fault,
        })
    }
}

/// What a live user (or a repro file) can do to a running design.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Command {
    /// Inject a fault now.
    Inject { fault: Fault },
    /// End every active fault: restart what is dead, reconnect, restore speed and traffic.
    HealAll,
}

/// A command and the tick (metrics interval) at whose start it was applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scheduled {
    pub tick: u64,
    #[serde(flatten)]
    pub command: Command,
}

/// A swarm schedule: random faults drawn from the seed. Swarm testing switches some kinds off
/// entirely for each seed, so that one seed explores a few kinds hard rather than every kind
/// a little (Groce et al., "Swarm Testing").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Swarm {
    /// How many faults each seed gets.
    pub faults: u32,
    /// The kinds to draw from (all of them if absent).
    #[serde(default)]
    pub kinds: Option<Vec<String>>,
    /// No fault starts before this, in seconds.
    #[serde(default = "zero")]
    pub from_s: NonNegative,
    /// Shortest and longest duration of a drawn fault, in seconds.
    pub min_duration_s: Positive,
    pub max_duration_s: Positive,
}

impl Swarm {
    /// The kinds named in `kinds` must exist.
    pub fn check(&self) -> Result<(), String> {
        for k in self.kinds.iter().flatten() {
            if !Fault::KINDS.contains(&k.as_str()) {
                return Err(format!(
                    "unknown fault kind `{k}` in swarm.kinds, expected one of {}",
                    Fault::KINDS.join(", ")
                ));
            }
        }
        if self.max_duration_s.0 < self.min_duration_s.0 {
            return Err(format!(
                "max_duration_s ({}) is below min_duration_s ({})",
                self.max_duration_s.0, self.min_duration_s.0
            ));
        }
        Ok(())
    }

    /// This seed's faults, in time order: a pure function of the seed and the parameters.
    pub fn schedule(
        &self,
        seed: u64,
        duration_s: f64,
        shards: u32,
        products: u32,
    ) -> Vec<TimedFault> {
        let mut rng = stream(seed, Purpose::Faults);
        let allowed: Vec<&str> = match &self.kinds {
            Some(kinds) => Fault::KINDS
                .into_iter()
                .filter(|k| kinds.iter().any(|x| x == k))
                .collect(),
            None => Fault::KINDS.to_vec(),
        };
        // Swarm: each kind is on with probability 1/2 (at least one stays on), and the kinds
        // that are on get random weights.
        let mut on: Vec<(&str, f64)> = allowed
            .iter()
            .filter(|_| rng.gen_bool(0.5))
            .map(|&k| (k, 0.0))
            .collect();
        if on.is_empty() {
            if let Some(&k) = allowed.choose(&mut rng) {
                on.push((k, 0.0));
            }
        }
        for w in &mut on {
            w.1 = rng.gen_range(0.1..1.0);
        }
        let Ok(dist) = rand::distributions::WeightedIndex::new(on.iter().map(|w| w.1)) else {
            return Vec::new();
        };
        let (min, max) = (self.min_duration_s.0, self.max_duration_s.0);
        let latest = (duration_s - min).max(self.from_s.0);
        let mut faults: Vec<TimedFault> = (0..self.faults)
            .map(|_| {
                let kind = on[rng.sample(&dist)].0;
                let at_s = rng.gen_range(self.from_s.0..=latest).floor();
                let d = Positive(rng.gen_range(min..=max).round().max(1.0));
                let fault = draw(kind, d, shards, products, &mut rng);
                TimedFault { at_s, fault }
            })
            .collect();
        faults.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        faults
    }
}

/// One fault of `kind` lasting `d`, with drawn targets.
fn draw(kind: &str, d: Positive, shards: u32, products: u32, rng: &mut impl Rng) -> Fault {
    let any_role = |rng: &mut dyn rand::RngCore| -> Role {
        let roles = [
            Role::App,
            Role::SessionStore,
            Role::Db,
            Role::Shard(rng.gen_range(0..shards.max(1))),
            Role::Broker,
            Role::Worker,
            Role::Mail,
        ];
        roles[rng.gen_range(0..roles.len())]
    };
    match kind {
        "slow" => Fault::Slow {
            target: [Role::App, Role::SessionStore, Role::Db][rng.gen_range(0..3)],
            factor: Positive(rng.gen_range(2.0..8.0_f64).round()),
            duration_s: d,
        },
        "partition" => {
            let a = any_role(rng);
            let mut b = any_role(rng);
            while b == a {
                b = any_role(rng);
            }
            Fault::Partition {
                between: [a, b],
                duration_s: d,
            }
        }
        "network" => Fault::Network {
            extra_latency_ms: NonNegative(rng.gen_range(0..200) as f64),
            loss: Probability(f64::from(rng.gen_range(0..5u32)) / 100.0),
            duration_s: d,
        },
        "broker-outage" => Fault::BrokerOutage {
            leader_only: rng.gen_bool(0.5),
            duration_s: d,
        },
        "db-down" => Fault::DbDown {
            target: if shards > 1 && rng.gen_bool(0.5) {
                Role::Shard(rng.gen_range(0..shards))
            } else {
                Role::Db
            },
            duration_s: d,
        },
        "hot-shard" => Fault::HotShard {
            shard: rng.gen_range(0..shards.max(1)),
            share: Probability(rng.gen_range(0.3..0.9)),
            duration_s: d,
        },
        "hot-product" => Fault::HotProduct {
            product: rng.gen_range(1..=products.max(1)),
            share: Probability(rng.gen_range(0.3..0.9)),
            duration_s: d,
        },
        "mail-outage" => Fault::MailOutage { duration_s: d },
        _ => Fault::Kill {
            target: any_role(rng),
            restart_after_s: Some(d),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swarm() -> Swarm {
        Swarm {
            faults: 8,
            kinds: None,
            from_s: NonNegative(10.0),
            min_duration_s: Positive(5.0),
            max_duration_s: Positive(30.0),
        }
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for name in [
            "app",
            "session-store",
            "db",
            "shard:3",
            "broker",
            "worker",
            "mail",
        ] {
            let role: Role = name.parse().expect("a valid role");
            assert_eq!(role.to_string(), name);
        }
        let err = "shard:x".parse::<Role>().expect_err("not a role");
        assert!(err.contains("unknown role `shard:x`"), "{err}");
    }

    #[test]
    fn a_swarm_schedule_is_a_function_of_the_seed() {
        let s = swarm();
        assert_eq!(s.schedule(7, 300.0, 4, 500), s.schedule(7, 300.0, 4, 500));
        assert_ne!(s.schedule(7, 300.0, 4, 500), s.schedule(8, 300.0, 4, 500));
    }

    #[test]
    fn swarm_faults_are_valid_and_in_time_order() {
        let s = swarm();
        for seed in 0..200 {
            let faults = s.schedule(seed, 300.0, 4, 500);
            assert_eq!(faults.len(), 8);
            for pair in faults.windows(2) {
                assert!(pair[0].at_s <= pair[1].at_s);
            }
            for f in &faults {
                assert!(f.at_s >= 10.0 && f.at_s <= 295.0, "{f:?}");
                f.fault.check(4, 500).expect("a drawn fault is valid");
            }
        }
    }

    #[test]
    fn swarm_switches_kinds_off_per_seed() {
        let s = Swarm {
            faults: 40,
            ..swarm()
        };
        let kinds = |seed| {
            let mut k: Vec<&str> = s
                .schedule(seed, 300.0, 4, 500)
                .iter()
                .map(|f| f.fault.kind())
                .collect();
            k.sort();
            k.dedup();
            k
        };
        // With 40 faults every kind that is on shows up; some seeds must leave kinds out,
        // and not all seeds the same ones.
        let sets: Vec<Vec<&str>> = (0..20).map(kinds).collect();
        assert!(sets.iter().any(|k| k.len() < Fault::KINDS.len()));
        assert!(sets.windows(2).any(|w| w[0] != w[1]));
    }
}
