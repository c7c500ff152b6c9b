//! A broker in process memory, shaped like Kafka: the embedded default of `scalelab serve`
//! for the queued designs, and a reference for the `Publisher` / `Subscription` promises.
//!
//! A topic is `partitions` logs; the key picks the log. A consumer group remembers, per
//! partition, how far it has committed; its members split the partitions between them
//! (partition `p` goes to member `p % members`), and whenever a member joins or leaves, every
//! member starts again from the group's committed offsets (a rebalance). That is what makes
//! delivery at least once: what a departed member took but did not commit is read again.
//!
//! Must not: pretend to be durable or shared. Everything here dies with the process, and only
//! this process sees it; the real broker (NATS JetStream, `real::nats`) is for that.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

use crate::ports::{Delivery, PortError, Publisher, Subscription};

/// How long an empty poll waits for a message before returning nothing.
const POLL_WAIT: Duration = Duration::from_millis(100);

pub struct MemoryBroker {
    partitions: u32,
    state: Mutex<State>,
    /// Woken on every publish and membership change, so waiting polls look again.
    news: Notify,
}

/// One partition: (key, payload) in publishing order; a message's offset is its index.
type Log = Vec<(u64, Vec<u8>)>;

#[derive(Default)]
struct State {
    /// Topic -> its partitions' logs.
    logs: BTreeMap<String, Vec<Log>>,
    /// (topic, group) -> the group.
    groups: BTreeMap<(String, String), Group>,
    next_member: u64,
}

#[derive(Default)]
struct Group {
    /// Partition -> the offset after the last committed message.
    committed: BTreeMap<u32, u64>,
    /// Member ids, in the order they joined.
    members: Vec<u64>,
    /// Bumped at every join and leave; members compare it to notice a rebalance.
    generation: u64,
}

impl MemoryBroker {
    /// A broker whose topics have `partitions` partitions (at least one).
    pub fn new(partitions: u32) -> Arc<MemoryBroker> {
        Arc::new(MemoryBroker {
            partitions: partitions.max(1),
            state: Mutex::new(State::default()),
            news: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Joins `group` on `topic` as a new member.
    pub fn subscribe(self: &Arc<Self>, topic: &str, group: &str) -> MemorySubscription {
        let mut state = self.lock();
        let member = state.next_member;
        state.next_member += 1;
        let g = state
            .groups
            .entry((topic.to_owned(), group.to_owned()))
            .or_default();
        g.members.push(member);
        g.generation += 1;
        drop(state);
        self.news.notify_waiters();
        MemorySubscription {
            broker: self.clone(),
            topic: topic.to_owned(),
            group: group.to_owned(),
            member,
            positions: Mutex::new((0, BTreeMap::new())),
        }
    }

    /// Messages published to `topic` and not yet committed by `group`, over all partitions.
    pub fn lag(&self, topic: &str, group: &str) -> u64 {
        let state = self.lock();
        let Some(logs) = state.logs.get(topic) else {
            return 0;
        };
        let committed = state.groups.get(&(topic.to_owned(), group.to_owned()));
        (0u32..)
            .zip(logs)
            .map(|(p, log)| {
                let done = committed.and_then(|g| g.committed.get(&p)).copied();
                log.len() as u64 - done.unwrap_or(0)
            })
            .sum()
    }
}

#[async_trait]
impl Publisher for MemoryBroker {
    async fn publish(&self, topic: &str, key: u64, payload: Vec<u8>) -> Result<(), PortError> {
        let partition = (key % u64::from(self.partitions)) as usize;
        let mut state = self.lock();
        let logs = state
            .logs
            .entry(topic.to_owned())
            .or_insert_with(|| vec![Vec::new(); self.partitions as usize]);
        logs[partition].push((key, payload));
        drop(state);
        self.news.notify_waiters();
        Ok(())
    }

    /// What this broker holds dies with the process, so a message is safe only once every
    /// consumer group has committed it: this waits until no group has any lag left. (The
    /// outbox relay marks messages published only after this; see `outbox`.)
    async fn settled(&self) -> Result<(), PortError> {
        loop {
            let behind = {
                let state = self.lock();
                state.groups.iter().any(|((topic, _), group)| {
                    let logs = state.logs.get(topic).map(Vec::as_slice).unwrap_or(&[]);
                    (0u32..).zip(logs).any(|(p, log)| {
                        group.committed.get(&p).copied().unwrap_or(0) < log.len() as u64
                    })
                })
            };
            if !behind {
                return Ok(());
            }
            tokio::time::sleep(SETTLE_CHECK).await;
        }
    }
}

/// How often `settled` looks whether the consumers have caught up.
const SETTLE_CHECK: Duration = Duration::from_millis(5);

/// One member of a consumer group.
pub struct MemorySubscription {
    broker: Arc<MemoryBroker>,
    topic: String,
    group: String,
    member: u64,
    /// The group generation these positions belong to, and partition -> next offset to read.
    positions: Mutex<(u64, BTreeMap<u32, u64>)>,
}

impl MemorySubscription {
    /// Takes up to `max` messages from this member's partitions, or none.
    fn take(&self, max: usize) -> Vec<Delivery> {
        let state = self.broker.lock();
        let key = (self.topic.clone(), self.group.clone());
        let Some(group) = state.groups.get(&key) else {
            return Vec::new();
        };
        let Some(index) = group.members.iter().position(|&m| m == self.member) else {
            return Vec::new();
        };
        let members = group.members.len() as u32;
        let mut positions = self.positions.lock().unwrap_or_else(|p| p.into_inner());
        if positions.0 != group.generation {
            // A rebalance: start over from what the group committed.
            *positions = (group.generation, group.committed.clone());
        }
        let mut out = Vec::new();
        let Some(logs) = state.logs.get(&self.topic) else {
            return out;
        };
        for partition in (0..self.broker.partitions).filter(|p| p % members == index as u32) {
            let next = positions.1.entry(partition).or_insert(0);
            let log = &logs[partition as usize];
            while out.len() < max && (*next as usize) < log.len() {
                let (key, payload) = &log[*next as usize];
                out.push(Delivery {
                    partition,
                    offset: *next,
                    key: *key,
                    payload: payload.clone(),
                });
                *next += 1;
            }
        }
        out
    }
}

#[async_trait]
impl Subscription for MemorySubscription {
    async fn poll(&self, max: usize) -> Result<Vec<Delivery>, PortError> {
        // Register for news before looking, so a publish between the look and the wait
        // is not missed.
        let news = self.broker.news.notified();
        let batch = self.take(max);
        if !batch.is_empty() {
            return Ok(batch);
        }
        let _ = tokio::time::timeout(POLL_WAIT, news).await;
        Ok(self.take(max))
    }

    async fn commit(&self, delivery: &Delivery) -> Result<(), PortError> {
        let mut state = self.broker.lock();
        let key = (self.topic.clone(), self.group.clone());
        if let Some(group) = state.groups.get_mut(&key) {
            let done = group.committed.entry(delivery.partition).or_insert(0);
            *done = (*done).max(delivery.offset + 1);
        }
        Ok(())
    }
}

impl Drop for MemorySubscription {
    /// Leaving the group hands this member's partitions to the others.
    fn drop(&mut self) {
        let mut state = self.broker.lock();
        let key = (self.topic.clone(), self.group.clone());
        if let Some(group) = state.groups.get_mut(&key) {
            group.members.retain(|&m| m != self.member);
            group.generation += 1;
        }
        drop(state);
        self.broker.news.notify_waiters();
    }
}
