//! The load balancer: spreading requests, skipping a dead replica, taking it back.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use madsim::runtime::{Handle, Runtime};
use scalelab_sim::world::lb::{Balance, Event, HealthCheck, LoadBalancer};
use scalelab_sim::world::net::{serve_forwarded, Connection, Forwarded, Replied};

const LB: &str = "10.0.0.1:80";

fn check() -> HealthCheck {
    HealthCheck {
        interval: Duration::from_millis(500),
        timeout: Duration::from_millis(200),
        unhealthy_after: 2,
        healthy_after: 2,
    }
}

fn replica_addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 1, i], 80))
}

/// A replica that answers `/who` with its name, after `delay`.
fn replica(i: u8, delay: Duration) -> axum::Router {
    axum::Router::new()
        .route("/health", axum::routing::get(|| async { "ok" }))
        .route(
            "/who",
            axum::routing::get(move || async move {
                tokio::time::sleep(delay).await;
                format!("replica-{i}")
            }),
        )
}

/// GET `path` from the balancer on a new connection: (status, body).
async fn get(path: &str) -> Option<(u16, String)> {
    let mut conn = Connection::open(LB.parse().ok()?).await.ok()?;
    let head = hyper::Request::get(path)
        .header("host", "shop")
        .body(())
        .ok()?
        .into_parts()
        .0;
    let Replied(head, body) = conn.send(Forwarded(head, Bytes::new())).await.ok()?;
    Some((
        head.status.as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    ))
}

/// A runtime with a balancer at LB and `delays.len()` replicas; returns the runtime, the
/// balancer and the replicas' node ids.
fn setup(balance: Balance, delays: &[Duration]) -> (Runtime, Arc<LoadBalancer>, Vec<String>) {
    let rt = Runtime::with_seed_and_config(3, madsim::Config::default());
    let lb = Arc::new(LoadBalancer::new(balance, check()));
    let mut ids = Vec::new();
    for (i, &delay) in delays.iter().enumerate() {
        let i = i as u8 + 1;
        let node = rt
            .create_node()
            .name(format!("replica-{i}"))
            .ip(replica_addr(i).ip())
            .init(move || async move {
                let _ = serve_forwarded(replica_addr(i), replica(i, delay)).await;
            })
            .build();
        let _ = node;
        ids.push(format!("replica-{i}"));
        lb.add(replica_addr(i));
    }
    let lb_node = rt.create_node().name("lb").ip([10, 0, 0, 1].into()).build();
    lb_node.spawn(lb.clone().serve(LB.parse().expect("addr")));
    lb_node.spawn(lb.clone().health_checks());
    (rt, lb, ids)
}

fn tally(answers: &[Option<(u16, String)>]) -> BTreeMap<String, usize> {
    let mut t = BTreeMap::new();
    for a in answers {
        let key = match a {
            Some((200, who)) => who.clone(),
            Some((status, _)) => format!("status {status}"),
            None => "no answer".into(),
        };
        *t.entry(key).or_insert(0) += 1;
    }
    t
}

#[test]
fn round_robin_spreads_requests_evenly() {
    let (rt, _lb, _) = setup(Balance::RoundRobin, &[Duration::ZERO; 3]);
    let client = rt.create_node().ip([10, 0, 9, 1].into()).build();
    let answers = rt
        .block_on(client.spawn(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let mut answers = Vec::new();
            for _ in 0..30 {
                answers.push(get("/who").await);
            }
            answers
        }))
        .expect("client");
    let t = tally(&answers);
    assert_eq!(
        t.values().copied().collect::<Vec<_>>(),
        vec![10, 10, 10],
        "{t:?}"
    );
}

#[test]
fn least_connections_favours_the_idle_replica() {
    // Replica 1 takes 200 ms per request, replica 2 answers at once.
    let (rt, _lb, _) = setup(
        Balance::LeastConnections,
        &[Duration::from_millis(200), Duration::ZERO],
    );
    let client = rt.create_node().ip([10, 0, 9, 1].into()).build();
    let answers = rt
        .block_on(client.spawn(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let mut tasks = Vec::new();
            for i in 0..40u64 {
                tasks.push(tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(5 * i)).await;
                    get("/who").await
                }));
            }
            let mut answers = Vec::new();
            for t in tasks {
                answers.push(t.await.ok().flatten());
            }
            answers
        }))
        .expect("client");
    let t = tally(&answers);
    let (slow, fast) = (
        t.get("replica-1").copied().unwrap_or(0),
        t.get("replica-2").copied().unwrap_or(0),
    );
    assert_eq!(slow + fast, 40, "{t:?}");
    assert!(fast > 3 * slow, "{t:?}");
}

#[test]
fn the_balancer_skips_a_dead_replica_and_takes_it_back() {
    let (rt, lb, ids) = setup(Balance::RoundRobin, &[Duration::ZERO; 3]);
    let client = rt.create_node().ip([10, 0, 9, 1].into()).build();
    let dead = ids[1].clone();
    let lb2 = lb.clone();
    let (before, during, after, events) = rt
        .block_on(client.spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let mut before = Vec::new();
            for _ in 0..9 {
                before.push(get("/who").await);
            }
            Handle::current().kill(dead.as_str());
            // Two failed checks at 500 ms intervals take it out.
            tokio::time::sleep(Duration::from_millis(1200)).await;
            let mut during = Vec::new();
            for _ in 0..20 {
                during.push(get("/who").await);
            }
            Handle::current().restart(dead.as_str());
            tokio::time::sleep(Duration::from_millis(1200)).await;
            let mut after = Vec::new();
            for _ in 0..9 {
                after.push(get("/who").await);
            }
            (before, during, after, lb2.take_events())
        }))
        .expect("client");
    assert_eq!(tally(&before).len(), 3);
    let t = tally(&during);
    assert_eq!(
        t.get("replica-2"),
        None,
        "the dead replica gets nothing: {t:?}"
    );
    assert_eq!(t.values().sum::<usize>(), 20);
    assert!(
        t.keys().all(|k| k.starts_with("replica-")),
        "every request answered: {t:?}"
    );
    assert_eq!(
        events,
        vec![Event::Down(replica_addr(2)), Event::Up(replica_addr(2))]
    );
    assert_eq!(
        tally(&after).len(),
        3,
        "back in rotation: {:?}",
        tally(&after)
    );
    assert_eq!(lb.counts(), (3, 3));
}
