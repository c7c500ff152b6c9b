//! What runs on a node of a deployment: the storefront on an app host, a worker service, and
//! the supervisor loop that restarts a server whose listener failed. Each is the shop's own
//! code (`scalelab_system`) wired to the simulated world's ports as a `Wiring` says.
//!
//! Must not: create nodes or decide the shape of a deployment (`build` does); hold shop logic.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::deployment::design::{
    broker_params, db_addr, session_params, wired_shard_map, Wiring, DB, MAIL, SESSIONS,
};
use crate::scenario::Scenario;
use crate::world::broker::{self, Consumer};
use crate::world::db::SimDb;
use crate::world::host::{charge, Charge, Cpu};
use crate::world::mail::SimMailer;
use crate::world::sessions::SimSessions;
use scalelab_system::bugs::{
    GrowOnlySessions, KeylessMailer, StaleSessionCache, StuckCheckout, StuckPublisher,
};
use scalelab_system::exercises;
use scalelab_system::memory::FakePayments;
use scalelab_system::memory::InMemorySessions;
use scalelab_system::outbox::{run_relay, Outbox};
use scalelab_system::ports::{Mailer, Publisher, SessionStore, SideWork, Store};
use scalelab_system::session::SessionIds;
use scalelab_system::shard::ShardedStore;
use scalelab_system::storefront::{router, App};
use scalelab_system::worker::{run_worker_with, Inline, Job, ORDERS_TOPIC};

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
        ShardedStore::new(wired_shard_map(scn, wiring), shards).with_bugs(wiring.bugs),
    ))
}

/// A process's client of the mail provider (without idempotency keys under the planted bug).
async fn mailer_for(scn: &Scenario, wiring: Wiring) -> std::io::Result<Arc<dyn Mailer>> {
    let mailer = Arc::new(SimMailer::connect(MAIL, &scn.mail).await?);
    Ok(if wiring.bugs.email_without_key() {
        Arc::new(KeylessMailer { inner: mailer })
    } else {
        mailer
    })
}

/// The storefront on one app host, wired to its ports; serves until the node dies. With
/// `queued`, checkout publishes its side work to the broker instead of doing it inline.
pub async fn storefront(
    scn: Arc<Scenario>,
    cpu: Arc<Cpu>,
    wiring: Wiring,
    session_seed: u64,
    addr: SocketAddr,
    behind_lb: bool,
) {
    let (Ok(store), Ok(mailer)) = (
        store_for(&scn, wiring).await,
        mailer_for(&scn, wiring).await,
    ) else {
        return;
    };
    let store: Arc<dyn Store> = if wiring.bugs.checkout_breaker_never_closes() {
        Arc::new(StuckCheckout {
            inner: store,
            open: Default::default(),
        })
    } else {
        store
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
    let sessions: Arc<dyn SessionStore> = if wiring.bugs.save_only_growing_carts() {
        Arc::new(GrowOnlySessions { inner: sessions })
    } else {
        sessions
    };
    // The queued designs write the side work's message with the order (the outbox); the
    // relay (`relay`) publishes it, so checkout never talks to the broker.
    let side_work: Arc<dyn SideWork> = if wiring.queued {
        Arc::new(Outbox)
    } else {
        Arc::new(Inline {
            store: store.clone(),
            mailer,
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
    // Behind a load balancer, a request the browser gave up on still runs to its end on the
    // replica; a browser connected directly takes its request's work with it when it goes.
    serve_forever(|| {
        let shop = shop.clone();
        async move {
            if behind_lb {
                crate::world::net::serve_forwarded(addr, shop).await
            } else {
                crate::world::net::serve_direct(addr, shop).await
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

/// One worker service: system's worker loop over the simulated broker, database and mail.
pub async fn worker(scn: Arc<Scenario>, job: Job, member: u64, wiring: Wiring) {
    // A worker needs few database connections: it does one job at a time.
    let wiring = Wiring {
        db_pool: 2,
        ..wiring
    };
    let (Ok(store), Ok(mailer), Ok(client)) = (
        store_for(&scn, wiring).await,
        mailer_for(&scn, wiring).await,
        broker::Client::connect(broker_params(&scn), 4).await,
    ) else {
        return;
    };
    let consumer = Consumer::new(client, ORDERS_TOPIC, job.group(), member);
    // On a failure of the broker, wait and join again: a worker service restarts its loop.
    loop {
        // Lesson 5 grades a student's worker loop in place of the shop's.
        let _ = match wiring.exercise.worker {
            Some(code) => {
                exercises::run_worker(code, job, &consumer, store.as_ref(), mailer.as_ref()).await
            }
            None => {
                run_worker_with(job, &consumer, store.as_ref(), mailer.as_ref(), wiring.bugs).await
            }
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The outbox relay service: one relay per database (each reads its own outbox), publishing
/// to the broker. Restarted with its node, it finds what it had not marked still waiting.
pub async fn relay(scn: Arc<Scenario>, wiring: Wiring) {
    let mut params = scn.database.clone();
    params.pool_size = std::num::NonZeroU32::MIN.saturating_add(1);
    let mut relays = Vec::new();
    for shard in 0..wiring.shards.max(1) {
        let (Ok(store), Ok(client)) = (
            SimDb::connect(db_addr(shard), &params).await,
            broker::Client::connect(broker_params(&scn), 4).await,
        ) else {
            return;
        };
        let publisher: Arc<dyn Publisher> = if wiring.bugs.publisher_never_reconnects() {
            Arc::new(StuckPublisher {
                inner: Arc::new(client),
                open: Default::default(),
            })
        } else {
            Arc::new(client)
        };
        relays.push(tokio::spawn(async move {
            run_relay(&store, publisher.as_ref()).await
        }));
    }
    for relay in relays {
        let _ = relay.await;
    }
}

/// The session-id seed of each start of an app process. A real server draws one from the OS
/// at every start; a restarted process that reused its first seed would hand out the same
/// session ids again, and in a shared session store a new visitor would take over an old
/// visitor's cart (a bug `scalelab hunt` found in an earlier version of the simulator).
pub struct BootSeeds {
    first: u64,
    starts: AtomicU64,
}

impl BootSeeds {
    /// Draws the first start's seed now (from madsim's seeded randomness).
    pub fn draw() -> BootSeeds {
        BootSeeds {
            first: madsim::rand::random(),
            starts: AtomicU64::new(0),
        }
    }

    pub fn next(&self) -> u64 {
        match self.starts.fetch_add(1, Ordering::Relaxed) {
            0 => self.first,
            _ => madsim::rand::random(),
        }
    }
}
