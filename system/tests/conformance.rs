//! The port conformance suites (`scalelab_system::conformance`) against every implementation
//! this crate has: the in-memory ones in both worlds; in the real world also SQLite (always, in
//! a temporary directory) and PostgreSQL (when `SCALELAB_TEST_POSTGRES_URL` is set; the test
//! says so and passes when it is not). The simulator's adapters run the same suites in
//! `sim/tests/conformance.rs`.

use std::sync::Arc;

use std::time::Duration;

use async_trait::async_trait;
use scalelab_system::conformance::Consumers;
use scalelab_system::memory::{demo_catalog, MemoryMailer, MemoryStore};
use scalelab_system::memory_broker::MemoryBroker;
use scalelab_system::ports::Subscription;

#[tokio::test]
async fn the_memory_store_keeps_the_store_promises() {
    let catalog = demo_catalog(10);
    let store = Arc::new(MemoryStore::new(catalog.clone(), 10));
    scalelab_system::conformance::store(store, &catalog, 10).await;
}

struct MemoryConsumers(Arc<MemoryBroker>);

#[async_trait]
impl Consumers for MemoryConsumers {
    async fn join(&self, topic: &str, group: &str) -> Box<dyn Subscription> {
        Box::new(self.0.subscribe(topic, group))
    }
}

#[tokio::test]
async fn the_memory_broker_keeps_the_broker_promises() {
    let broker = MemoryBroker::new(4);
    let consumers = MemoryConsumers(broker.clone());
    scalelab_system::conformance::broker(broker.as_ref(), &consumers, "orders", Duration::ZERO)
        .await;
    assert_eq!(
        broker.lag("orders", "group-a"),
        0,
        "group a committed everything"
    );
    assert_eq!(
        broker.lag("orders", "group-b"),
        14,
        "group b committed nothing"
    );
}

#[tokio::test]
async fn the_memory_mailer_keeps_the_mailer_promises() {
    let mailer = MemoryMailer::default();
    scalelab_system::conformance::mailer(&mailer).await;
    assert_eq!(mailer.sent().len(), 1, "one email per order");
}

#[cfg(not(madsim))]
mod real {
    use std::sync::Arc;

    use scalelab_system::memory::demo_catalog;
    use scalelab_system::real::sql::{
        drop_postgres_database, postgres_database_url, ShardSetup, SqlStore,
    };

    fn setup() -> ShardSetup {
        ShardSetup {
            catalog: demo_catalog(10),
            stock: 10,
            first_order_id: 1,
            order_id_step: 1,
            max_connections: 4,
        }
    }

    /// A name no other test run uses at the same time.
    pub fn unique(prefix: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        format!("{prefix}_{}_{nanos}", std::process::id())
    }

    /// The service URL from `var`, or `None` after saying that the test skips.
    pub fn service_url(var: &str, test: &str) -> Option<String> {
        match std::env::var(var) {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                eprintln!("SKIPPED {test}: set {var} to run it against a real service");
                None
            }
        }
    }

    #[tokio::test]
    async fn sqlite_keeps_the_store_promises() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("shop.db").display());
        let store = SqlStore::connect(&url, &setup()).await.expect("connect");
        scalelab_system::conformance::store(Arc::new(store), &setup().catalog, 10).await;
    }

    #[tokio::test]
    async fn postgres_keeps_the_store_promises() {
        let Some(server) = service_url(
            "SCALELAB_TEST_POSTGRES_URL",
            "postgres_keeps_the_store_promises",
        ) else {
            return;
        };
        let db = postgres_database_url(&server, &unique("scalelab_conformance")).expect("url");
        let store = SqlStore::connect(&db, &setup()).await.expect("connect");
        scalelab_system::conformance::store(Arc::new(store), &setup().catalog, 10).await;
        drop_postgres_database(&db)
            .await
            .expect("drop the test database");
    }
}
