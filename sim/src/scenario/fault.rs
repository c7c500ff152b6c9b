//! The fault vocabulary: what can go wrong, which role it hits, and when.
//!
//! Owns the fault kinds and the roles they target, the scenario's timeline entries, and live
//! commands. A fault names a *role* (`app`, `session-store`, `db`, `shard:2`, `broker`,
//! `worker`, `relay`, `mail`), never a node: the same fault goes to all four designs, and
//! each maps it onto its own nodes (or reports "n/a" where it has no such role).
//!
//! Must not: know how a design is built or apply anything (`faults::inject` does, at tick
//! boundaries), or draw randomness (`swarm` does, from the seed).

use std::fmt;
use std::str::FromStr;

use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize, Serializer};

use crate::numbers::{NonNegative, Positive, Probability};

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
    /// One worker service (queued designs only): the first confirmation-email worker. A
    /// partition of `worker` cuts the outbox relay off too (it is a worker service as well).
    Worker,
    /// The outbox relay service (queued designs only): the one node whose relays publish
    /// every database's outbox. Killed, it stops between publishing a batch and marking it
    /// published, and its restart publishes that batch again.
    Relay,
    /// The external mail provider.
    Mail,
}

impl Role {
    /// The names a scenario may use, for error messages.
    pub const NAMES: &'static str =
        "`app`, `session-store`, `db`, `shard:N`, `broker`, `worker`, `relay` or `mail`";
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
            Role::Relay => f.write_str("relay"),
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
            "relay" => Role::Relay,
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
    /// its messages (a lost message on a connection is sent again after a backoff, as TCP
    /// would, so the connection stalls). With `between`, only the links between the two
    /// roles' nodes, both ways: a congested path, a flaky switch in front of one tier.
    Network {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        between: Option<[Role; 2]>,
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

/// The kinds of fault, without their parameters: what a swarm switches on and off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    Kill,
    Slow,
    Partition,
    Network,
    BrokerOutage,
    DbDown,
    HotShard,
    HotProduct,
    MailOutage,
}

impl FaultKind {
    pub const ALL: [FaultKind; 9] = [
        FaultKind::Kill,
        FaultKind::Slow,
        FaultKind::Partition,
        FaultKind::Network,
        FaultKind::BrokerOutage,
        FaultKind::DbDown,
        FaultKind::HotShard,
        FaultKind::HotProduct,
        FaultKind::MailOutage,
    ];

    /// As scenario files spell it.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Slow => "slow",
            FaultKind::Partition => "partition",
            FaultKind::Network => "network",
            FaultKind::BrokerOutage => "broker-outage",
            FaultKind::DbDown => "db-down",
            FaultKind::HotShard => "hot-shard",
            FaultKind::HotProduct => "hot-product",
            FaultKind::MailOutage => "mail-outage",
        }
    }

    /// Every kind's name, for error messages.
    pub fn names() -> String {
        FaultKind::ALL.map(FaultKind::name).join(", ")
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FaultKind {
    type Err = String;

    fn from_str(s: &str) -> Result<FaultKind, String> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown fault kind `{s}`, expected one of {}",
                    FaultKind::names()
                )
            })
    }
}

impl Serialize for FaultKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for FaultKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FaultKind, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }
}

