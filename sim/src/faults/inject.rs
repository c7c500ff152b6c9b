//! The fault injector: applies faults to one deployment's nodes, and heals them when their
//! time is up.
//!
//! It keeps one record of what is broken now ([`Broken`]: the fault, until when, and how to
//! undo it) and a typed log of everything it did ([`Applied`]). Whether a node is down, what
//! a watcher sees of it, which broker outages there were and when the shop was disturbed are
//! all read off those two, never kept beside them. A node killed by two overlapping faults
//! comes back when the last of them ends. The harness calls it only at tick boundaries, so a
//! fault lands at the same virtual instant in every design and in every replay.
//!
//! Must not: decide when faults happen (the timeline, the swarm and live commands do) or
//! draw randomness.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::net::NetSim;
use madsim::runtime::Handle;
use madsim::task::NodeId;
use serde::{Serialize, Serializer};

use crate::deployment::design::broker_params;
use crate::deployment::Deployment;
use crate::scenario::fault::{Command, Fault, Role};
use crate::scenario::Scenario;
use crate::traffic::workload::Skew;
use crate::world::broker::Broker;
use crate::world::host::Cpu;
use crate::world::node::Node;

/// What the injector did.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A fault began (`id` names it until it ends).
    Began { id: u64, fault: Fault },
    /// The fault `id` ended on time.
    Ended { id: u64, fault: Fault },
    /// Every fault in force ended at once (a live command, or the run's liveness phase).
    HealAll,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Began { fault, .. } => write!(f, "{fault}"),
            Event::Ended { fault, .. } => write!(f, "end of {fault}"),
            Event::HealAll => f.write_str("heal-all"),
        }
    }
}

/// What a fault did in this design, for the report, the event log and the trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    pub at_s: f64,
    /// The fault or command, as a scenario would write it.
    #[serde(rename = "what", serialize_with = "as_text")]
    pub event: Event,
    /// The nodes it hit, or why it does not apply here ("n/a: ...").
    pub effect: String,
    pub applicable: bool,
    /// More for the event log (heal-all: the nodes it restarted). Not in the trace hash nor
    /// the report: it follows from what they already hold, and leaving it out keeps repros
    /// saved before it was added replaying to the same hashes.
    #[serde(skip)]
    pub detail: String,
}

impl Applied {
    /// The event as one line ("kill app", "end of kill app", "heal-all").
    pub fn what(&self) -> String {
        self.event.to_string()
    }
}

fn as_text<S: Serializer>(event: &Event, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(event)
}

/// A fault in force over a span of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpan {
    pub fault: Fault,
    pub from_s: f64,
    pub to_s: Option<f64>,
}

impl FaultSpan {
    /// In force at `at_s`.
    pub fn covers(&self, at_s: f64) -> bool {
        self.from_s <= at_s && self.to_s.is_none_or(|to| at_s < to)
    }
}

/// A broker outage: when it began and when it was healed (if it was).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outage {
    pub from_s: f64,
    pub to_s: Option<f64>,
}

/// How a node looks to someone watching the run (the live view's strip of nodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    Up,
    /// Its CPU is slowed by a fault.
    Slow,
    /// A partition cuts it off from some of its peers.
    Cut,
    /// Killed, and not restarted yet.
    Down,
}

/// How to undo what a fault did.
enum Undo {
    /// Restart these nodes (unless another fault still holds them down).
    Restart(Vec<Node>),
    /// Give these hosts their full speed back.
    Speed(Vec<(NodeId, Arc<Cpu>)>),
    Unclog(Vec<(NodeId, NodeId)>),
    /// Every hop is degraded: give the network its base settings back (or those of the
    /// network faults still in force).
    Network,
    /// These links are degraded: restore them (or keep what other faults still do to them).
    Links(Vec<(NodeId, NodeId)>),
    HotShard,
    HotProduct,
}

/// What the network faults in force do to one hop together.
#[derive(Default)]
struct Degraded {
    extra: Duration,
    /// `None` while no fault degrades the hop; one fault's loss is kept exactly as written.
    loss: Option<f64>,
}

impl Degraded {
    fn add(&mut self, extra: Duration, loss: f64) {
        self.extra += extra;
        self.loss = Some(match self.loss {
            None => loss,
            Some(l) => 1.0 - (1.0 - l) * (1.0 - loss),
        });
    }
}

