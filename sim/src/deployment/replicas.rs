//! The app tier's hosts: the naive design's one big host, or the replicas of the scaled
//! designs, each with its CPU and where it is in its life (booting, serving, leaving). Shared
//! by the deployment (faults, sampling, the live view) and the autoscaler (which adds and
//! retires replicas).
//!
//! Must not: decide how many replicas there should be (the autoscaler does) or measure
//! anything but the hosts' CPU.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use madsim::runtime::{Handle, NodeHandle};

use crate::deployment::design::{Wiring, APP};
use crate::deployment::processes::{storefront, BootSeeds};
use crate::scenario::Scenario;
use crate::world::host::Cpu;
use crate::world::node::Node;

/// One app host.
pub struct Replica {
    pub index: u32,
    pub addr: SocketAddr,
    node: NodeHandle,
    pub cpu: Arc<Cpu>,
    /// `Cpu::busy_ns` at the last sample of the run's metrics.
    busy_before: u64,
    /// In the load balancer's rotation (always, for the one big host).
    pub ready: bool,
    /// Out of rotation, to be stopped.
    pub leaving: bool,
}

impl Replica {
    pub fn node(&self) -> Node {
        let name = if self.addr == APP {
            "app".to_owned()
        } else {
            format!("app-{}", self.index)
        };
        Node::new(self.node.id(), name)
    }

    pub fn handle(&self) -> &NodeHandle {
        &self.node
    }

    pub fn state(&self) -> ReplicaState {
        match (self.ready, self.leaving) {
            (_, true) => ReplicaState::Leaving,
            (true, false) => ReplicaState::Serving,
            (false, false) => ReplicaState::Starting,
        }
    }
}

/// Where an app host is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// Started by the autoscaler, not yet in the load balancer's rotation.
    Starting,
    /// Taking traffic.
    Serving,
    /// Out of rotation, to be stopped.
    Leaving,
}

/// The app hosts of one deployment.
#[derive(Default)]
pub struct AppHosts {
    list: Mutex<Vec<Replica>>,
}

impl AppHosts {
    pub fn new(hosts: Vec<Replica>) -> AppHosts {
        AppHosts {
            list: Mutex::new(hosts),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Vec<Replica>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The host a fault aimed at `app` hits: the one big host, or the oldest replica taking
    /// traffic.
    pub fn target(&self) -> Option<(Node, Arc<Cpu>)> {
        self.target_where(|_| true)
    }

    /// Like `target`, among the hosts `alive` accepts: a second kill must not hit the host
    /// the first one already took down (the balancer may still count it ready).
    pub fn target_where(&self, alive: impl Fn(&Node) -> bool) -> Option<(Node, Arc<Cpu>)> {
        self.lock()
            .iter()
            .filter(|r| r.ready && !r.leaving)
            .map(|r| (r.node(), r.cpu.clone()))
            .find(|(n, _)| alive(n))
    }

    /// Every host that is not being retired.
    pub fn nodes(&self) -> Vec<Node> {
        self.lock()
            .iter()
            .filter(|r| !r.leaving)
            .map(Replica::node)
            .collect()
    }

    /// Every host with where it is in its life.
    pub fn states(&self) -> Vec<(Node, ReplicaState)> {
        self.lock().iter().map(|r| (r.node(), r.state())).collect()
    }

    /// Mean CPU utilization of the hosts taking traffic over the last `step`, and how many
    /// there are.
    pub fn sample(&self, step: Duration) -> (f64, u32) {
        let mut hosts = self.lock();
        let mut sum = 0.0;
        let mut n = 0u32;
        for r in hosts.iter_mut().filter(|r| r.ready) {
            sum += r.cpu.utilization(&mut r.busy_before, step);
            n += 1;
        }
        (if n > 0 { sum / f64::from(n) } else { 0.0 }, n)
    }
}

/// The naive design's one big host. Restarting its node runs the storefront again: a fresh
/// process, with an empty session store in its memory (its carts die with it).
pub fn big_host(handle: &Handle, scn: &Arc<Scenario>, wiring: Wiring) -> Replica {
    let cpu = Arc::new(Cpu::new(
        &scn.vertical.host,
        scn.vertical.max_waiting_requests.get(),
    ));
    let seeds = BootSeeds::draw();
    let (scn2, cpu2) = (scn.clone(), cpu.clone());
    let node = handle
        .create_node()
        .name("app")
        .ip(APP.ip())
        .init(move || storefront(scn2.clone(), cpu2.clone(), wiring, seeds.next(), APP, false))
        .build();
    Replica {
        index: 0,
        addr: APP,
        node,
        cpu,
        busy_before: 0,
        ready: true,
        leaving: false,
    }
}

fn replica_addr(index: u32) -> SocketAddr {
    // 10.1.x.y: room for thousands of replicas.
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(
            10,
            1,
            (index / 250) as u8,
            (index % 250) as u8 + 1,
        )),
        80,
    )
}

/// Starts replica `index` of a scaled design (behind the load balancer); it is not in
/// rotation until someone marks it ready.
pub fn start_replica(handle: &Handle, scn: &Arc<Scenario>, index: u32, wiring: Wiring) -> Replica {
    let h = &scn.horizontal;
    let addr = replica_addr(index);
    let cpu = Arc::new(Cpu::new(&h.replica, h.max_waiting_requests.get()));
    let seeds = BootSeeds::draw();
    let (scn2, cpu2) = (scn.clone(), cpu.clone());
    let node = handle
        .create_node()
        .name(format!("app-{index}"))
        .ip(addr.ip())
        .init(move || storefront(scn2.clone(), cpu2.clone(), wiring, seeds.next(), addr, true))
        .build();
    Replica {
        index,
        addr,
        node,
        cpu,
        busy_before: 0,
        ready: false,
        leaving: false,
    }
}
