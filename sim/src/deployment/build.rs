//! Building a deployment: every node of a design, created in one place and in a fixed order
//! (madsim numbers nodes as they are created, and the order of their first tasks is part of
//! the run: reordering this file changes every trace hash).
//!
//! The order: the databases (one, or one per shard), the mail provider, then the app tier —
//! the naive design's one big host; or the session store, the warm replicas, the broker
//! cluster, its workers and the outbox relay (queued designs), the load balancer and the
//! autoscaler.
//!
//! Must not: decide anything a design's choices (`design`) do not say, or run traffic.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::runtime::Handle;
use tokio::time::Instant;

use crate::deployment::autoscale::control_loop;
use crate::deployment::design::{
    broker_params, db_addr, session_params, wired_shard_map, Design, Wiring, LB, MAIL, SESSIONS,
};
use crate::deployment::nodes::{Deployment, Part};
use crate::deployment::processes::{relay, serve_forever, worker};
use crate::deployment::replicas::{big_host, start_replica, AppHosts};
use crate::metrics::Recorder;
use crate::scenario::fault::Role;
use crate::scenario::{Balance, Scenario};
use crate::world::broker::{self, Broker};
use crate::world::db::DbServer;
use crate::world::host::Cpu;
use crate::world::lb::{Balance as LbBalance, HealthCheck, LoadBalancer};
use crate::world::mail::MailServer;
use crate::world::node::Node;
use crate::world::sessions::SessionServer;
use scalelab_system::memory::demo_catalog;
use scalelab_system::shard::stock_share;
use scalelab_system::worker::Job;

/// Creates every node of `design` (with `wiring`, which may carry planted bugs) on the
/// runtime behind `handle`. The autoscaler records its decisions in `recorder`.
pub fn build(
    handle: &Handle,
    scn: &Arc<Scenario>,
    design: Design,
    wiring: Wiring,
    recorder: Arc<Mutex<Recorder>>,
    start: Instant,
) -> Deployment {
    let mut parts = Vec::new();
    let dbs = databases(handle, scn, wiring, &mut parts);
    let mail = Arc::new(MailServer::new(&scn.mail, start));
    let m = mail.clone();
    let node = handle
        .create_node()
        .name("mail")
        .ip(MAIL.ip())
        .init(move || {
            let m = m.clone();
            async move { serve_forever(|| m.clone().serve(MAIL)).await }
        })
        .build();
    parts.push(Part {
        node: Node::new(node.id(), "mail"),
        group: "mail",
        role: Some(Role::Mail),
        cpu: None,
    });
    let map = wired_shard_map(scn, wiring);
    if design == Design::Vertical {
        let host = big_host(handle, scn, wiring);
        let probe = host.cpu.clone();
        let hosts = Arc::new(AppHosts::new(vec![host]));
        return Deployment::new(
            design,
            crate::deployment::design::APP,
            hosts,
            parts,
            None,
            dbs,
            Vec::new(),
            mail,
            map,
            &probe,
        );
    }

    let h = &scn.horizontal;
    parts.insert(0, session_store(handle, scn));
    let lb = Arc::new(load_balancer(scn));
    let mut replicas = Vec::new();
    for index in 0..h.min_replicas.get() {
        let mut r = start_replica(handle, scn, index, wiring);
        lb.add(r.addr);
        r.ready = true;
        replicas.push(r);
    }
    let hosts = Arc::new(AppHosts::new(replicas));
    let probe = Cpu::new(&h.replica, 1);
    let brokers = if wiring.queued {
        brokers_and_workers(handle, scn, wiring, &mut parts)
    } else {
        Vec::new()
    };
    let lb_node = handle.create_node().name("lb").ip(LB.ip()).build();
    lb_node.spawn(lb.clone().serve(LB));
    lb_node.spawn(lb.clone().health_checks());
    let controller = handle
        .create_node()
        .name("autoscaler")
        .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 7, 1)))
        .build();
    controller.spawn(control_loop(
        handle.clone(),
        scn.clone(),
        hosts.clone(),
        lb.clone(),
        recorder,
        start,
        wiring,
    ));
    Deployment::new(
        design,
        LB,
        hosts,
        parts,
        Some(lb),
        dbs,
        brokers,
        mail,
        map,
        &probe,
    )
}

/// The Redis-like session store. Its data lives outside its node: a restart keeps it, as
/// Redis with an append-only file does.
fn session_store(handle: &Handle, scn: &Scenario) -> Part {
    let session_server = Arc::new(SessionServer::new(session_params(scn)));
    let server = session_server.clone();
    let node = handle
        .create_node()
        .name("sessions")
        .ip(SESSIONS.ip())
        .init(move || {
            let server = server.clone();
            async move { serve_forever(|| server.clone().serve(SESSIONS)).await }
        })
        .build();
    Part {
        node: Node::new(node.id(), "sessions"),
        group: "sessions",
        role: Some(Role::SessionStore),
        cpu: Some(session_server.cpu()),
    }
}

