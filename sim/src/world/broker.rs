//! The simulated Kafka-like broker cluster, and the `Publisher` / `Subscription` ports over it.
//!
//! - Every topic has `partitions`; a message's key picks its partition (`key % partitions`),
//!   so one key's messages stay in order. Topics are made on first use.
//! - Each partition has a leader broker and `replication - 1` followers (the next brokers
//!   round the ring). The leader appends, sends the message to its followers and acknowledges
//!   the producer only when they all have it (acks=all).
//! - Consumers join a group, which reads one topic, through the coordinator (broker 0). Each change of membership, or
//!   a member missing its heartbeats for the session timeout, starts a new generation: the
//!   partitions are dealt out again over the members, in member order (a range assignor).
//! - The group commits, per partition, the offset it is done with; a member that takes over a
//!   partition starts after the last commit, so what was delivered but not committed is
//!   delivered again: at least once.
//! - Retention: a partition keeps at most `retention_messages`; older ones are dropped.
//!
//! Must not: know what the messages mean.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::world::rpc::{self, Pool};
use scalelab_system::ports::{Delivery, PortError, Publisher, Subscription};

/// The cluster's shape and timings.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub brokers: u32,
    pub partitions: u32,
    pub replication: u32,
    pub retention_messages: usize,
    /// A member that has not been heard from for this long leaves its group.
    pub session_timeout: Duration,
    /// How often a consumer heartbeats, and how long an empty poll waits before it returns.
    pub heartbeat: Duration,
    pub poll_wait: Duration,
    pub timeout: Duration,
}

pub fn broker_addr(i: u32) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 6, i as u8 + 1)), 9092)
}

#[derive(Debug, Clone)]
pub enum Req {
    Produce {
        topic: String,
        partition: u32,
        key: u64,
        payload: Bytes,
    },
    Replicate {
        topic: String,
        partition: u32,
        offset: u64,
        key: u64,
        payload: Bytes,
    },
    Fetch {
        topic: String,
        partition: u32,
        offset: u64,
        max: usize,
    },
    Join {
        group: String,
        topic: String,
        member: u64,
    },
    Heartbeat {
        group: String,
        member: u64,
    },
    Leave {
        group: String,
        member: u64,
    },
    Commit {
        group: String,
        partition: u32,
        offset: u64,
    },
}

#[derive(Debug, Clone)]
pub enum Resp {
    Ok,
    Produced {
        offset: u64,
    },
    NotLeader,
    Messages {
        log_start: u64,
        messages: Vec<(u64, u64, Bytes)>,
    },
    /// The member's generation, its partitions, and the group's committed offsets for them.
    Assignment {
        generation: u64,
        partitions: Vec<(u32, u64)>,
    },
    Failed(String),
}

#[derive(Default)]
struct Log {
    log_start: u64,
    /// (key, payload). A payload is shared by the leader's and the followers' logs and the
    /// fetches that read it: the simulated brokers live in one process, and three copies of
    /// every message were a fifth of a black-friday run's memory.
    entries: VecDeque<(u64, Bytes)>,
}

impl Log {
    fn end(&self) -> u64 {
        self.log_start + self.entries.len() as u64
    }
}

#[derive(Default)]
struct Group {
    /// The topic the group reads.
    topic: String,
    generation: u64,
    members: BTreeMap<u64, Instant>,
    committed: BTreeMap<u32, u64>,
}

/// One broker's state. Lives outside its node, as a broker's disk does.
pub struct Broker {
    id: u32,
    params: Params,
    logs: Mutex<BTreeMap<(String, u32), Log>>,
    groups: Mutex<BTreeMap<String, Group>>,
}

/// Connections to the other brokers, for replication; made on first use. They belong to one
/// life of the broker's process, not to its state: a restarted node has lost every socket of
/// its previous life, and replies addressed to them would wait forever.
type Peers = tokio::sync::OnceCell<Vec<Pool<Req, Resp>>>;

