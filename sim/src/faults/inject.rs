//! The fault injector: applies faults to one design's nodes, and heals them when their time
//! is up.
//!
//! Owns the mapping from a fault's role to this design's nodes (or "n/a" when the design has
//! no such role: never a silent no-op), what was done to undo each fault, and the workload
//! skew that hot-shard and hot-product faults turn on. The supervisor in `run` calls it only
//! at tick boundaries, so a fault lands at the same virtual instant in every design and in
//! every replay.
//!
//! Must not: decide when faults happen (the timeline, the swarm and live commands do) or
//! draw randomness.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::net::NetSim;
use madsim::runtime::Handle;
use madsim::task::NodeId;
use serde::Serialize;

use crate::deployment::design::{broker_params, AppTier, Design, Node};
use crate::scenario::fault::{Command, Fault, Role};
use crate::scenario::Scenario;
use crate::world::broker::Broker;
use crate::world::db::DbServer;

/// The nodes of one design that faults can reach, by role.
pub struct Topology<'a> {
    pub design: Design,
    pub tier: &'a AppTier,
    /// Database servers by shard (one when unsharded), with their nodes.
    pub dbs: Vec<(Node, Arc<DbServer>)>,
    pub mail: Node,
}

/// Which shoppers a hot-shard or hot-product fault redirects; read by the load generator for
/// each new session.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Skew {
    /// (shard, share of new shoppers who are that shard's customers)
    pub hot_shard: Option<(u32, f64)>,
    /// (product, share of product views and cart adds that go to it)
    pub hot_product: Option<(u32, f64)>,
}

/// What a fault did in this design, for the report and the event log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    pub at_s: f64,
    /// The fault or command, as a scenario would write it.
    pub what: String,
    /// The nodes it hit, or why it does not apply here ("n/a: ...").
    pub effect: String,
    pub applicable: bool,
}

type SetSpeed = Box<dyn Fn(f64) + Send + Sync>;

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

enum Undo {
    Restart(Vec<Node>),
    /// Sets a host's CPU slowdown factor (1.0 restores it); with the host's node.
    Speed(Vec<(NodeId, SetSpeed)>),
    Unclog(Vec<(NodeId, NodeId)>),

    Network,
    HotShard,
    HotProduct,
}

struct Active {
    until: Option<Duration>,
    undo: Undo,
    what: String,
    /// Index into `outages` when this fault took the broker down.
    outage: Option<usize>,
}

pub struct Injector {
    handle: Handle,
    base_net: madsim::net::Config,
    skew: Arc<Mutex<Skew>>,
    active: Vec<Active>,
    leader_of_partition_0: u32,
    /// Everything applied and healed so far, in order.
    pub log: Vec<Applied>,
    /// An app host was killed (the naive design's carts die with it).
    pub app_killed: bool,
    /// Broker outages: (from, to) in virtual seconds; `to` is `None` while it lasts.
    pub outages: Vec<(f64, Option<f64>)>,
    /// How many active faults hold each dead node down: overlapping outages of one node
    /// end when the last one does, not when the first one does.
    down: BTreeMap<NodeId, u32>,
    /// When some fault was in force: (from, to) in virtual seconds, `to` is `None` while it
    /// lasts. What the recovery judgement reads.
    pub disturbed: Vec<(f64, Option<f64>)>,
}

impl Injector {
    pub fn new(handle: Handle, scn: &Scenario, base_net: madsim::net::Config) -> Injector {
        Injector {
            handle,
            base_net,
            skew: Arc::new(Mutex::new(Skew::default())),
            active: Vec::new(),
            leader_of_partition_0: Broker::leader_of(&broker_params(scn), 0),
            log: Vec::new(),
            app_killed: false,
            outages: Vec::new(),
            down: BTreeMap::new(),
            disturbed: Vec::new(),
        }
    }

    /// Some fault is in force: one with an undo pending, or a node killed for good.
    pub fn is_disturbed(&self) -> bool {
        !self.active.is_empty() || !self.down.is_empty()
    }

    /// Opens or closes the current span of disturbance after a change at `now`.
    fn mark(&mut self, now: Duration) {
        let open = self.disturbed.last().is_some_and(|(_, to)| to.is_none());
        match (self.is_disturbed(), open) {
            (true, false) => self.disturbed.push((now.as_secs_f64(), None)),
            (false, true) => {
                if let Some(last) = self.disturbed.last_mut() {
                    last.1 = Some(now.as_secs_f64());
                }
            }
            _ => {}
        }
    }

    /// Some fault is still in force and will heal on its own.
    pub fn has_active(&self) -> bool {
        self.active.iter().any(|a| a.until.is_some())
    }