/// The load balancer in front of the replicas, as the scenario sets it up.
fn load_balancer(scn: &Scenario) -> LoadBalancer {
    let h = &scn.horizontal;
    let ms = |v: f64| Duration::from_secs_f64(v / 1000.0);
    let balance = match h.balance {
        Balance::RoundRobin => LbBalance::RoundRobin,
        Balance::LeastConnections => LbBalance::LeastConnections,
    };
    LoadBalancer::new(
        balance,
        HealthCheck {
            interval: ms(h.health_interval_ms.0),
            timeout: ms(h.health_timeout_ms.0),
            unhealthy_after: h.unhealthy_after.get(),
            healthy_after: h.healthy_after.get(),
        },
    )
}

/// One database, or one per shard: each shard holds the catalog, its share of the stock,
/// and order ids from its own sequence (shard i: i+1, i+1+n, ...). A server's state lives
/// outside its node: a restarted database finds its data where it left it, as a real one
/// finds its disk.
fn databases(
    handle: &Handle,
    scn: &Scenario,
    wiring: Wiring,
    parts: &mut Vec<Part>,
) -> Vec<Arc<DbServer>> {
    let shards = wiring.shards;
    let products = scn.workload().products.get();
    (0..shards)
        .map(|i| {
            let stock = stock_share(scn.database.stock_per_product, shards, i);
            // A shard's share of the data may fit in memory where the whole did not.
            let mut params = scn.database.clone();
            if shards > 1 {
                let speedup = scn.sharded.working_set_speedup.0;
                params.read_cpu_ms.0 /= speedup;
                params.write_cpu_ms.0 /= speedup;
            }
            let server = Arc::new(
                DbServer::shard(
                    &params,
                    demo_catalog(products),
                    stock,
                    u64::from(i) + 1,
                    u64::from(shards),
                )
                .with_bugs(wiring.bugs),
            );
            let name = if shards == 1 {
                "db".to_owned()
            } else {
                format!("db-{i}")
            };
            let s = server.clone();
            let node = handle
                .create_node()
                .name(name.clone())
                .ip(db_addr(i).ip())
                .init(move || {
                    let s = s.clone();
                    async move { serve_forever(|| s.clone().serve(db_addr(i))).await }
                })
                .build();
            parts.push(Part {
                node: Node::new(node.id(), name),
                group: "db",
                role: Some(Role::Shard(i)),
                cpu: Some(server.cpu.clone()),
            });
            server
        })
        .collect()
}

/// The broker cluster, and the worker services of each kind of job.
fn brokers_and_workers(
    handle: &Handle,
    scn: &Arc<Scenario>,
    wiring: Wiring,
    parts: &mut Vec<Part>,
) -> Vec<Arc<Broker>> {
    let params = broker_params(scn);
    let brokers: Vec<Arc<Broker>> = (0..params.brokers)
        .map(|b| Arc::new(Broker::new(b, params)))
        .collect();
    // The live view lists them before the databases: sessions, brokers, workers, dbs, mail.
    let mut at = parts
        .iter()
        .position(|p| p.group == "db")
        .unwrap_or(parts.len());
    let mut add = |part: Part| {
        parts.insert(at, part);
        at += 1;
    };
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
        add(Part {
            node: Node::new(node.id(), format!("broker-{b}")),
            group: "broker",
            role: Some(Role::Broker),
            cpu: None,
        });
    }
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
            let name = format!("{}-{i}", job.group());
            let node = handle
                .create_node()
                .name(name.clone())
                .ip(IpAddr::V4(Ipv4Addr::new(
                    10,
                    2,
                    (member / 250) as u8,
                    (member % 250) as u8 + 1,
                )))
                .init(move || worker(scn.clone(), job, me, wiring))
                .build();
            add(Part {
                node: Node::new(node.id(), name),
                group: "workers",
                role: Some(Role::Worker),
                cpu: None,
            });
        }
    }
    // The outbox relay: a worker service of its own, with a role of its own so that a fault
    // can kill it mid-batch (a kill of `worker` takes the first email worker; a partition of
    // `worker` cuts the relay off too).
    let scn = scn.clone();
    let node = handle
        .create_node()
        .name("outbox-relay")
        .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 10, 1)))
        .init(move || relay(scn.clone(), wiring))
        .build();
    add(Part {
        node: Node::new(node.id(), "outbox-relay"),
        group: "workers",
        role: Some(Role::Relay),
        cpu: None,
    });
    brokers
}
