//! The simulated adapters keep the same port promises as the in-memory and the real ones: the
//! shared conformance suites of `scalelab_system::conformance`, run inside a simulation. (The
//! session store's suite runs in `sessions.rs`.)

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use madsim::runtime::Runtime;
use scalelab_sim::scenario::{Database, Mail};
use scalelab_sim::world::broker::{broker_addr, Broker, Client, Consumer, Params};
use scalelab_sim::world::db::{DbServer, SimDb};
use scalelab_sim::world::mail::{MailServer, SimMailer};
use scalelab_system::conformance::Consumers;
use scalelab_system::memory::demo_catalog;
use scalelab_system::ports::Subscription;

#[test]
fn the_simulated_database_keeps_the_store_promises() {
    let rt = Runtime::with_seed_and_config(1, madsim::Config::default());
    let db_node = rt.create_node().ip([10, 0, 2, 1].into()).build();
    let app = rt.create_node().ip([10, 0, 1, 1].into()).build();
    let addr = "10.0.2.1:5432".parse().expect("addr");
    let params = Database::default();
    let catalog = demo_catalog(10);
    db_node.spawn(Arc::new(DbServer::shard(&params, catalog.clone(), 10, 1, 1)).serve(addr));
    rt.block_on(app.spawn(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let store = SimDb::connect(addr, &params).await.expect("pool");
        scalelab_system::conformance::store(Arc::new(store), &catalog, 10).await;
    }))
    .expect("conformance suite");
}

fn broker_params() -> Params {
    Params {
        brokers: 3,
        partitions: 6,
        replication: 2,
        retention_messages: 100_000,
        session_timeout: Duration::from_secs(3),
        heartbeat: Duration::from_millis(500),
        poll_wait: Duration::from_millis(50),
        timeout: Duration::from_secs(1),
    }
}

/// New group members, each with its own connections, as a worker service would have.
struct SimConsumers {
    next_member: std::sync::atomic::AtomicU64,
}

#[async_trait]
impl Consumers for SimConsumers {
    async fn join(&self, topic: &str, group: &str) -> Box<dyn Subscription> {
        let member = self
            .next_member
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let client = Client::connect(broker_params(), 4).await.expect("connect");
        Box::new(Consumer::new(client, topic, group, member))
    }
}

#[test]
fn the_simulated_broker_keeps_the_broker_promises() {
    let rt = Runtime::with_seed_and_config(1, madsim::Config::default());
    let p = broker_params();
    for b in 0..p.brokers {
        rt.create_node()
            .ip(broker_addr(b).ip())
            .build()
            .spawn(Arc::new(Broker::new(b, p)).serve(broker_addr(b)));
    }
    let app = rt.create_node().ip([10, 0, 1, 1].into()).build();
    rt.block_on(app.spawn(async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let publisher = Client::connect(broker_params(), 4).await.expect("connect");
        let consumers = SimConsumers {
            next_member: 0.into(),
        };
        // A member that stops polling is noticed after the session timeout.
        scalelab_system::conformance::broker(&publisher, &consumers, "orders", p.session_timeout)
            .await;
    }))
    .expect("conformance suite");
}

#[test]
fn the_simulated_mail_provider_keeps_the_mailer_promises() {
    let rt = Runtime::with_seed_and_config(1, madsim::Config::default());
    let mail_node = rt.create_node().ip([10, 0, 3, 1].into()).build();
    let app = rt.create_node().ip([10, 0, 1, 1].into()).build();
    let addr = "10.0.3.1:25".parse().expect("addr");
    let server = Arc::new(MailServer::new(&Mail::default()));
    mail_node.spawn(server.clone().serve(addr));
    rt.block_on(app.spawn(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let mailer = SimMailer::connect(addr, &Mail::default())
            .await
            .expect("connect");
        scalelab_system::conformance::mailer(&mailer).await;
    }))
    .expect("conformance suite");
    // The provider delivers at least once: both sends reached it.
    assert_eq!(server.sent(), 2);
}
