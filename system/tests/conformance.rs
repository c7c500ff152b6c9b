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
                // Straight to stderr: the test harness hides eprintln! of passing tests, and a
                // skip must be seen.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED {test}: set {var} to run it against a real service"
                );
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

    #[tokio::test]
    async fn redis_keeps_the_session_store_promises() {
        use scalelab_system::real::redis_sessions::RedisSessions;
        let Some(url) = service_url(
            "SCALELAB_TEST_REDIS_URL",
            "redis_keeps_the_session_store_promises",
        ) else {
            return;
        };
        let ttl = std::time::Duration::from_millis(300);
        // A prefix of its own: the keys cannot meet another run's, and expire by themselves.
        let store = RedisSessions::connect(&url, &unique("scalelab_test"), ttl)
            .await
            .expect("connect");
        scalelab_system::conformance::session_store(&store, ttl).await;
    }

    struct NatsConsumers(scalelab_system::real::nats::NatsBroker);

    #[async_trait::async_trait]
    impl scalelab_system::conformance::Consumers for NatsConsumers {
        async fn join(
            &self,
            topic: &str,
            group: &str,
        ) -> Box<dyn scalelab_system::ports::Subscription> {
            Box::new(self.0.subscribe(topic, group).await.expect("subscribe"))
        }
    }

    #[tokio::test]
    async fn nats_jetstream_keeps_the_broker_promises() {
        use scalelab_system::real::nats::NatsBroker;
        let Some(url) = service_url(
            "SCALELAB_TEST_NATS_URL",
            "nats_jetstream_keeps_the_broker_promises",
        ) else {
            return;
        };
        let prefix = unique("scalelab_test");
        let ack_wait = std::time::Duration::from_secs(1);
        let connect = || async {
            NatsBroker::connect(&url, &prefix)
                .await
                .expect("connect")
                .with_ack_wait(ack_wait)
        };
        let publisher = connect().await;
        let consumers = NatsConsumers(connect().await);
        scalelab_system::conformance::broker(&publisher, &consumers, "orders", ack_wait).await;
        publisher
            .delete_topic("orders")
            .await
            .expect("delete the test stream");
    }

    #[tokio::test]
    async fn the_file_mailer_keeps_the_mailer_promises() {
        use scalelab_system::real::local::FileMailer;
        let dir = tempfile::tempdir().expect("temp dir");
        let mailer = FileMailer::open(&dir.path().join("mail.log")).expect("open");
        scalelab_system::conformance::mailer(&mailer).await;
        let log = std::fs::read_to_string(mailer.path()).expect("read the log");
        assert!(
            log.lines().count() >= 1 && log.contains("\"order_id\":42"),
            "{log}"
        );
    }

    #[tokio::test]
    async fn a_wrong_service_url_is_a_clear_error_without_the_password() {
        // Nothing listens on port 9 (discard) on loopback in CI or here.
        let e = match SqlStore::connect("postgres://shop:s3cret@127.0.0.1:9/shop", &setup()).await {
            Err(e) => e.to_string(),
            Ok(_) => panic!("connected to nothing"),
        };
        assert!(
            e.starts_with("PostgreSQL at postgres://shop:***@127.0.0.1:9/shop: cannot connect"),
            "{e}"
        );
        assert!(
            !e.contains("s3cret") && e.contains("Check that PostgreSQL is running"),
            "{e}"
        );
        let e = match scalelab_system::real::redis_sessions::RedisSessions::connect(
            "redis://:s3cret@127.0.0.1:9",
            "x",
            std::time::Duration::from_secs(1),
        )
        .await
        {
            Err(e) => e.to_string(),
            Ok(_) => panic!("connected to nothing"),
        };
        assert!(e.starts_with("Redis at redis://:***@127.0.0.1:9"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
        let e = match scalelab_system::real::nats::NatsBroker::connect(
            "nats://u:s3cret@127.0.0.1:9",
            "x",
        )
        .await
        {
            Err(e) => e.to_string(),
            Ok(_) => panic!("connected to nothing"),
        };
        assert!(e.starts_with("NATS at nats://u:***@127.0.0.1:9"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
    }
}
