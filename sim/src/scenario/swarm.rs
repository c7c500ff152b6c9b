//! Swarm schedules: random faults drawn from the seed. Swarm testing switches some kinds off
//! entirely for each seed, so that one seed explores a few kinds hard rather than every kind
//! a little (Groce et al., "Swarm Testing").
//!
//! Must not: apply anything (the harness and the injector do), or draw from anything but the
//! run's seed (`seed::stream`).

use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::numbers::{NonNegative, Positive, Probability};
use crate::scenario::fault::{Fault, FaultKind, Role, TimedFault};
use crate::seed::{stream, Purpose};

/// A swarm schedule: how many faults, of which kinds, when and for how long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Swarm {
    /// How many faults each seed gets.
    pub faults: u32,
    /// The kinds to draw from (all of them if absent).
    #[serde(default)]
    pub kinds: Option<Vec<FaultKind>>,
    /// No fault starts before this, in seconds.
    #[serde(default = "from_the_start")]
    pub from_s: NonNegative,
    /// Shortest and longest duration of a drawn fault, in seconds.
    pub min_duration_s: Positive,
    pub max_duration_s: Positive,
    /// Slow faults draw a factor from 2 to this. Above the SLO's timeout divided by a
    /// request's cost, a slowed server answers after the browser gave up (and a statement
    /// may commit after its caller stopped waiting): the slow path's bugs live there.
    #[serde(default = "eight")]
    pub max_slow_factor: Positive,
    /// The share of seeds whose products start with scarce stock (1 to 50 units each),
    /// so that shoppers meet stock zero and no-oversell has something to judge.
    #[serde(default = "never")]
    pub scarce_stock: Probability,
    /// The share of seeds whose mail provider answers late, around the shop's timeout for
    /// it, yet delivers: sends time out after delivery and are retried, so duplicates are
    /// offered to the provider and one-confirmation-email has something to judge.
    #[serde(default = "never")]
    pub late_mail: Probability,
    /// The share of kill and partition faults aimed at the outbox relay (queued designs)
    /// instead of the role drawn for them: killed between publishing a batch and marking it
    /// published, the relay publishes it again when it restarts. Drawn from a stream of its
    /// own, so that at 0 (the default) every schedule stays as it was.
    #[serde(default = "never")]
    pub relay_share: Probability,
    /// The share of network faults confined to the links between two drawn roles (a
    /// congested path, a flaky switch in front of one tier) instead of every hop. Drawn
    /// from a stream of its own, so that at 0 (the default) every schedule stays as it was.
    #[serde(default = "never")]
    pub network_between: Probability,
}

fn from_the_start() -> NonNegative {
    NonNegative(0.0)
}

fn never() -> Probability {
    Probability(0.0)
}

fn eight() -> Positive {
    Positive(8.0)
}

/// What a swarm seed changed in the world, besides its faults.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Variation {
    /// Units of each product at the start, instead of the scenario's.
    pub stock_per_product: Option<u32>,
    /// The mail provider's mean latency, instead of the scenario's.
    pub mail_latency_ms_mean: Option<f64>,
}

impl Swarm {
    /// Checks what serde cannot: the durations' order. (Unknown kinds are refused as
    /// they are read, pointing at the name.)
    pub fn check(&self) -> Result<(), String> {
        if self.max_duration_s.0 < self.min_duration_s.0 {
            return Err(format!(
                "max_duration_s ({}) is below min_duration_s ({})",
                self.max_duration_s.0, self.min_duration_s.0
            ));
        }
        Ok(())
    }

