//! The deployment: the one value that knows every node of a run — the app hosts and every
//! server around them — with each node's name, its role (what a fault aimed at `db` or
//! `broker` hits), its CPU if it has one, and where the app hosts are in their lives.
//!
//! Everything that asks "which nodes does this design have" asks it: the fault injector (the
//! nodes and CPUs of a role), the harness's metrics (`sample`, once per tick), the live view
//! (`parts`), and the checkers (`evidence`). `build` makes it.
//!
//! Must not: decide when anything happens, or judge. It answers questions about the nodes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use madsim::task::NodeId;

use crate::deployment::design::Design;
use crate::deployment::replicas::{AppHosts, ReplicaState};
use crate::scenario::fault::Role;
use crate::world::broker::Broker;
use crate::world::db::DbServer;
use crate::world::host::Cpu;
use crate::world::lb::{Event, LoadBalancer};
use crate::world::mail::{Deliveries, MailServer};
use crate::world::node::Node;
use scalelab_system::model::{Order, OrderId, ProductId};
use scalelab_system::shard::ShardMap;
use scalelab_system::worker::{Job, ORDERS_TOPIC};
use std::collections::BTreeSet;

/// A node of the deployment other than the app hosts.
pub struct Part {
    pub node: Node,
    /// How the live view groups it: `sessions`, `broker`, `workers`, `db`, `mail`.
    pub group: &'static str,
    /// The role a fault names to reach it (databases are `Role::Shard(i)`, also when there
    /// is only one, shard 0); `None` if no fault can.
    pub role: Option<Role>,
    pub cpu: Option<Arc<Cpu>>,
}

/// A node as a watcher sees it: name, group, and whether it is an app host still booting.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInfo {
    pub id: NodeId,
    pub name: String,
    pub group: &'static str,
    pub starting: bool,
}

/// What the deployment measured over one tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Mean CPU use of the app hosts taking traffic, 0 to 1, and how many there are.
    pub app_cpu: f64,
    pub replicas: u32,
    /// Each database's (shard's) CPU use, 0 to 1.
    pub shard_cpu: Vec<f64>,
    /// The hottest shard's: the one that limits.
    pub db_cpu: f64,
    /// Database writes per second over the tick, all shards together.
    pub writes_per_s: f64,
    /// Confirmation emails the provider accepted during the tick.
    pub emails: u64,
    /// Orders placed and not yet confirmed by the email workers (in an outbox or the broker).
    pub queue_lag: u64,
    /// The load balancer took replicas out of rotation or back in (their addresses).
    pub health_changes: Vec<(u64, bool)>,
}

/// What one database (or shard) holds at the end of the run.
pub struct DbContents {
    pub orders: Vec<Order>,
    pub stock: Vec<(ProductId, u32)>,
    pub initial_stock: u32,
    /// The orders whose stock movement, and whose shipping label, this database records.
    pub moved: BTreeSet<OrderId>,
    pub labelled: BTreeSet<OrderId>,
}

/// What the checkers read from the deployment after the run.
pub struct Evidence {
    /// One entry per shard (one for an unsharded database).
    pub dbs: Vec<DbContents>,
    /// The map orders must follow (sharded design only).
    pub shard_map: Option<ShardMap>,
    /// What the mail provider delivered, per order, and the sends it was offered.
    pub mail: Deliveries,
    /// The orders published to the broker (queued designs; empty without a broker).
    pub published: BTreeSet<OrderId>,
    /// Messages published to the broker, repeats included: more than `published` when the
    /// relay published a message again (it died, or the broker failed, before it could mark
    /// the message published). Harmless if the workers are idempotent, as they must be.
    pub publications: u64,
    /// Messages some kind of worker has not yet done, when the evidence was taken.
    pub unprocessed: u64,
}

/// Where each server's numbers stood at the last sample.
#[derive(Default)]
struct Seen {
    db_busy: Vec<u64>,
    writes: u64,
    emails: u64,
}

pub struct Deployment {
    pub design: Design,
    /// Where browsers connect.
    pub entry: SocketAddr,
    /// Cores per app host, and what they are worth at full load (the USL).
    pub cores_per_host: u32,
    pub capacity_per_host: f64,
    pub(crate) hosts: Arc<AppHosts>,
    pub(crate) parts: Vec<Part>,
    pub(crate) lb: Option<Arc<LoadBalancer>>,
    pub(crate) dbs: Vec<Arc<DbServer>>,
    pub(crate) brokers: Vec<Arc<Broker>>,
    pub(crate) mail: Arc<MailServer>,
    pub(crate) shard_map: ShardMap,
    seen: Seen,
}