impl Broker {
    pub fn new(id: u32, params: Params) -> Broker {
        Broker {
            id,
            params,
            logs: Mutex::new(BTreeMap::new()),
            groups: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn leader_of(params: &Params, partition: u32) -> u32 {
        partition % params.brokers.max(1)
    }

    fn followers_of(params: &Params, partition: u32) -> Vec<u32> {
        let leader = Self::leader_of(params, partition);
        (1..params.replication.min(params.brokers))
            .map(|i| (leader + i) % params.brokers)
            .collect()
    }

    /// The end offset of every partition of `topic` this broker leads.
    pub fn end_offsets(&self, topic: &str) -> BTreeMap<u32, u64> {
        let logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        logs.iter()
            .filter(|((t, p), _)| t == topic && Self::leader_of(&self.params, *p) == self.id)
            .map(|((_, p), log)| (*p, log.end()))
            .collect()
    }

    /// The keys of every message of `topic` in this broker's logs (as leader or follower),
    /// for the checkers: which orders were published at all.
    pub fn keys(&self, topic: &str) -> BTreeSet<u64> {
        let logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        logs.iter()
            .filter(|((t, _), _)| t == topic)
            .flat_map(|(_, log)| log.entries.iter().map(|(key, _)| *key))
            .collect()
    }

    /// The offsets `group` has committed, per partition. Meaningful on the coordinator
    /// (broker 0), which is where groups commit.
    /// Returns the group's topic too.
    pub fn committed(&self, group: &str) -> (String, BTreeMap<u32, u64>) {
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        groups
            .get(group)
            .map(|g| (g.topic.clone(), g.committed.clone()))
            .unwrap_or_default()
    }

    /// Messages published to `topic` and not yet committed by `group`, over the whole cluster.
    pub fn lag(brokers: &[Arc<Broker>], topic: &str, group: &str) -> u64 {
        let Some(coordinator) = brokers.first() else {
            return 0;
        };
        let (read, committed) = coordinator.committed(group);
        let committed = if read == topic {
            committed
        } else {
            BTreeMap::new()
        };
        brokers
            .iter()
            .flat_map(|b| b.end_offsets(topic))
            .map(|(p, end)| end.saturating_sub(committed.get(&p).copied().unwrap_or(0)))
            .sum()
    }

    /// Serves one life of the broker's process: its connections to the other brokers are
    /// made anew in every life.
    pub async fn serve(self: Arc<Self>, addr: SocketAddr) -> std::io::Result<()> {
        let peers = Arc::new(Peers::new());
        rpc::serve(addr, 100_000, move |req: Req| {
            let (broker, peers) = (self.clone(), peers.clone());
            async move { broker.handle(req, &peers).await }
        })
        .await
    }

    fn append(&self, topic: String, partition: u32, key: u64, payload: Bytes) -> u64 {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        let log = logs.entry((topic, partition)).or_default();
        let offset = log.end();
        log.entries.push_back((key, payload));
        while log.entries.len() > self.params.retention_messages {
            log.entries.pop_front();
            log.log_start += 1;
        }
        offset
    }

    async fn peers<'a>(&self, peers: &'a Peers) -> &'a Vec<Pool<Req, Resp>> {
        peers
            .get_or_init(|| async {
                let mut pools = Vec::new();
                for b in 0..self.params.brokers {
                    if let Ok(pool) =
                        Pool::new(broker_addr(b), 8, self.params.timeout, self.params.timeout).await
                    {
                        pools.push(pool);
                    }
                }
                pools
            })
            .await
    }

    async fn handle(&self, req: Req, peers: &Peers) -> Resp {
        match req {
            Req::Produce {
                topic,
                partition,
                key,
                payload,
            } => {
                if Self::leader_of(&self.params, partition) != self.id {
                    return Resp::NotLeader;
                }
                let offset = self.append(topic.clone(), partition, key, payload.clone());
                // acks=all: the message is acknowledged once every follower has it.
                let peers = self.peers(peers).await;
                for f in Self::followers_of(&self.params, partition) {
                    let Some(pool) = peers.get(f as usize) else {
                        return Resp::Failed(format!("no connection to broker {f}"));
                    };
                    let copy = Req::Replicate {
                        topic: topic.clone(),
                        partition,
                        offset,
                        key,
                        payload: payload.clone(),
                    };
                    if !matches!(pool.call(copy).await, Ok(Resp::Ok)) {
                        return Resp::Failed(format!("broker {f} did not replicate"));
                    }
                }
                Resp::Produced { offset }
            }
            Req::Replicate {
                topic,
                partition,
                key,
                payload,
                ..
            } => {
                self.append(topic, partition, key, payload);
                Resp::Ok
            }
            Req::Fetch {
                topic,
                partition,
                offset,
                max,
            } => {
                let logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
                let Some(log) = logs.get(&(topic, partition)) else {
                    return Resp::Messages {
                        log_start: 0,
                        messages: Vec::new(),
                    };
                };
                let from = offset.max(log.log_start);
                let skip = (from - log.log_start) as usize;
                let messages = log
                    .entries
                    .iter()
                    .skip(skip)
                    .take(max)
                    .enumerate()
                    .map(|(i, (k, p))| (from + i as u64, *k, p.clone()))
                    .collect();
                Resp::Messages {
                    log_start: log.log_start,
                    messages,
                }
            }
            Req::Join {
                group,
                topic,
                member,
            } => self.heartbeat(group, Some(topic), member),
            Req::Heartbeat { group, member } => self.heartbeat(group, None, member),
            Req::Leave { group, member } => {
                let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(g) = groups.get_mut(&group) {
                    if g.members.remove(&member).is_some() {
                        g.generation += 1;
                    }
                }
                Resp::Ok
            }
            Req::Commit {
                group,
                partition,
                offset,
            } => {
                let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
                let g = groups.entry(group).or_default();
                let c = g.committed.entry(partition).or_insert(0);
                *c = (*c).max(offset);
                Resp::Ok
            }
        }
    }

