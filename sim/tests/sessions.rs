//! The simulated session store keeps the same promises as the in-process one (the shared
//! conformance suite), and holds sessions across app processes.

use std::sync::Arc;
use std::time::Duration;

use madsim::runtime::Runtime;
use scalelab_sim::world::sessions::{Params, SessionServer, SimSessions};
use scalelab_system::ports::SessionStore;
use scalelab_system::session::{Session, SessionId};

fn params(ttl: Duration) -> Params {
    Params {
        command_cpu: Duration::from_micros(50),
        ttl,
        max_connections: 100,
        pool_size: 8,
        timeout: Duration::from_millis(500),
    }
}

#[test]
fn the_simulated_session_store_keeps_the_session_store_promises() {
    let rt = Runtime::with_seed_and_config(1, madsim::Config::default());
    let store_node = rt.create_node().ip([10, 0, 4, 1].into()).build();
    let app = rt.create_node().ip([10, 0, 1, 1].into()).build();
    let addr = "10.0.4.1:6379".parse().expect("addr");
    let ttl = Duration::from_millis(200);
    store_node.spawn(Arc::new(SessionServer::new(params(ttl))).serve(addr));
    rt.block_on(app.spawn(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let client = SimSessions::connect(addr, &params(ttl))
            .await
            .expect("connect");
        scalelab_system::conformance::session_store(&client, ttl).await;
    }))
    .expect("conformance suite");
}

#[test]
fn a_session_saved_by_one_app_node_is_seen_by_another() {
    // What makes app replicas stateless: any of them can serve the next request.
    let rt = Runtime::with_seed_and_config(1, madsim::Config::default());
    let store_node = rt.create_node().ip([10, 0, 4, 1].into()).build();
    let app1 = rt.create_node().ip([10, 0, 1, 1].into()).build();
    let app2 = rt.create_node().ip([10, 0, 1, 2].into()).build();
    let addr = "10.0.4.1:6379".parse().expect("addr");
    let p = params(Duration::from_secs(60));
    store_node.spawn(Arc::new(SessionServer::new(p)).serve(addr));
    let id = SessionId::parse(&"ab".repeat(16)).expect("id");
    let (id1, id2) = (id.clone(), id.clone());
    let saved = Session {
        customer_id: Some(42),
        ..Session::default()
    };
    let expected = saved.clone();
    rt.block_on(app1.spawn(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let c = SimSessions::connect(addr, &p).await.expect("connect");
        c.save(&id1, &saved).await.expect("save");
    }))
    .expect("app1");
    let loaded = rt
        .block_on(app2.spawn(async move {
            let c = SimSessions::connect(addr, &p).await.expect("connect");
            c.load(&id2).await.expect("load")
        }))
        .expect("app2");
    assert_eq!(loaded, Some(expected));
}