impl Deployment {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        design: Design,
        entry: SocketAddr,
        hosts: Arc<AppHosts>,
        parts: Vec<Part>,
        lb: Option<Arc<LoadBalancer>>,
        dbs: Vec<Arc<DbServer>>,
        brokers: Vec<Arc<Broker>>,
        mail: Arc<MailServer>,
        shard_map: ShardMap,
        probe: &Cpu,
    ) -> Deployment {
        let seen = Seen {
            db_busy: vec![0; dbs.len()],
            ..Seen::default()
        };
        Deployment {
            design,
            entry,
            cores_per_host: probe.cores(),
            capacity_per_host: probe.capacity(),
            hosts,
            parts,
            lb,
            dbs,
            brokers,
            mail,
            shard_map,
            seen,
        }
    }

    /// Database servers (shards): one when unsharded.
    pub fn shards(&self) -> usize {
        self.dbs.len()
    }

    /// The shard map customers follow (meaningful when there is more than one shard).
    pub fn shard_map(&self) -> &ShardMap {
        &self.shard_map
    }

    /// Every node of `role` in this design, or why it has none.
    pub fn role_nodes(&self, role: Role) -> Result<Vec<Node>, String> {
        let nodes: Vec<Node> = match role {
            Role::App => self.hosts.nodes(),
            Role::Db => self.parts_where(|r| matches!(r, Role::Shard(_))),
            Role::Shard(s) if self.shards() > 1 => {
                let nodes = self.parts_where(|r| r == Role::Shard(s));
                if nodes.is_empty() {
                    return Err(format!("there is no shard {s}"));
                }
                nodes
            }
            Role::Shard(_) => return Err("this design has one database, no shards".into()),
            // The relay is a worker service too: what cuts the workers off cuts it off (a
            // kill of `worker` takes one email worker, see `kill_targets`).
            Role::Worker => self.parts_where(|r| matches!(r, Role::Worker | Role::Relay)),
            other => self.parts_where(|r| r == other),
        };
        if nodes.is_empty() {
            return Err(no_role(role));
        }
        Ok(nodes)
    }

    fn parts_where(&self, wanted: impl Fn(Role) -> bool) -> Vec<Node> {
        self.parts
            .iter()
            .filter(|p| p.role.is_some_and(&wanted))
            .map(|p| p.node.clone())
            .collect()
    }

    /// What a kill of `role` stops: one app host (the oldest taking traffic), one worker (the
    /// first), or every node of the role (the relay's one node for `relay`).
    /// `down` says which nodes are down already: the one host or worker a kill picks is a
    /// live one, and when none is left the kill does not apply (and says so).
    pub fn kill_targets(
        &self,
        role: Role,
        down: impl Fn(NodeId) -> bool,
    ) -> Result<Vec<Node>, String> {
        let nodes: Vec<Node> = match role {
            Role::App => {
                if self.hosts.target().is_none() {
                    return Err(no_role(role));
                }
                let alive = self.hosts.target_where(|n| !down(n.id));
                alive.map(|(n, _)| n).into_iter().collect()
            }
            Role::Worker => {
                let workers = self.role_nodes(role).unwrap_or_default();
                if workers.is_empty() {
                    return Err(no_role(role));
                }
                workers
                    .into_iter()
                    .filter(|n| !down(n.id))
                    .take(1)
                    .collect()
            }
            other => self.role_nodes(other)?,
        };
        if nodes.is_empty() {
            return Err(format!("every {role} node is down already"));
        }
        Ok(nodes)
    }

    /// The CPUs a `slow` fault on `role` degrades: the app host a kill would hit, or every
    /// node of the role that has a CPU.
    pub fn cpus(&self, role: Role) -> Result<Vec<(NodeId, Arc<Cpu>)>, String> {
        let cpus: Vec<(NodeId, Arc<Cpu>)> = match role {
            Role::App => self
                .hosts
                .target()
                .map(|(n, cpu)| (n.id, cpu))
                .into_iter()
                .collect(),
            other => {
                let ids: Vec<NodeId> = self.role_nodes(other)?.iter().map(|n| n.id).collect();
                self.parts
                    .iter()
                    .filter(|p| ids.contains(&p.node.id))
                    .filter_map(|p| p.cpu.clone().map(|cpu| (p.node.id, cpu)))
                    .collect()
            }
        };
        if cpus.is_empty() {
            return Err(match role {
                Role::App => no_role(role),
                other => format!("{other} has no modelled CPU"),
            });
        }
        Ok(cpus)
    }

    /// Every node a watcher sees, app hosts first (those being retired left out).
    pub fn parts(&self) -> Vec<NodeInfo> {
        let mut nodes: Vec<NodeInfo> = self
            .hosts
            .states()
            .into_iter()
            .filter(|(_, state)| *state != ReplicaState::Leaving)
            .map(|(node, state)| NodeInfo {
                id: node.id,
                name: node.name,
                group: "app",
                starting: state == ReplicaState::Starting,
            })
            .collect();
        nodes.extend(self.parts.iter().map(|p| NodeInfo {
            id: p.node.id,
            name: p.node.name.clone(),
            group: p.group,
            starting: false,
        }));
        nodes
    }

    /// Orders placed and not yet confirmed by the email workers (0 without a broker): still
    /// in an outbox, or published and not yet consumed.
    pub fn queue_lag(&self) -> u64 {
        if self.brokers.is_empty() {
            return 0;
        }
        let outbox: u64 = self.dbs.iter().map(|db| db.outbox_len() as u64).sum();
        outbox + Broker::lag(&self.brokers, ORDERS_TOPIC, Job::ConfirmationEmail.group())
    }

    /// Side work not yet done: messages still in an outbox, and published ones some kind of
    /// worker (email, stock movement or label) has not done: the drain waits for all of it,
    /// not only for the emails the figures show.
    pub fn side_work_lag(&self) -> u64 {
        if self.brokers.is_empty() {
            return 0;
        }
        let outbox: u64 = self.dbs.iter().map(|db| db.outbox_len() as u64).sum();
        outbox
            + Job::ALL
                .iter()
                .map(|job| Broker::lag(&self.brokers, ORDERS_TOPIC, job.group()))
                .sum::<u64>()
    }

    /// Confirmation emails the mail provider has accepted so far (every send, retries and
    /// repeats included).
    pub fn emails_sent(&self) -> u64 {
        self.mail.sent()
    }

    /// Confirmation emails that reached an inbox: sends less the repeats the provider
    /// recognised by their idempotency key.
    pub fn emails_delivered(&self) -> u64 {
        self.mail.delivered()
    }

    /// Cores of one database server.
    pub fn db_cores(&self) -> u32 {
        self.dbs.first().map_or(0, |db| db.cpu.cores())
    }

    /// Measures the tick that just ended (`step` long): the one place that reads the nodes'
    /// CPUs and counters for the run's metrics.
    pub fn sample(&mut self, step: Duration) -> Sample {
        let mut shard_cpu = Vec::with_capacity(self.dbs.len());
        for (db, seen) in self.dbs.iter().zip(self.seen.db_busy.iter_mut()) {
            shard_cpu.push(db.cpu.utilization(seen, step));
        }
        let db_cpu = shard_cpu.iter().copied().fold(0.0f64, f64::max);
        let writes: u64 = self.dbs.iter().map(|db| db.writes()).sum();
        let writes_per_s = (writes - self.seen.writes) as f64 / step.as_secs_f64();
        self.seen.writes = writes;
        let health_changes = self
            .lb
            .iter()
            .flat_map(|lb| lb.take_events())
            .map(|event| match event {
                Event::Up(a) => (address_index(a), true),
                Event::Down(a) => (address_index(a), false),
            })
            .collect();
        let (app_cpu, replicas) = self.hosts.sample(step);
        let emails = self.mail.sent();
        let in_window = emails - self.seen.emails;
        self.seen.emails = emails;
        Sample {
            app_cpu,
            replicas,
            shard_cpu,
            db_cpu,
            writes_per_s,
            emails: in_window,
            queue_lag: self.queue_lag(),
            health_changes,
        }
    }

    /// What the databases hold and the mail provider received, for the checkers. Orders and
    /// deliveries move out of the world rather than being copied: call it once, when the run
    /// is over (it was a run's highest memory, with both copies held at once).
    pub fn take_evidence(&self) -> Evidence {
        Evidence {
            dbs: self
                .dbs
                .iter()
                .map(|db| {
                    let (orders, stock) = db.take_contents();
                    let (moved, labelled) = db.side_work_done();
                    DbContents {
                        orders,
                        stock,
                        initial_stock: db.initial_stock(),
                        moved,
                        labelled,
                    }
                })
                .collect(),
            shard_map: (self.dbs.len() > 1).then(|| self.shard_map.clone()),
            mail: self.mail.take_deliveries(),
            published: self
                .brokers
                .iter()
                .flat_map(|b| b.keys(ORDERS_TOPIC))
                .collect(),
            // Each partition's messages counted once, on its leader.
            publications: self
                .brokers
                .iter()
                .flat_map(|b| b.end_offsets(ORDERS_TOPIC).into_values())
                .sum(),
            unprocessed: self.side_work_lag(),
        }
    }
}

fn no_role(role: Role) -> String {
    format!("this design has no {role}")
}

/// A replica's address as one number, as the trace records it.
fn address_index(addr: SocketAddr) -> u64 {
    match addr.ip() {
        std::net::IpAddr::V4(v4) => u64::from(u32::from(v4)),
        std::net::IpAddr::V6(_) => 0,
    }
}
