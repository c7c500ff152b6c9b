//! The designs: which implementations stand behind the shop's ports, and which simulated
//! hosts run it. The same system code in every design; only the assembly differs.
//!
//! | design     | app tier                                   | sessions           | side work | database |
//! |------------|--------------------------------------------|--------------------|-----------|----------|
//! | vertical   | one big host                               | in its memory      | inline    | one      |
//! | horizontal | N small replicas, load balancer, autoscaler | external store     | inline    | one      |
//! | queued     | as horizontal                              | external store     | broker + workers | one |
//! | sharded    | as horizontal                              | external store     | broker + workers | N shards by customer |
//!
//! Must not: contain shop logic. It wires ports to simulated infrastructure.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::runtime::{Handle, NodeHandle};
use madsim::task::NodeId;
use tokio::time::Instant;

use crate::autoscale::{Autoscaler, Policy};
use crate::broker::{self, Broker, Consumer};
use crate::db::SimDb;
use crate::host::{charge, Charge, Cpu};
use crate::lb::{Balance as LbBalance, Event, HealthCheck, LoadBalancer};
use crate::mail::SimMailer;
use crate::metrics::Recorder;
use crate::scenario::{Balance, Scenario, ShardStrategy};
use crate::sessions::{self, SessionServer, SimSessions};
use scalelab_system::bugs::{Bugs, StaleSessionCache, StuckPublisher};
use scalelab_system::exercises::{self, Exercise}; // COURSE
use scalelab_system::memory::FakePayments;
use scalelab_system::ports::{SessionStore, SideWork, Store};
use scalelab_system::session::{InMemorySessions, SessionIds};
use scalelab_system::shard::{ShardMap, ShardedStore, Strategy};
use scalelab_system::storefront::{router, App};
use scalelab_system::worker::{run_worker_with, Inline, Job, Queued, ORDERS_TOPIC};

pub const APP: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)), 80);
pub const LB: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 80);
pub const DB: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 2, 1)), 5432);

/// Database shard `i` (shard 0 is the single database of the unsharded designs).
pub fn db_addr(shard: u32) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 2, shard as u8 + 1)), 5432)
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
    /// COURSE: student code swapped in by `scalelab lesson check` (see
    /// `scalelab_system::exercises`); the default is the shop's own.
    pub exercise: Exercise,
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

/// The `Store` port as a process of this design sees it: one database, or the shard router
/// over every shard.
async fn store_for(scn: &Scenario, wiring: Wiring) -> std::io::Result<Arc<dyn Store>> {
    let mut params = scn.database.clone();
    params.pool_size =
        std::num::NonZeroU32::new(wiring.db_pool).unwrap_or(std::num::NonZeroU32::MIN);
    if wiring.shards <= 1 {
        return Ok(Arc::new(SimDb::connect(DB, &params).await?));
    }
    let mut shards: Vec<Arc<dyn Store>> = Vec::new();
    for i in 0..wiring.shards {
        shards.push(Arc::new(SimDb::connect(db_addr(i), &params).await?));
    }
    Ok(Arc::new(
        // COURSE: lesson 10's placement, when the grader asks for it.
        ShardedStore::new(wiring.exercise.shard_map(shard_map(scn)), shards).with_bugs(wiring.bugs),
    ))
}
pub const MAIL: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 3, 1)), 25);
pub const SESSIONS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 4, 1)), 6379);

/// A simulated node and its name (madsim's handle does not give names back).
pub type Node = (NodeId, String);

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
                exercise: Exercise::default(), // COURSE
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
                exercise: Exercise::default(), // COURSE
            },
        }
    }

    pub fn parse(s: &str) -> Option<Design> {
        Design::ALL.into_iter().find(|d| d.name() == s)
    }
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