impl Fault {
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Kill { .. } => FaultKind::Kill,
            Fault::Slow { .. } => FaultKind::Slow,
            Fault::Partition { .. } => FaultKind::Partition,
            Fault::Network { .. } => FaultKind::Network,
            Fault::BrokerOutage { .. } => FaultKind::BrokerOutage,
            Fault::DbDown { .. } => FaultKind::DbDown,
            Fault::HotShard { .. } => FaultKind::HotShard,
            Fault::HotProduct { .. } => FaultKind::HotProduct,
            Fault::MailOutage { .. } => FaultKind::MailOutage,
        }
    }

    /// It takes the broker (or part of it) down.
    pub fn takes_broker_down(&self) -> bool {
        matches!(
            self,
            Fault::BrokerOutage { .. }
                | Fault::Kill {
                    target: Role::Broker,
                    ..
                }
        )
    }

    /// The roles it breaks directly (a kill's, slowdown's or outage's target, both sides of
    /// a partition; every role for a network fault; none for traffic skew).
    pub fn hits(&self, role: impl Fn(&Role) -> bool) -> bool {
        match self {
            Fault::Kill { target, .. }
            | Fault::Slow { target, .. }
            | Fault::DbDown { target, .. } => role(target),
            Fault::Partition { between, .. } => between.iter().any(role),
            Fault::Network { between, .. } => match between {
                Some(between) => between.iter().any(role),
                None => true,
            },
            Fault::BrokerOutage { .. } => role(&Role::Broker),
            Fault::MailOutage { .. } => role(&Role::Mail),
            Fault::HotShard { .. } | Fault::HotProduct { .. } => false,
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
            Fault::Network {
                between: Some(between),
                ..
            } => {
                if between[0] == between[1] {
                    return Err(format!(
                        "a network fault's `between` names two different roles, got `{}` twice",
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

/// A fault as one line, the way a scenario file would say it. The trace hashes this text for
/// every fault applied or healed, so changing it changes every hash of a run with faults.
impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Kill {
                target,
                restart_after_s,
            } => match restart_after_s {
                Some(d) => write!(f, "kill {target}, restart after {} s", d.0),
                None => write!(f, "kill {target}"),
            },
            Fault::Slow {
                target,
                factor,
                duration_s,
            } => write!(f, "slow {target} {}x for {} s", factor.0, duration_s.0),
            Fault::Partition {
                between,
                duration_s,
            } => write!(
                f,
                "partition {} | {} for {} s",
                between[0], between[1], duration_s.0
            ),
            Fault::Network {
                between,
                extra_latency_ms,
                loss,
                duration_s,
            } => {
                f.write_str("network ")?;
                if let Some([a, b]) = between {
                    write!(f, "{a} | {b} ")?;
                }
                write!(
                    f,
                    "+{} ms, {}% loss for {} s",
                    extra_latency_ms.0,
                    loss.0 * 100.0,
                    duration_s.0
                )
            }
            Fault::BrokerOutage {
                leader_only,
                duration_s,
            } => write!(
                f,
                "broker outage ({}) for {} s",
                if *leader_only {
                    "leader of partition 0"
                } else {
                    "whole cluster"
                },
                duration_s.0
            ),
            Fault::DbDown { target, duration_s } => {
                write!(f, "{target} down for {} s", duration_s.0)
            }
            Fault::HotShard {
                shard,
                share,
                duration_s,
            } => write!(
                f,
                "hot shard {shard} ({:.0}% of shoppers) for {} s",
                share.0 * 100.0,
                duration_s.0
            ),
            Fault::HotProduct {
                product,
                share,
                duration_s,
            } => write!(
                f,
                "hot product {product} ({:.0}%) for {} s",
                share.0 * 100.0,
                duration_s.0
            ),
            Fault::MailOutage { duration_s } => {
                write!(f, "mail provider down for {} s", duration_s.0)
            }
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
                FaultKind::names()
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
    /// Inject a fault now: in every design, or in the one design `only` names.
    Inject {
        fault: Fault,
        /// A design's name (`sharded`): the fault lands there alone. Absent: everywhere.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        only: Option<String>,
    },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for name in [
            "app",
            "session-store",
            "db",
            "shard:3",
            "broker",
            "worker",
            "relay",
            "mail",
        ] {
            let role: Role = name.parse().expect("a valid role");
            assert_eq!(role.to_string(), name);
        }
        let err = "shard:x".parse::<Role>().expect_err("not a role");
        assert!(err.contains("unknown role `shard:x`"), "{err}");
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in FaultKind::ALL {
            assert_eq!(kind.name().parse::<FaultKind>(), Ok(kind));
        }
        let err = "flood".parse::<FaultKind>().expect_err("not a kind");
        assert!(
            err.starts_with("unknown fault kind `flood`, expected one of kill, slow"),
            "{err}"
        );
    }
}
