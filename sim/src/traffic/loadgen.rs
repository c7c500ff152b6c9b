//! The load generator: starts every shopper of a run at its time, on the browser nodes.
//!
//! An open workload starts sessions as a Poisson process follows the scenario's curve,
//! whatever the shop does (real traffic does not wait for a slow shop); a closed one keeps a
//! fixed number of users, each starting a new session when the last one ends. A hot-shard or
//! hot-product fault in force redirects some new sessions (`Skew`).
//!
//! Must not: look inside the shop or change what a session does once it has started.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::runtime::{Handle, NodeHandle};
use tokio::time::Instant;

use crate::scenario::{Model, Scenario};
use crate::seed::{stream, Purpose};
use crate::traffic::browser::{run_session, Users};
use crate::traffic::workload::{skew_plan, Arrivals, Planner, RateCurve, SessionPlan, Skew};
use scalelab_system::shard::ShardMap;

/// Simulated browsers are spread over this many client nodes. Many, because madsim finds a
/// free ephemeral port by scanning a node's sockets from port 1: with tens of thousands of
/// open browser connections on a few nodes, every new connection cost a long scan (7.5% of a
/// black-friday run's CPU with 4 nodes).
const CLIENT_NODES: u8 = 64;

/// What a new session needs to know of the faults in force.
#[derive(Clone)]
struct Redirect {
    seed: u64,
    skew: Arc<Mutex<Skew>>,
    map: ShardMap,
    customers: u32,
}

impl Redirect {
    fn apply(&self, plan: &mut SessionPlan) {
        let s = *self.skew.lock().unwrap_or_else(|p| p.into_inner());
        if s != Skew::default() {
            skew_plan(
                plan,
                self.seed,
                s.hot_shard,
                s.hot_product,
                &self.map,
                self.customers,
            );
        }
    }
}

/// Creates the browser nodes and starts the run's traffic on them.
pub fn start(
    handle: &Handle,
    scn: &Scenario,
    seed: u64,
    users: Arc<Users>,
    skew: Arc<Mutex<Skew>>,
    map: ShardMap,
) {
    let w = scn.workload();
    let clients: Vec<NodeHandle> = (0..CLIENT_NODES)
        .map(|i| {
            handle
                .create_node()
                .name(format!("browsers-{i}"))
                .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 9, i + 1)))
                .build()
        })
        .collect();
    let planner = Arc::new(Planner::new(seed, w));
    let loadgen = handle
        .create_node()
        .name("loadgen")
        .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 8, 1)))
        .build();
    let redirect = Redirect {
        seed,
        skew,
        map,
        customers: w.customers.get(),
    };
    match w.model {
        Model::Open => {
            let arrivals = Arrivals::new(
                RateCurve::from_workload(w),
                scn.duration_s(),
                stream(seed, Purpose::Arrivals),
            );
            loadgen.spawn(open(arrivals, planner, clients, users, redirect));
        }
        Model::Closed => {
            let count = w.users.map_or(0, |u| u.get());
            for user in 0..u64::from(count) {
                let (users, planner, redirect) = (users.clone(), planner.clone(), redirect.clone());
                clients[user as usize % clients.len()]
                    .spawn(closed_user(user, planner, users, redirect));
            }
        }
    }
}

/// The open workload's arrivals: one exact wake-up (`sleep_until_exact`, no 1 ms floor) per
/// arrival instant, which starts every session whose time has come, at its scheduled instant.
/// A session's first request's latency counts from that instant.
async fn open(
    arrivals: Arrivals,
    planner: Arc<Planner>,
    clients: Vec<NodeHandle>,
    users: Arc<Users>,
    redirect: Redirect,
) {
    let start = users.start;
    let mut arrivals = arrivals.enumerate().peekable();
    while let Some(&(_, next_s)) = arrivals.peek() {
        let at = start + Duration::from_secs_f64(next_s);
        if at > Instant::now() {
            madsim::time::sleep_until_exact(at).await;
        }
        let now = Instant::now();
        while let Some((i, at_s)) =
            arrivals.next_if(|&(_, t)| start + Duration::from_secs_f64(t) <= now)
        {
            let mut plan = planner.plan(i as u64);
            redirect.apply(&mut plan);
            let arrived = start + Duration::from_secs_f64(at_s);
            clients[i % clients.len()].spawn(run_session(plan, arrived, users.clone()));
        }
    }
}

/// One user of a closed workload: a session after another until the run ends. Each user's
/// sessions get their own index range, so plans never collide.
async fn closed_user(user: u64, planner: Arc<Planner>, users: Arc<Users>, redirect: Redirect) {
    madsim::time::sleep_exact(Duration::from_secs_f64(
        planner.start_offset_ms(user) / 1000.0,
    ))
    .await;
    for n in 0u64.. {
        if Instant::now() >= users.stop_at {
            break;
        }
        let mut plan = planner.plan((user << 32) | n);
        redirect.apply(&mut plan);
        run_session(plan, Instant::now(), users.clone()).await;
    }
}