/// A fault in force.
struct Broken {
    id: u64,
    fault: Fault,
    /// When it heals itself; `None` for a kill without restart, which only heal-all ends.
    until: Option<Duration>,
    undo: Undo,
}

pub struct Injector {
    handle: Handle,
    base_net: madsim::net::Config,
    skew: Arc<Mutex<Skew>>,
    leader_of_partition_0: u32,
    /// What is broken now, in the order it broke.
    broken: Vec<Broken>,
    /// The links degraded in the simulator now (by network faults with `between`).
    degraded: Vec<(NodeId, NodeId)>,
    next_id: u64,
    /// Everything applied and healed so far, in order.
    pub log: Vec<Applied>,
}

impl Injector {
    pub fn new(handle: Handle, scn: &Scenario, base_net: madsim::net::Config) -> Injector {
        Injector {
            handle,
            base_net,
            skew: Arc::new(Mutex::new(Skew::default())),
            leader_of_partition_0: Broker::leader_of(&broker_params(scn), 0),
            broken: Vec::new(),
            degraded: Vec::new(),
            next_id: 0,
            log: Vec::new(),
        }
    }

    /// Some fault is in force.
    pub fn is_disturbed(&self) -> bool {
        !self.broken.is_empty()
    }

    /// How many faults in force hold `node` down.
    fn holds(&self, node: NodeId) -> usize {
        self.broken
            .iter()
            .filter(
                |b| matches!(&b.undo, Undo::Restart(nodes) if nodes.iter().any(|n| n.id == node)),
            )
            .count()
    }

    /// How `node` looks now: killed beats cut off beats slowed.
    pub fn health(&self, node: NodeId) -> Health {
        if self.holds(node) > 0 {
            return Health::Down;
        }
        let mut worst = Health::Up;
        for b in &self.broken {
            let h = match &b.undo {
                Undo::Speed(cpus) if cpus.iter().any(|(n, _)| *n == node) => Health::Slow,
                Undo::Unclog(links) if links.iter().any(|(x, y)| *x == node || *y == node) => {
                    Health::Cut
                }
                _ => Health::Up,
            };
            worst = worst.max(h);
        }
        worst
    }

    /// The skew the load generator reads.
    pub fn skew(&self) -> Arc<Mutex<Skew>> {
        self.skew.clone()
    }

    /// Heals every fault whose time is up at `now` (virtual time since the start). Returns
    /// what was healed.
    pub fn heal_due(&mut self, now: Duration) -> Vec<Applied> {
        let mut healed = Vec::new();
        let mut i = 0;
        while i < self.broken.len() {
            if self.broken[i].until.is_some_and(|u| u <= now) {
                let b = self.broken.remove(i);
                healed.push(self.end(now, b));
            } else {
                i += 1;
            }
        }
        healed
    }

    /// Applies a live or scheduled command at `now`.
    pub fn command(
        &mut self,
        now: Duration,
        cmd: &Command,
        deployment: &Deployment,
    ) -> Vec<Applied> {
        match cmd {
            // A fault aimed at another design does nothing here (and leaves no trace).
            Command::Inject {
                only: Some(design), ..
            } if design != deployment.design.name() => Vec::new(),
            Command::Inject { fault, .. } => vec![self.apply(now, fault, deployment)],
            Command::HealAll => self.heal_all(now),
        }
    }

    /// Ends every fault in force at `now`: those that would heal themselves one by one, in
    /// the order they broke; then the kills without a restart, whose nodes come back in node
    /// order.
    pub fn heal_all(&mut self, now: Duration) -> Vec<Applied> {
        let (timed, untimed): (Vec<Broken>, Vec<Broken>) =
            self.broken.drain(..).partition(|b| b.until.is_some());
        self.broken = untimed;
        let mut healed: Vec<Applied> = timed.into_iter().map(|b| self.end(now, b)).collect();
        let mut still: Vec<Node> = self
            .broken
            .drain(..)
            .flat_map(|b| match b.undo {
                Undo::Restart(nodes) => nodes,
                _ => Vec::new(),
            })
            .collect();
        still.sort_by_key(|n| n.id);
        still.dedup_by_key(|n| n.id);
        for n in &still {
            self.handle.restart(n.id);
        }
        let mut all = self.record(now, Event::HealAll, "every fault ended".into(), true);
        // Say what came back: the faults that ended have lines of their own, the nodes killed
        // for good are restarted here and nowhere else.
        all.detail = match (still.is_empty(), healed.is_empty()) {
            (true, true) => "nothing was broken".into(),
            (true, false) => format!("{} fault(s) ended, nothing left to restart", healed.len()),
            (false, _) => format!("restarted {}", names(&still)),
        };
        healed.push(all);
        healed
    }