/// The storefront on one app host, wired to its ports; serves until the node dies. With
/// `queued`, checkout publishes its side work to the broker instead of doing it inline.
async fn serve_storefront(
    scn: Arc<Scenario>,
    cpu: Arc<Cpu>,
    wiring: Wiring,
    session_seed: u64,
    addr: SocketAddr,
    behind_lb: bool,
) {
    let (Ok(store), Ok(mailer)) = (
        store_for(&scn, wiring).await,
        SimMailer::connect(MAIL, &scn.mail).await,
    ) else {
        return;
    };
    let sessions: Arc<dyn SessionStore> = if wiring.external_sessions {
        match SimSessions::connect(SESSIONS, &session_params(&scn)).await {
            Ok(s) if wiring.bugs.cart_in_memory() => Arc::new(StaleSessionCache {
                inner: Arc::new(s),
                cache: Default::default(),
            }),
            Ok(s) => Arc::new(s),
            Err(_) => return,
        }
    } else {
        Arc::new(InMemorySessions::new(Duration::from_secs_f64(
            scn.app.session_ttl_s.0,
        )))
    };
    let side_work: Arc<dyn SideWork> = if wiring.queued {
        match broker::Client::connect(broker_params(&scn), 8).await {
            Ok(publisher) if wiring.bugs.publisher_never_reconnects() => Arc::new(Queued {
                publisher: Arc::new(StuckPublisher {
                    inner: Arc::new(publisher),
                    open: Default::default(),
                }),
            }),
            Ok(publisher) => Arc::new(Queued {
                publisher: Arc::new(publisher),
            }),
            Err(_) => return,
        }
    } else {
        Arc::new(Inline {
            store: store.clone(),
            mailer: Arc::new(mailer),
        })
    };
    let app = App {
        store,
        sessions,
        payments: Arc::new(FakePayments),
        side_work,
        session_ids: SessionIds::from_seed(session_seed),
        catalog_page_size: scn.app.catalog_page_size.get() as usize,
    };
    let costs = scn.app.clone();
    let shop = router(Arc::new(app)).layer(axum::middleware::from_fn_with_state(
        Arc::new(Charge { cpu, costs }),
        charge,
    ));
    // Behind a load balancer, requests arrive already parsed (see `lb`); browsers that
    // connect directly speak HTTP.
    serve_forever(|| {
        let shop = shop.clone();
        async move {
            if behind_lb {
                crate::net::serve_forwarded(addr, shop).await
            } else {
                crate::net::serve_http(addr, shop).await
            }
        }
    })
    .await
}