    /// How `node` looks now: killed beats cut off beats slowed.
    pub fn health(&self, node: NodeId) -> Health {
        if self.down.contains_key(&node) {
            return Health::Down;
        }
        let mut worst = Health::Up;
        for a in &self.active {
            let h = match &a.undo {
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
        while i < self.active.len() {
            if self.active[i].until.is_some_and(|u| u <= now) {
                let a = self.active.remove(i);
                healed.push(self.undo(now, a));
            } else {
                i += 1;
            }
        }
        self.mark(now);
        healed
    }

    /// Applies a live or scheduled command at `now`.
    pub fn command(&mut self, now: Duration, cmd: &Command, topo: &Topology) -> Vec<Applied> {
        match cmd {
            Command::Inject { fault } => vec![self.apply(now, fault, topo)],
            Command::HealAll => self.heal_all(now),
        }
    }

    /// Ends every fault in force at `now`, including kills without a restart.
    pub fn heal_all(&mut self, now: Duration) -> Vec<Applied> {
        let all: Vec<Active> = self.active.drain(..).collect();
        let mut healed: Vec<Applied> = all.into_iter().map(|a| self.undo(now, a)).collect();
        // Kills without a restart hold nodes down with nothing on the active list.
        let still: Vec<NodeId> = self.down.keys().copied().collect();
        for n in still {
            self.down.remove(&n);
            self.handle.restart(n);
        }
        // A broker killed without a restart opened an outage that no undo closes.
        for o in self.outages.iter_mut().filter(|o| o.1.is_none()) {
            o.1 = Some(now.as_secs_f64());
        }
        healed.push(self.record(now, "heal-all".into(), "every fault ended".into(), true));
        self.mark(now);
        healed
    }

    fn record(&mut self, now: Duration, what: String, effect: String, applicable: bool) -> Applied {
        let a = Applied {
            at_s: now.as_secs_f64(),
            what,
            effect,
            applicable,
        };
        self.log.push(a.clone());
        a
    }

    fn undo(&mut self, now: Duration, a: Active) -> Applied {
        if let Some(o) = a.outage.and_then(|i| self.outages.get_mut(i)) {
            o.1 = Some(now.as_secs_f64());
        }
        let effect = match a.undo {
            Undo::Restart(nodes) => {
                let mut up = Vec::new();
                for node in &nodes {
                    if self.revive(node.0) {
                        up.push(node.clone());
                    }
                }
                if up.is_empty() {
                    "still down (another fault holds it)".to_owned()
                } else {
                    format!("restarted {}", names(&up))
                }
            }
            Undo::Speed(cpus) => {
                for (_, set) in &cpus {
                    set(1.0);
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
                let base = self.base_net.clone();
                madsim::plugin::simulator::<NetSim>().update_config(|c| *c = base);
                "network back to normal".to_owned()
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
        self.record(now, format!("end of {}", a.what), effect, true)
    }

    /// Kills `node` unless it is already down; counts the hold either way.
    fn take_down(&mut self, node: NodeId) {
        let holds = self.down.entry(node).or_insert(0);
        *holds += 1;
        if *holds == 1 {
            self.handle.kill(node);
        }
    }

    /// Releases one hold on `node`; restarts it when none is left. Returns whether it did.
    fn revive(&mut self, node: NodeId) -> bool {
        match self.down.get_mut(&node) {
            Some(holds) if *holds > 1 => {
                *holds -= 1;
                false
            }
            Some(_) => {
                self.down.remove(&node);
                self.handle.restart(node);
                true
            }
            None => false,
        }
    }

    fn lock_skew(&self) -> std::sync::MutexGuard<'_, Skew> {
        self.skew.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `fault` to this design at `now`.
    pub fn apply(&mut self, now: Duration, fault: &Fault, topo: &Topology) -> Applied {
        let what = describe(fault);
        let until = fault.duration_s().map(|d| now + Duration::from_secs_f64(d));
        let outcome = self.act(fault, topo);
        match outcome {
            Ok((effect, undo)) => {
                let broker_down = matches!(
                    fault,
                    Fault::BrokerOutage { .. }
                        | Fault::Kill {
                            target: Role::Broker,
                            ..
                        }
                );
                let outage = broker_down.then(|| {
                    self.outages.push((now.as_secs_f64(), None));
                    self.outages.len() - 1
                });
                if matches!(
                    fault,
                    Fault::Kill {
                        target: Role::App,
                        ..
                    }
                ) {
                    self.app_killed = true;
                }
                if let Some(undo) = undo {
                    self.active.push(Active {
                        until,
                        undo,
                        what: what.clone(),
                        outage,
                    });
                }
                let applied = self.record(now, what, effect, true);
                self.mark(now);
                applied
            }
            Err(reason) => self.record(now, what, format!("n/a: {reason}"), false),
        }
    }

    /// Does what `fault` says; returns what it hit and how to undo it, or why it does not
    /// apply to this design.
    fn act(&mut self, fault: &Fault, topo: &Topology) -> Result<(String, Option<Undo>), String> {
        match fault {
            Fault::Kill {
                target,
                restart_after_s,
            } => {
                let nodes = kill_targets(*target, topo)?;
                for (n, _) in &nodes {
                    self.take_down(*n);
                }
                let effect = format!("killed {}", names(&nodes));
                Ok(match restart_after_s {
                    Some(_) => (effect, Some(Undo::Restart(nodes))),
                    None => (format!("{effect} (no restart)"), None),
                })
            }
            Fault::DbDown { target, .. } => {
                let nodes = kill_targets(*target, topo)?;
                for (n, _) in &nodes {
                    self.take_down(*n);
                }
                Ok((
                    format!("killed {}", names(&nodes)),
                    Some(Undo::Restart(nodes)),
                ))
            }
            Fault::MailOutage { .. } => {
                self.take_down(topo.mail.0);
                Ok((
                    "killed mail".into(),
                    Some(Undo::Restart(vec![topo.mail.clone()])),
                ))
            }
            Fault::BrokerOutage { leader_only, .. } => {
                let brokers = &topo.tier.broker_nodes;
                if brokers.is_empty() {
                    return Err("this design has no broker".into());
                }
                let nodes: Vec<Node> = if *leader_only {
                    brokers
                        .get(self.leader_of_partition_0 as usize)
                        .cloned()
                        .into_iter()
                        .collect()
                } else {
                    brokers.clone()
                };
                for (n, _) in &nodes {
                    self.take_down(*n);
                }
                Ok((
                    format!("killed {}", names(&nodes)),
                    Some(Undo::Restart(nodes)),
                ))
            }
            Fault::Slow { target, factor, .. } => {
                let cpus: Vec<(NodeId, SetSpeed)> = match target {
                    Role::App => topo
                        .tier
                        .app_target()
                        .map(|((id, _), cpu)| -> (NodeId, SetSpeed) {
                            (id, Box::new(move |f| cpu.set_slowdown(f)))
                        })
                        .into_iter()
                        .collect(),
                    Role::SessionStore => match &topo.tier.sessions {
                        Some(((id, _), server)) => {
                            let server = server.clone();
                            vec![(*id, Box::new(move |f| server.cpu().set_slowdown(f)))]
                        }
                        None => return Err(no_role(*target)),
                    },
                    Role::Db | Role::Shard(_) => db_nodes(*target, topo)?
                        .into_iter()
                        .filter_map(|(_, i)| topo.dbs.get(i).map(|((id, _), db)| (*id, db.clone())))
                        .map(|(id, db)| -> (NodeId, SetSpeed) {
                            (id, Box::new(move |f| db.cpu.set_slowdown(f)))
                        })
                        .collect(),
                    other => return Err(format!("{other} has no modelled CPU")),
                };
                if cpus.is_empty() {
                    return Err(no_role(*target));
                }
                for (_, set) in &cpus {
                    set(factor.0);
                }
                Ok((
                    format!("{} host(s) {}x slower", cpus.len(), factor.0),
                    Some(Undo::Speed(cpus)),
                ))
            }
            Fault::Partition { between, .. } => {
                let a = role_nodes(between[0], topo)?;
                let b = role_nodes(between[1], topo)?;
                let net = madsim::plugin::simulator::<NetSim>();
                let mut links = Vec::new();
                for (x, _) in &a {
                    for (y, _) in &b {
                        let (x, y) = (*x, *y);
                        net.clog_link(x, y);
                        net.clog_link(y, x);
                        links.push((x, y));
                        links.push((y, x));
                    }
                }
                Ok((
                    format!("{} cut off from {}", names(&a), names(&b)),
                    Some(Undo::Unclog(links)),
                ))
            }
            Fault::Network {
                extra_latency_ms,
                loss,
                ..
            } => {
                let extra = Duration::from_secs_f64(extra_latency_ms.0 / 1000.0);
                let base = self.base_net.clone();
                madsim::plugin::simulator::<NetSim>().update_config(|c| {
                    c.send_latency =
                        (base.send_latency.start + extra)..(base.send_latency.end + extra);
                    c.packet_loss_rate = loss.0;
                });
                Ok((
                    format!(
                        "every hop +{} ms, {}% lost",
                        extra_latency_ms.0,
                        loss.0 * 100.0
                    ),
                    Some(Undo::Network),
                ))
            }
            Fault::HotShard { shard, share, .. } => {
                self.lock_skew().hot_shard = Some((*shard, share.0));
                let note = if topo.dbs.len() > 1 {
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
                Ok((note, Some(Undo::HotShard)))
            }
            Fault::HotProduct { product, share, .. } => {
                self.lock_skew().hot_product = Some((*product, share.0));
                Ok((
                    format!(
                        "{:.0}% of views and cart adds go to product {product}",
                        share.0 * 100.0
                    ),
                    Some(Undo::HotProduct),
                ))
            }
        }
    }
}

fn no_role(role: Role) -> String {
    format!("this design has no {role}")
}

/// Nodes of the database role: all servers for `db`, one for `shard:N` (sharded design only).
fn db_nodes(role: Role, topo: &Topology) -> Result<Vec<(Node, usize)>, String> {
    match role {
        Role::Db => Ok(topo
            .dbs
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), i))
            .collect()),
        Role::Shard(s) if topo.dbs.len() > 1 => topo
            .dbs
            .get(s as usize)
            .map(|(n, _)| vec![(n.clone(), s as usize)])
            .ok_or_else(|| format!("there is no shard {s}")),
        Role::Shard(_) => Err("this design has one database, no shards".into()),
        _ => Ok(Vec::new()),
    }
}

/// What a kill of `role` stops: one app host, one worker, or the whole role.
fn kill_targets(role: Role, topo: &Topology) -> Result<Vec<Node>, String> {
    let nodes = match role {
        Role::App => topo.tier.app_target().map(|(n, _)| n).into_iter().collect(),
        Role::Worker => topo
            .tier
            .worker_nodes
            .first()
            .cloned()
            .into_iter()
            .collect(),
        other => role_nodes(other, topo)?,
    };
    if nodes.is_empty() {
        return Err(no_role(role));
    }
    Ok(nodes)
}

/// Every node of `role` in this design.
fn role_nodes(role: Role, topo: &Topology) -> Result<Vec<Node>, String> {
    let nodes: Vec<Node> = match role {
        Role::App => topo.tier.app_nodes(),
        Role::SessionStore => topo.tier.sessions.iter().map(|(n, _)| n.clone()).collect(),
        Role::Db | Role::Shard(_) => db_nodes(role, topo)?.into_iter().map(|(n, _)| n).collect(),
        Role::Broker => topo.tier.broker_nodes.clone(),
        Role::Worker => topo.tier.worker_nodes.clone(),
        Role::Mail => vec![topo.mail.clone()],
    };
    if nodes.is_empty() {
        return Err(no_role(role));
    }
    Ok(nodes)
}

fn names(nodes: &[Node]) -> String {
    let named: Vec<&str> = nodes.iter().map(|(_, name)| name.as_str()).collect();
    if named.len() > 4 {
        format!("{}, ... ({} nodes)", named[..3].join(", "), named.len())
    } else {
        named.join(", ")
    }
}

/// A fault as one line, the way a scenario file would say it.
pub fn describe(fault: &Fault) -> String {
    match fault {
        Fault::Kill {
            target,
            restart_after_s,
        } => match restart_after_s {
            Some(d) => format!("kill {target}, restart after {} s", d.0),
            None => format!("kill {target}"),
        },
        Fault::Slow {
            target,
            factor,
            duration_s,
        } => format!("slow {target} {}x for {} s", factor.0, duration_s.0),
        Fault::Partition {
            between,
            duration_s,
        } => format!(
            "partition {} | {} for {} s",
            between[0], between[1], duration_s.0
        ),
        Fault::Network {
            extra_latency_ms,
            loss,
            duration_s,
        } => format!(
            "network +{} ms, {}% loss for {} s",
            extra_latency_ms.0,
            loss.0 * 100.0,
            duration_s.0
        ),
        Fault::BrokerOutage {
            leader_only,
            duration_s,
        } => format!(
            "broker outage ({}) for {} s",
            if *leader_only {
                "leader of partition 0"
            } else {
                "whole cluster"
            },
            duration_s.0
        ),
        Fault::DbDown { target, duration_s } => format!("{target} down for {} s", duration_s.0),
        Fault::HotShard {
            shard,
            share,
            duration_s,
        } => format!(
            "hot shard {shard} ({:.0}% of shoppers) for {} s",
            share.0 * 100.0,
            duration_s.0
        ),
        Fault::HotProduct {
            product,
            share,
            duration_s,
        } => format!(
            "hot product {product} ({:.0}%) for {} s",
            share.0 * 100.0,
            duration_s.0
        ),
        Fault::MailOutage { duration_s } => format!("mail provider down for {} s", duration_s.0),
    }
}