    fn record(&mut self, now: Duration, event: Event, effect: String, applicable: bool) -> Applied {
        let a = Applied {
            at_s: now.as_secs_f64(),
            event,
            effect,
            applicable,
            detail: String::new(),
        };
        self.log.push(a.clone());
        a
    }

    /// Undoes `b`, which is no longer in force.
    fn end(&mut self, now: Duration, b: Broken) -> Applied {
        let effect = match b.undo {
            Undo::Restart(nodes) => {
                let mut up = Vec::new();
                for node in nodes {
                    if self.holds(node.id) == 0 {
                        self.handle.restart(node.id);
                        up.push(node);
                    }
                }
                if up.is_empty() {
                    "still down (another fault holds it)".to_owned()
                } else {
                    format!("restarted {}", names(&up))
                }
            }
            Undo::Speed(cpus) => {
                for (_, cpu) in &cpus {
                    cpu.set_slowdown(1.0);
                }
                "CPU back to full speed".to_owned()
            }
            Undo::Unclog(links) => {
                let net = madsim::plugin::simulator::<NetSim>();
                for (a, b) in &links {
                    net.unclog_link(*a, *b);
                }
                "links restored".to_owned()
            }
            Undo::Network => {
                self.refresh_network();
                "network back to normal".to_owned()
            }
            Undo::Links(_) => {
                self.refresh_network();
                "links back to normal".to_owned()
            }
            Undo::HotShard => {
                self.lock_skew().hot_shard = None;
                "traffic back to normal".to_owned()
            }
            Undo::HotProduct => {
                self.lock_skew().hot_product = None;
                "traffic back to normal".to_owned()
            }
        };
        let event = Event::Ended {
            id: b.id,
            fault: b.fault,
        };
        self.record(now, event, effect, true)
    }

    /// Tells the simulator what the network faults in force do together: on a hop that two
    /// of them degrade, their extra latencies add up and a message gets through only if
    /// neither loses it. With none in force, the network is back to its base settings.
    fn refresh_network(&mut self) {
        let mut every_hop = Degraded::default();
        let mut links: std::collections::BTreeMap<(NodeId, NodeId), Degraded> = Default::default();
        for b in &self.broken {
            let Fault::Network {
                extra_latency_ms,
                loss,
                ..
            } = &b.fault
            else {
                continue;
            };
            let extra = Duration::from_secs_f64(extra_latency_ms.0 / 1000.0);
            match &b.undo {
                Undo::Links(ls) => {
                    for l in ls {
                        links.entry(*l).or_default().add(extra, loss.0);
                    }
                }
                _ => every_hop.add(extra, loss.0),
            }
        }
        let net = madsim::plugin::simulator::<NetSim>();
        let base = self.base_net.clone();
        net.update_config(|c| match every_hop.loss {
            None => *c = base,
            Some(loss) => {
                c.send_latency = (base.send_latency.start + every_hop.extra)
                    ..(base.send_latency.end + every_hop.extra);
                c.packet_loss_rate = loss;
            }
        });
        for l in &self.degraded {
            if !links.contains_key(l) {
                net.set_link_condition(l.0, l.1, None);
            }
        }
        for (l, d) in &links {
            let condition = madsim::net::LinkCondition {
                extra_latency: d.extra,
                loss: d.loss.unwrap_or(0.0),
            };
            net.set_link_condition(l.0, l.1, Some(condition));
        }
        self.degraded = links.into_keys().collect();
    }

    /// Kills each of `nodes` that no fault in force holds down already.
    fn take_down(&mut self, nodes: &[Node]) {
        for n in nodes {
            if self.holds(n.id) == 0 {
                self.handle.kill(n.id);
            }
        }
    }