/// Runs `serve` until the node dies. A server whose listener failed (right after a restart
/// its old socket may not be released yet) tries again shortly, as a supervisor (systemd,
/// Kubernetes) restarts a crashed process.
pub async fn serve_forever<F, Fut>(serve: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = std::io::Result<()>>,
{
    loop {
        let _ = serve().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn session_params(scn: &Scenario) -> sessions::Params {
    let p = &scn.session_store;
    sessions::Params {
        command_cpu: ms(p.command_cpu_ms.0),
        ttl: Duration::from_secs_f64(scn.app.session_ttl_s.0),
        max_connections: p.max_connections.get(),
        pool_size: p.pool_size.get(),
        timeout: ms(p.timeout_ms.0),
    }
}

/// One app host: its CPU and how much of it was used at the last sample.
struct Host {
    cpu: Arc<Cpu>,
    busy_before: u64,
}

impl Replica {
    fn named(&self) -> Node {
        let name = if self.addr == APP {
            "app".to_owned()
        } else {
            format!("app-{}", self.index)
        };
        (self.node.id(), name)
    }
}

/// A replica of the horizontal design.
struct Replica {
    index: u32,
    addr: SocketAddr,
    node: NodeHandle,
    host: Host,
    /// In the load balancer's rotation.
    ready: bool,
    /// Out of rotation, to be stopped.
    leaving: bool,
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

/// The app tier of a design, as the supervisor sees it.
pub struct AppTier {
    /// Where browsers connect.
    pub entry: SocketAddr,
    pub cores_per_host: u32,
    pub capacity_per_host: f64,
    hosts: Arc<Mutex<Vec<Replica>>>,
    lb: Option<Arc<LoadBalancer>>,
    brokers: Vec<Arc<Broker>>,
    /// The session store's node and server (stateless designs), for the fault injector.
    pub sessions: Option<(Node, Arc<SessionServer>)>,
    /// The broker nodes, by broker id (queued designs).
    pub broker_nodes: Vec<Node>,
    /// The worker services' nodes, confirmation-email workers first (queued designs).
    pub worker_nodes: Vec<Node>,
}

impl AppTier {
    /// The app host a fault aimed at `app` hits: the one big host, or the oldest replica
    /// taking traffic. Its node and CPU.
    pub fn app_target(&self) -> Option<(Node, Arc<Cpu>)> {
        let hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts
            .iter()
            .find(|r| r.ready && !r.leaving)
            .map(|r| (r.named(), r.host.cpu.clone()))
    }

    /// Every app host's node that is not being retired.
    pub fn app_nodes(&self) -> Vec<Node> {
        let hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts
            .iter()
            .filter(|r| !r.leaving)
            .map(Replica::named)
            .collect()
    }

    /// Every app host with where it is in its life: booting, serving, or being retired.
    pub fn replicas(&self) -> Vec<(Node, ReplicaState)> {
        let hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts
            .iter()
            .map(|r| {
                let state = match (r.ready, r.leaving) {
                    (_, true) => ReplicaState::Leaving,
                    (true, false) => ReplicaState::Serving,
                    (false, false) => ReplicaState::Starting,
                };
                (r.named(), state)
            })
            .collect()
    }

    /// Orders published and not yet confirmed by the email workers.
    pub fn queue_lag(&self) -> u64 {
        Broker::lag(&self.brokers, ORDERS_TOPIC, Job::ConfirmationEmail.group())
    }

    /// Mean CPU utilization of the app hosts taking traffic over the last `step`, and how
    /// many there are. Also moves load-balancer events into the trace.
    pub fn sample(&self, step: Duration, recorder: &mut Recorder, at: Duration) -> (f64, u32) {
        if let Some(lb) = &self.lb {
            for event in lb.take_events() {
                let (up, addr) = match event {
                    Event::Up(a) => (true, a),
                    Event::Down(a) => (false, a),
                };
                recorder.replica_health(at, address_index(addr), up);
            }
        }
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        let mut sum = 0.0;
        let mut n = 0u32;
        for r in hosts.iter_mut().filter(|r| r.ready) {
            let busy = r.host.cpu.busy_ns();
            let used = (busy - r.host.busy_before) as f64
                / (step.as_nanos() as f64 * f64::from(r.host.cpu.cores()));
            r.host.busy_before = busy;
            sum += used.min(1.0);
            n += 1;
        }
        (if n > 0 { sum / f64::from(n) } else { 0.0 }, n)
    }
}

fn address_index(addr: SocketAddr) -> u64 {
    match addr.ip() {
        IpAddr::V4(v4) => u64::from(u32::from(v4)),
        IpAddr::V6(_) => 0,
    }
}

/// The naive design's app tier: one big host, sessions in its memory.
pub fn vertical(handle: &Handle, scn: &Arc<Scenario>, wiring: Wiring) -> AppTier {
    let cpu = Arc::new(Cpu::new(
        &scn.vertical.host,
        scn.vertical.max_waiting_requests.get(),
    ));
    let seeds = BootSeeds::new();
    let (scn2, cpu2) = (scn.clone(), cpu.clone());
    // Restarting the node runs this again: a fresh process, with an empty session store
    // in its memory (the naive design's carts die with it).
    let node = handle
        .create_node()
        .name("app")
        .ip(APP.ip())
        .init(move || {
            serve_storefront(scn2.clone(), cpu2.clone(), wiring, seeds.next(), APP, false)
        })
        .build();
    AppTier {
        entry: APP,
        cores_per_host: cpu.cores(),
        capacity_per_host: cpu.capacity(),
        hosts: Arc::new(Mutex::new(vec![Replica {
            index: 0,
            addr: APP,
            node,
            host: Host {
                cpu,
                busy_before: 0,
            },
            ready: true,
            leaving: false,
        }])),
        lb: None,
        brokers: Vec::new(),
        sessions: None,
        broker_nodes: Vec::new(),
        worker_nodes: Vec::new(),
    }
}

/// The session-id seed of each start of an app process. A real server draws one from the OS
/// at every start; a restarted process that reused its first seed would hand out the same
/// session ids again, and in a shared session store a new visitor would take over an old
/// visitor's cart (a bug `scalelab hunt` found in an earlier version of this file).
struct BootSeeds {
    first: u64,
    starts: std::sync::atomic::AtomicU64,
}

impl BootSeeds {
    fn new() -> BootSeeds {
        BootSeeds {
            first: madsim::rand::random(),
            starts: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn next(&self) -> u64 {
        match self
            .starts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        {
            0 => self.first,
            _ => madsim::rand::random(),
        }
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

fn start_replica(handle: &Handle, scn: &Arc<Scenario>, index: u32, wiring: Wiring) -> Replica {
    let h = &scn.horizontal;
    let addr = replica_addr(index);
    let cpu = Arc::new(Cpu::new(&h.replica, h.max_waiting_requests.get()));
    let seeds = BootSeeds::new();
    let (scn2, cpu2) = (scn.clone(), cpu.clone());
    let node = handle
        .create_node()
        .name(format!("app-{index}"))
        .ip(addr.ip())
        .init(move || {
            serve_storefront(scn2.clone(), cpu2.clone(), wiring, seeds.next(), addr, true)
        })
        .build();
    Replica {
        index,
        addr,
        node,
        host: Host {
            cpu,
            busy_before: 0,
        },
        ready: false,
        leaving: false,
    }
}

/// The horizontal design's app tier: a load balancer, `min_replicas` warm replicas, the
/// session store, and the autoscaler that adds and removes replicas.
pub fn horizontal(
    handle: &Handle,
    scn: &Arc<Scenario>,
    recorder: Arc<Mutex<Recorder>>,
    start: Instant,
    wiring: Wiring,
) -> AppTier {
    let h = &scn.horizontal;
    // The store's data lives outside its node: a restart keeps it, as Redis with an
    // append-only file does.
    let session_server = Arc::new(SessionServer::new(session_params(scn)));
    let server = session_server.clone();
    let store_node = handle
        .create_node()
        .name("sessions")
        .ip(SESSIONS.ip())
        .init(move || {
            let server = server.clone();
            async move { serve_forever(|| server.clone().serve(SESSIONS)).await }
        })
        .build();

    let balance = match h.balance {
        Balance::RoundRobin => LbBalance::RoundRobin,
        Balance::LeastConnections => LbBalance::LeastConnections,
    };
    let lb = Arc::new(LoadBalancer::new(
        balance,
        HealthCheck {
            interval: ms(h.health_interval_ms.0),
            timeout: ms(h.health_timeout_ms.0),
            unhealthy_after: h.unhealthy_after.get(),
            healthy_after: h.healthy_after.get(),
        },
    ));
    let mut replicas = Vec::new();
    for index in 0..h.min_replicas.get() {
        let mut r = start_replica(handle, scn, index, wiring);
        lb.add(r.addr);
        r.ready = true;
        replicas.push(r);
    }
    let probe = Cpu::new(&h.replica, 1);
    let (brokers, broker_nodes, worker_nodes) = if wiring.queued {
        start_brokers_and_workers(handle, scn, wiring)
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let tier = AppTier {
        entry: LB,
        cores_per_host: probe.cores(),
        capacity_per_host: probe.capacity(),
        hosts: Arc::new(Mutex::new(replicas)),
        lb: Some(lb.clone()),
        brokers,
        sessions: Some(((store_node.id(), "sessions".into()), session_server)),
        broker_nodes,
        worker_nodes,
    };
    let lb_node = handle.create_node().name("lb").ip(LB.ip()).build();
    lb_node.spawn(lb.clone().serve(LB));
    lb_node.spawn(lb.clone().health_checks());

    let controller = handle
        .create_node()
        .name("autoscaler")
        .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 7, 1)))
        .build();
    controller.spawn(autoscale(
        handle.clone(),
        scn.clone(),
        tier.hosts.clone(),
        lb,
        recorder,
        start,
        wiring,
    ));
    tier
}

/// The broker cluster, and the worker services of each kind of job; the brokers, their
/// nodes, and the workers' nodes.
fn start_brokers_and_workers(
    handle: &Handle,
    scn: &Arc<Scenario>,
    wiring: Wiring,
) -> (Vec<Arc<Broker>>, Vec<Node>, Vec<Node>) {
    let params = broker_params(scn);
    let brokers: Vec<Arc<Broker>> = (0..params.brokers)
        .map(|b| Arc::new(Broker::new(b, params)))
        .collect();
    let mut broker_nodes = Vec::new();
    for (b, broker) in brokers.iter().enumerate() {
        let addr = broker::broker_addr(b as u32);
        let broker = broker.clone();
        let node = handle
            .create_node()
            .name(format!("broker-{b}"))
            .ip(addr.ip())
            .init(move || {
                let broker = broker.clone();
                async move { serve_forever(|| broker.clone().serve(addr)).await }
            })
            .build();
        broker_nodes.push((node.id(), format!("broker-{b}")));
    }
    let mut worker_nodes = Vec::new();
    let q = &scn.queued;
    let mut member = 0u64;
    for (job, count) in [
        (Job::ConfirmationEmail, q.email_workers.get()),
        (Job::StockMovement, q.stock_workers.get()),
        (Job::ShippingLabel, q.label_workers.get()),
    ] {
        for i in 0..count {
            member += 1;
            let (scn, me) = (scn.clone(), member);
            let node = handle
                .create_node()
                .name(format!("{}-{i}", job.group()))
                .ip(IpAddr::V4(Ipv4Addr::new(
                    10,
                    2,
                    (member / 250) as u8,
                    (member % 250) as u8 + 1,
                )))
                .init(move || worker(scn.clone(), job, me, wiring))
                .build();
            worker_nodes.push((node.id(), format!("{}-{i}", job.group())));
        }
    }
    (brokers, broker_nodes, worker_nodes)
}

/// One worker service: system's worker loop over the simulated broker, database and mail.
async fn worker(scn: Arc<Scenario>, job: Job, member: u64, wiring: Wiring) {
    // A worker needs few database connections: it does one job at a time.
    let wiring = Wiring {
        db_pool: 2,
        ..wiring
    };
    let (Ok(store), Ok(mailer), Ok(client)) = (
        store_for(&scn, wiring).await,
        SimMailer::connect(MAIL, &scn.mail).await,
        broker::Client::connect(broker_params(&scn), 4).await,
    ) else {
        return;
    };
    let consumer = Consumer::new(client, ORDERS_TOPIC, job.group(), member);
    // On a failure of the broker, wait and join again: a worker service restarts its loop.
    loop {
        // COURSE: lesson 5 grades a student's worker loop in place of the shop's.
        let _ = match wiring.exercise.worker {
            Some(code) => {
                exercises::run_worker(code, job, &consumer, store.as_ref(), &mailer).await
            }
            None => run_worker_with(job, &consumer, store.as_ref(), &mailer, wiring.bugs).await,
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The autoscaler's control loop: every sync period, measure, decide, act.
#[allow(clippy::too_many_arguments)]
async fn autoscale(
    handle: Handle,
    scn: Arc<Scenario>,
    hosts: Arc<Mutex<Vec<Replica>>>,
    lb: Arc<LoadBalancer>,
    recorder: Arc<Mutex<Recorder>>,
    start: Instant,
    wiring: Wiring,
) {
    let h = &scn.horizontal;
    let period = Duration::from_secs_f64(h.sync_period_s.0);
    let startup = Duration::from_secs_f64(h.startup_delay_s.0);
    let mut hpa = Autoscaler::new(Policy {
        min_replicas: h.min_replicas.get(),
        max_replicas: h.max_replicas.get_ref().get(),
        target_utilization: h.target_cpu.0,
        tolerance: h.tolerance.0,
        scale_up_window: Duration::from_secs_f64(h.scale_up_window_s.0),
        scale_down_window: Duration::from_secs_f64(h.scale_down_window_s.0),
    });
    // The controller's own view of each replica's CPU, like metrics-server's.
    let mut seen: std::collections::BTreeMap<u32, u64> = std::collections::BTreeMap::new();
    let mut next_index = h.min_replicas.get();
    loop {
        tokio::time::sleep(period).await;
        let now = Instant::now().duration_since(start);
        let (current, utilization) = {
            let list = hosts.lock().unwrap_or_else(|p| p.into_inner());
            let mut sum = 0.0;
            let mut ready = 0u32;
            for r in list.iter().filter(|r| r.ready) {
                let busy = r.host.cpu.busy_ns();
                let before = seen.insert(r.index, busy).unwrap_or(busy);
                sum += ((busy - before) as f64
                    / (period.as_nanos() as f64 * f64::from(r.host.cpu.cores())))
                .min(1.0);
                ready += 1;
            }
            // Replicas starting up count as current, as pods do: the HPA must not add them twice.
            let current = list.iter().filter(|r| !r.leaving).count() as u32;
            (
                current,
                if ready > 0 {
                    sum / f64::from(ready)
                } else {
                    0.0
                },
            )
        };
        let desired = hpa.decide(now, current, utilization);
        if desired == current {
            continue;
        }
        recorder.lock().unwrap_or_else(|p| p.into_inner()).scaled(
            now,
            current,
            desired,
            (utilization * 1000.0) as u64,
        );
        if desired > current {
            for _ in current..desired {
                let r = start_replica(&handle, &scn, next_index, wiring);
                next_index += 1;
                let (addr, index) = (r.addr, r.index);
                hosts.lock().unwrap_or_else(|p| p.into_inner()).push(r);
                let (lb, hosts) = (lb.clone(), hosts.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(startup).await;
                    let mut list = hosts.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(r) = list.iter_mut().find(|r| r.index == index && !r.leaving) {
                        r.ready = true;
                        lb.add(addr);
                    }
                });
            }
        } else {
            // Remove the newest replicas: out of rotation now, stopped once in-flight work is done.
            let leaving: Vec<(SocketAddr, NodeHandle)> = {
                let mut list = hosts.lock().unwrap_or_else(|p| p.into_inner());
                let mut chosen = Vec::new();
                for r in list
                    .iter_mut()
                    .rev()
                    .filter(|r| !r.leaving)
                    .take((current - desired) as usize)
                {
                    r.leaving = true;
                    r.ready = false;
                    chosen.push((r.addr, r.node.clone()));
                }
                chosen
            };
            for (addr, node) in leaving {
                lb.remove(addr);
                let (handle, hosts) = (handle.clone(), hosts.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    handle.kill(node.id());
                    hosts
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .retain(|r| r.addr != addr);
                });
            }
        }
    }
}