    /// This seed's variations of the world: a pure function of the seed and the parameters,
    /// drawn from a stream of their own, so that they never shift the seed's faults.
    pub fn variation(&self, seed: u64, mail_timeout_ms: f64) -> Variation {
        let mut rng = stream(seed, Purpose::Variation);
        let scarce = rng.gen_bool(self.scarce_stock.0);
        let stock = rng.gen_range(1..=50u32);
        let late = rng.gen_bool(self.late_mail.0);
        // Late, not hopeless: between 30% and 60% of the timeout on average, so some sends
        // time out after delivery, while the email workers still keep up with the orders.
        let latency = (rng.gen_range(0.3..0.6) * mail_timeout_ms).round();
        Variation {
            stock_per_product: scarce.then_some(stock),
            mail_latency_ms_mean: late.then_some(latency),
        }
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
        let allowed: Vec<FaultKind> = match &self.kinds {
            Some(kinds) => FaultKind::ALL
                .into_iter()
                .filter(|k| kinds.contains(k))
                .collect(),
            None => FaultKind::ALL.to_vec(),
        };
        // Swarm: each kind is on with probability 1/2 (at least one stays on), and the kinds
        // that are on get random weights.
        let mut on: Vec<(FaultKind, f64)> = allowed
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
        let mut relay = stream(seed, Purpose::RelayFaults);
        let mut links = stream(seed, Purpose::NetworkLinks);
        let mut faults: Vec<TimedFault> = (0..self.faults)
            .map(|_| {
                let kind = on[rng.sample(&dist)].0;
                let at_s = rng.gen_range(self.from_s.0..=latest).floor();
                let d = Positive(rng.gen_range(min..=max).round().max(1.0));
                let mut fault = draw(kind, d, self.max_slow_factor.0, shards, products, &mut rng);
                if self.relay_share.0 > 0.0 && relay.gen_bool(self.relay_share.0) {
                    fault = at_the_relay(fault);
                }
                if self.network_between.0 > 0.0 && links.gen_bool(self.network_between.0) {
                    fault = between_two_roles(fault, shards, &mut links);
                }
                TimedFault { at_s, fault }
            })
            .collect();
        faults.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        faults
    }
}

/// `fault` aimed at the outbox relay, if it is a kind that names a role: a kill of it, or a
/// partition between it and the first role drawn (the second, if the first is `worker`, whose
/// nodes include the relay's).
fn at_the_relay(fault: Fault) -> Fault {
    match fault {
        Fault::Kill {
            restart_after_s, ..
        } => Fault::Kill {
            target: Role::Relay,
            restart_after_s,
        },
        Fault::Partition {
            between: [a, b],
            duration_s,
        } => Fault::Partition {
            between: [if a == Role::Worker { b } else { a }, Role::Relay],
            duration_s,
        },
        other => other,
    }
}

/// `fault` confined to the links between two different roles drawn from `rng`, if it is a
/// network fault.
fn between_two_roles(fault: Fault, shards: u32, rng: &mut impl Rng) -> Fault {
    match fault {
        Fault::Network {
            between: None,
            extra_latency_ms,
            loss,
            duration_s,
        } => {
            let a = any_role(shards, rng);
            let mut b = any_role(shards, rng);
            while b == a {
                b = any_role(shards, rng);
            }
            Fault::Network {
                between: Some([a, b]),
                extra_latency_ms,
                loss,
                duration_s,
            }
        }
        other => other,
    }
}

/// A role a kill, a partition or a degraded link may hit.
fn any_role(shards: u32, rng: &mut (impl Rng + ?Sized)) -> Role {
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
}