    fn lock_skew(&self) -> std::sync::MutexGuard<'_, Skew> {
        self.skew.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `fault` to this deployment at `now`.
    pub fn apply(&mut self, now: Duration, fault: &Fault, deployment: &Deployment) -> Applied {
        let id = self.next_id;
        self.next_id += 1;
        let event = Event::Began {
            id,
            fault: fault.clone(),
        };
        match self.act(fault, deployment) {
            Ok((effect, undo)) => {
                let until = fault.duration_s().map(|d| now + Duration::from_secs_f64(d));
                let network = matches!(undo, Undo::Network | Undo::Links(_));
                self.broken.push(Broken {
                    id,
                    fault: fault.clone(),
                    until,
                    undo,
                });
                if network {
                    self.refresh_network();
                }
                self.record(now, event, effect, true)
            }
            Err(reason) => self.record(now, event, format!("n/a: {reason}"), false),
        }
    }

    /// Does what `fault` says; returns what it hit and how to undo it, or why it does not
    /// apply to this design.
    fn act(&mut self, fault: &Fault, deployment: &Deployment) -> Result<(String, Undo), String> {
        match fault {
            Fault::Kill {
                target,
                restart_after_s,
            } => {
                let nodes = deployment.kill_targets(*target, |n| self.holds(n) > 0)?;
                self.take_down(&nodes);
                let effect = format!("killed {}", names(&nodes));
                Ok(match restart_after_s {
                    Some(_) => (effect, Undo::Restart(nodes)),
                    None => (format!("{effect} (no restart)"), Undo::Restart(nodes)),
                })
            }
            Fault::DbDown { target, .. } => {
                let nodes = deployment.kill_targets(*target, |_| false)?;
                self.take_down(&nodes);
                Ok((format!("killed {}", names(&nodes)), Undo::Restart(nodes)))
            }
            Fault::MailOutage { .. } => {
                let nodes = deployment.role_nodes(Role::Mail)?;
                self.take_down(&nodes);
                Ok(("killed mail".into(), Undo::Restart(nodes)))
            }
            Fault::BrokerOutage { leader_only, .. } => {
                let brokers = deployment
                    .role_nodes(Role::Broker)
                    .map_err(|_| "this design has no broker".to_owned())?;
                let nodes: Vec<Node> = if *leader_only {
                    brokers
                        .get(self.leader_of_partition_0 as usize)
                        .cloned()
                        .into_iter()
                        .collect()
                } else {
                    brokers
                };
                self.take_down(&nodes);
                Ok((format!("killed {}", names(&nodes)), Undo::Restart(nodes)))
            }
            Fault::Slow { target, factor, .. } => {
                let cpus = deployment.cpus(*target)?;
                for (_, cpu) in &cpus {
                    cpu.set_slowdown(factor.0);
                }
                Ok((
                    format!("{} host(s) {}x slower", cpus.len(), factor.0),
                    Undo::Speed(cpus),
                ))
            }
            Fault::Partition { between, .. } => {
                let a = deployment.role_nodes(between[0])?;
                let b = deployment.role_nodes(between[1])?;
                let net = madsim::plugin::simulator::<NetSim>();
                let mut links = Vec::new();
                for x in &a {
                    for y in &b {
                        net.clog_link(x.id, y.id);
                        net.clog_link(y.id, x.id);
                        links.push((x.id, y.id));
                        links.push((y.id, x.id));
                    }
                }
                Ok((
                    format!("{} cut off from {}", names(&a), names(&b)),
                    Undo::Unclog(links),
                ))
            }
            // The simulator is told in `apply`, once the fault is among those in force.
            Fault::Network {
                between,
                extra_latency_ms,
                loss,
                ..
            } => {
                let how = format!("+{} ms, {}% lost", extra_latency_ms.0, loss.0 * 100.0);
                let Some([a, b]) = between else {
                    return Ok((format!("every hop {how}"), Undo::Network));
                };
                let a = deployment.role_nodes(*a)?;
                let b = deployment.role_nodes(*b)?;
                let mut links = Vec::new();
                for x in &a {
                    for y in &b {
                        links.push((x.id, y.id));
                        links.push((y.id, x.id));
                    }
                }
                Ok((
                    format!("links {} <-> {} {how}", names(&a), names(&b)),
                    Undo::Links(links),
                ))
            }
            Fault::HotShard { shard, share, .. } => {
                self.lock_skew().hot_shard = Some((*shard, share.0));
                let note = if deployment.shards() > 1 {
                    format!(
                        "{:.0}% of new shoppers live on shard {shard}",
                        share.0 * 100.0
                    )
                } else {
                    format!(
                        "{:.0}% of new shoppers are shard {shard}'s customers (one database here: no hot spot)",
                        share.0 * 100.0
                    )
                };
                Ok((note, Undo::HotShard))
            }
            Fault::HotProduct { product, share, .. } => {
                self.lock_skew().hot_product = Some((*product, share.0));
                Ok((
                    format!(
                        "{:.0}% of views and cart adds go to product {product}",
                        share.0 * 100.0
                    ),
                    Undo::HotProduct,
                ))
            }
        }
    }