    /// A member joins (naming the group's topic) or says it is alive. Members not heard from
    /// for the session timeout leave; any change of membership is a new generation.
    fn heartbeat(&self, group: String, topic: Option<String>, member: u64) -> Resp {
        let now = Instant::now();
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        let g = groups.entry(group).or_default();
        if let Some(topic) = topic {
            g.topic = topic;
        }
        let timeout = self.params.session_timeout;
        let before = g.members.len();
        g.members
            .retain(|_, seen| now.duration_since(*seen) <= timeout);
        let joined = g.members.insert(member, now).is_none();
        if joined || g.members.len() != before {
            g.generation += 1;
        }
        self.assignment(g, member)
    }

    /// Deals the partitions out over the members in member order; `member` gets its share.
    fn assignment(&self, g: &Group, member: u64) -> Resp {
        let members: Vec<u64> = g.members.keys().copied().collect();
        let Some(me) = members.iter().position(|&m| m == member) else {
            return Resp::Failed("not a member".into());
        };
        let partitions = (0..self.params.partitions)
            .filter(|p| *p as usize % members.len() == me)
            .map(|p| (p, g.committed.get(&p).copied().unwrap_or(0)))
            .collect();
        Resp::Assignment {
            generation: g.generation,
            partitions,
        }
    }
}

/// Connections to every broker of the cluster.
pub struct Client {
    params: Params,
    pools: Vec<Pool<Req, Resp>>,
}

impl Client {
    /// Must be called inside the node that will use it.
    pub async fn connect(params: Params, pool_size: u32) -> std::io::Result<Client> {
        let mut pools = Vec::new();
        for b in 0..params.brokers {
            pools.push(Pool::new(broker_addr(b), pool_size, params.timeout, params.timeout).await?);
        }
        Ok(Client { params, pools })
    }

    async fn call(&self, broker: u32, req: Req, what: &str) -> Result<Resp, PortError> {
        let pool = self
            .pools
            .get(broker as usize)
            .ok_or_else(|| PortError::Unavailable(format!("broker {broker} unknown")))?;
        pool.call(req)
            .await
            .map_err(|e| e.into_port(&format!("broker: {what}")))
    }
}

#[async_trait]
impl Publisher for Client {
    async fn publish(&self, topic: &str, key: u64, payload: Vec<u8>) -> Result<(), PortError> {
        let partition = (key % u64::from(self.params.partitions.max(1))) as u32;
        let leader = Broker::leader_of(&self.params, partition);
        match self
            .call(
                leader,
                Req::Produce {
                    topic: topic.to_owned(),
                    partition,
                    key,
                    payload: Bytes::from(payload),
                },
                "produce",
            )
            .await?
        {
            Resp::Produced { .. } => Ok(()),
            Resp::Failed(why) => Err(PortError::Unavailable(format!("broker: {why}"))),
            _ => Err(PortError::Unavailable(
                "broker: unexpected reply to produce".into(),
            )),
        }
    }
}

/// One consumer: a member of `group`, reading `topic` from the partitions it is assigned.
pub struct Consumer {
    client: Client,
    topic: String,
    group: String,
    member: u64,
    state: tokio::sync::Mutex<ConsumerState>,
}