/// One fault of `kind` lasting `d`, with drawn targets.
fn draw(
    kind: FaultKind,
    d: Positive,
    max_slow: f64,
    shards: u32,
    products: u32,
    rng: &mut impl Rng,
) -> Fault {
    match kind {
        FaultKind::Slow => Fault::Slow {
            target: [Role::App, Role::SessionStore, Role::Db][rng.gen_range(0..3)],
            factor: Positive(rng.gen_range(2.0..max_slow.max(2.5)).round()),
            duration_s: d,
        },
        FaultKind::Partition => {
            let a = any_role(shards, rng);
            let mut b = any_role(shards, rng);
            while b == a {
                b = any_role(shards, rng);
            }
            Fault::Partition {
                between: [a, b],
                duration_s: d,
            }
        }
        FaultKind::Network => Fault::Network {
            between: None,
            extra_latency_ms: NonNegative(rng.gen_range(0..200) as f64),
            loss: Probability(f64::from(rng.gen_range(0..5u32)) / 100.0),
            duration_s: d,
        },
        FaultKind::BrokerOutage => Fault::BrokerOutage {
            leader_only: rng.gen_bool(0.5),
            duration_s: d,
        },
        FaultKind::DbDown => Fault::DbDown {
            target: if shards > 1 && rng.gen_bool(0.5) {
                Role::Shard(rng.gen_range(0..shards))
            } else {
                Role::Db
            },
            duration_s: d,
        },
        FaultKind::HotShard => Fault::HotShard {
            shard: rng.gen_range(0..shards.max(1)),
            share: Probability(rng.gen_range(0.3..0.9)),
            duration_s: d,
        },
        FaultKind::HotProduct => Fault::HotProduct {
            product: rng.gen_range(1..=products.max(1)),
            share: Probability(rng.gen_range(0.3..0.9)),
            duration_s: d,
        },
        FaultKind::MailOutage => Fault::MailOutage { duration_s: d },
        FaultKind::Kill => Fault::Kill {
            target: any_role(shards, rng),
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
            max_slow_factor: Positive(8.0),
            scarce_stock: Probability(0.0),
            late_mail: Probability(0.0),
            relay_share: Probability(0.0),
            network_between: Probability(0.0),
        }
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
    fn a_relay_share_aims_some_kills_and_partitions_at_the_relay_and_moves_nothing_else() {
        let plain = swarm();
        let relayed = Swarm {
            relay_share: Probability(0.5),
            ..swarm()
        };
        let (mut aimed, mut kept) = (0, 0);
        for seed in 0..100 {
            let a = plain.schedule(seed, 300.0, 4, 500);
            let b = relayed.schedule(seed, 300.0, 4, 500);
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                // The same instant and kind; only a kill's or a partition's role may change.
                assert_eq!((x.at_s, x.fault.kind()), (y.at_s, y.fault.kind()));
                y.fault.check(4, 500).expect("a drawn fault is valid");
                match (&x.fault, &y.fault) {
                    (_, Fault::Kill { target, .. }) if *target == Role::Relay => aimed += 1,
                    (_, Fault::Partition { between, .. }) if between[1] == Role::Relay => {
                        assert!(!matches!(between[0], Role::Relay | Role::Worker));
                        aimed += 1;
                    }
                    _ => {
                        assert_eq!(x, y);
                        kept += 1;
                    }
                }
            }
        }
        assert!(aimed > 50 && kept > 50, "aimed {aimed}, kept {kept}");
    }

    #[test]
    fn a_network_between_share_confines_some_network_faults_and_moves_nothing_else() {
        let plain = Swarm {
            kinds: Some(vec![FaultKind::Network, FaultKind::Kill]),
            ..swarm()
        };
        let confined = Swarm {
            network_between: Probability(0.5),
            ..plain.clone()
        };
        let (mut between, mut every_hop) = (0, 0);
        for seed in 0..100 {
            let a = plain.schedule(seed, 300.0, 4, 500);
            let b = confined.schedule(seed, 300.0, 4, 500);
            for (x, y) in a.iter().zip(&b) {
                y.fault.check(4, 500).expect("a drawn fault is valid");
                match (&x.fault, &y.fault) {
                    (
                        Fault::Network {
                            between: None,
                            extra_latency_ms: e1,
                            loss: l1,
                            duration_s: d1,
                        },
                        Fault::Network {
                            between: Some(_),
                            extra_latency_ms: e2,
                            loss: l2,
                            duration_s: d2,
                        },
                    ) => {
                        assert_eq!((e1, l1, d1, x.at_s), (e2, l2, d2, y.at_s));
                        between += 1;
                    }
                    _ => {
                        assert_eq!(x, y);
                        every_hop += usize::from(x.fault.kind() == FaultKind::Network);
                    }
                }
            }
        }
        assert!(
            between > 50 && every_hop > 50,
            "{between} confined, {every_hop} not"
        );
    }

    #[test]
    fn swarm_switches_kinds_off_per_seed() {
        let s = Swarm {
            faults: 40,
            ..swarm()
        };
        let kinds = |seed| {
            let mut k: Vec<FaultKind> = s
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
        let sets: Vec<Vec<FaultKind>> = (0..20).map(kinds).collect();
        assert!(sets.iter().any(|k| k.len() < FaultKind::ALL.len()));
        assert!(sets.windows(2).any(|w| w[0] != w[1]));
    }
}