    /// Broker outages, read off the log.
    pub fn outages(&self) -> Vec<Outage> {
        self.spans()
            .into_iter()
            .filter(|s| s.fault.takes_broker_down())
            .map(|s| Outage {
                from_s: s.from_s,
                to_s: s.to_s,
            })
            .collect()
    }

    /// Every fault that did something in this design, with when it began and ended (`to_s`
    /// is `None` if it never did), read off the log: what a violation's trail shows in force.
    pub fn spans(&self) -> Vec<FaultSpan> {
        let mut spans: Vec<(u64, FaultSpan)> = Vec::new();
        for a in &self.log {
            match &a.event {
                Event::Began { id, fault } if a.applicable => spans.push((
                    *id,
                    FaultSpan {
                        fault: fault.clone(),
                        from_s: a.at_s,
                        to_s: None,
                    },
                )),
                Event::Ended { id, .. } => {
                    for (_, s) in spans.iter_mut().filter(|s| s.0 == *id) {
                        s.to_s = Some(a.at_s);
                    }
                }
                Event::HealAll => {
                    for (_, s) in spans.iter_mut().filter(|s| s.1.to_s.is_none()) {
                        s.to_s = Some(a.at_s);
                    }
                }
                Event::Began { .. } => {}
            }
        }
        spans.into_iter().map(|(_, s)| s).collect()
    }

    /// When some fault was in force, read off the log: (from, to) in virtual seconds, `to`
    /// is `None` while it lasts. What the recovery judgement reads.
    pub fn disturbed(&self) -> Vec<(f64, Option<f64>)> {
        let mut spans: Vec<(f64, Option<f64>)> = Vec::new();
        let mut in_force = 0usize;
        for a in &self.log {
            let before = in_force;
            match &a.event {
                Event::Began { .. } if a.applicable => in_force += 1,
                Event::Began { .. } => {}
                Event::Ended { .. } => in_force = in_force.saturating_sub(1),
                Event::HealAll => in_force = 0,
            }
            match (before, in_force) {
                (0, n) if n > 0 => spans.push((a.at_s, None)),
                (b, 0) if b > 0 => {
                    if let Some(last) = spans.last_mut() {
                        last.1 = Some(a.at_s);
                    }
                }
                _ => {}
            }
        }
        spans
    }

    /// An app host was killed during the run (the naive design's carts die with it).
    pub fn app_killed(&self) -> bool {
        self.log.iter().any(|a| {
            a.applicable
                && matches!(
                    &a.event,
                    Event::Began {
                        fault: Fault::Kill {
                            target: Role::App,
                            ..
                        },
                        ..
                    }
                )
        })
    }

    /// When the last fault ended (0 if none did).
    pub fn last_heal_s(&self) -> f64 {
        self.log
            .iter()
            .filter(|a| matches!(a.event, Event::Ended { .. } | Event::HealAll))
            .map(|a| a.at_s)
            .fold(0.0, f64::max)
    }
}

fn names(nodes: &[Node]) -> String {
    let named: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    if named.len() > 4 {
        format!("{}, ... ({} nodes)", named[..3].join(", "), named.len())
    } else {
        named.join(", ")
    }
}