struct ConsumerState {
    generation: u64,
    /// Assigned partition -> next offset to fetch.
    positions: BTreeMap<u32, u64>,
    last_heartbeat: Option<Instant>,
    next_partition: usize,
}

impl Consumer {
    pub fn new(client: Client, topic: &str, group: &str, member: u64) -> Consumer {
        Consumer {
            client,
            topic: topic.to_owned(),
            group: group.to_owned(),
            member,
            state: tokio::sync::Mutex::new(ConsumerState {
                generation: 0,
                positions: BTreeMap::new(),
                last_heartbeat: None,
                next_partition: 0,
            }),
        }
    }

    /// Joins (or heartbeats); on a new generation, takes the new assignment from the
    /// group's committed offsets.
    async fn heartbeat(&self, st: &mut ConsumerState) -> Result<(), PortError> {
        let joining = st.last_heartbeat.is_none();
        let req = if joining {
            Req::Join {
                group: self.group.clone(),
                topic: self.topic.clone(),
                member: self.member,
            }
        } else {
            Req::Heartbeat {
                group: self.group.clone(),
                member: self.member,
            }
        };
        match self.client.call(0, req, "heartbeat").await? {
            Resp::Assignment {
                generation,
                partitions,
            } => {
                // A (re)join starts from the group's committed offsets even when the group's
                // generation did not move: what this member fetched and never committed
                // must be fetched again.
                if joining || generation != st.generation {
                    st.generation = generation;
                    st.positions = partitions.into_iter().collect();
                }
                st.last_heartbeat = Some(Instant::now());
                Ok(())
            }
            Resp::Failed(why) => Err(PortError::Unavailable(format!("broker: {why}"))),
            _ => Err(PortError::Unavailable(
                "broker: unexpected reply to heartbeat".into(),
            )),
        }
    }

    /// Leaves the group at once, so its partitions go to the others without waiting for the
    /// session timeout.
    pub async fn leave(&self) {
        let req = Req::Leave {
            group: self.group.clone(),
            member: self.member,
        };
        let _ = self.client.call(0, req, "leave").await;
    }
}

#[async_trait]
impl Subscription for Consumer {
    async fn poll(&self, max: usize) -> Result<Vec<Delivery>, PortError> {
        let mut st = self.state.lock().await;
        let due = st
            .last_heartbeat
            .is_none_or(|t| Instant::now().duration_since(t) >= self.client.params.heartbeat);
        if due {
            self.heartbeat(&mut st).await?;
        }
        let partitions: Vec<(u32, u64)> = st.positions.iter().map(|(&p, &o)| (p, o)).collect();
        // Take turns over the assigned partitions, so a busy one cannot starve the others.
        for i in 0..partitions.len() {
            let (partition, offset) = partitions[(st.next_partition + i) % partitions.len()];
            let leader = Broker::leader_of(&self.client.params, partition);
            let resp = self
                .client
                .call(
                    leader,
                    Req::Fetch {
                        topic: self.topic.clone(),
                        partition,
                        offset,
                        max,
                    },
                    "fetch",
                )
                .await?;
            if let Resp::Messages { messages, .. } = resp {
                if let Some(&(last, _, _)) = messages.last() {
                    st.positions.insert(partition, last + 1);
                    st.next_partition = (st.next_partition + i + 1) % partitions.len();
                    return Ok(messages
                        .into_iter()
                        .map(|(offset, key, payload)| Delivery {
                            partition,
                            offset,
                            key,
                            payload: payload.to_vec(),
                        })
                        .collect());
                }
            }
        }
        drop(st);
        tokio::time::sleep(self.client.params.poll_wait).await;
        Ok(Vec::new())
    }

    async fn commit(&self, delivery: &Delivery) -> Result<(), PortError> {
        let req = Req::Commit {
            group: self.group.clone(),
            partition: delivery.partition,
            offset: delivery.offset + 1,
        };
        let result = match self.client.call(0, req, "commit").await {
            Ok(Resp::Ok) => Ok(()),
            Ok(_) => Err(PortError::Unavailable("broker: commit refused".into())),
            Err(e) => Err(e),
        };
        if result.is_err() {
            // The broker does not know this message is done, but this consumer's position is
            // past it: without a rewind nobody would ever fetch it again (Kafka's consumers
            // seek back to the committed offset for the same reason). The next poll joins
            // anew and starts from what the group has committed.
            self.state.lock().await.last_heartbeat = None;
        }
        result
    }
}
