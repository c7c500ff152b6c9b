//! The simulated database: its pool, connection limit and inventory row locks, measured in
//! virtual time.

use std::sync::Arc;
use std::time::Duration;

use madsim::runtime::Runtime;
use scalelab_sim::scenario::Database;
use scalelab_sim::world::db::{DbServer, SimDb};
use scalelab_system::memory::demo_catalog;
use scalelab_system::model::{Line, NewOrder, Placement};
use scalelab_system::ports::{PortError, Store};
use tokio::time::Instant;

fn order(customer: u64, product: u32) -> NewOrder {
    NewOrder {
        customer_id: customer,
        lines: vec![Line {
            product_id: product,
            quantity: 1,
            price_cents: 100,
        }],
        payment_ref: format!("pay-{customer}"),
        outbox: false,
    }
}

/// Places `n` orders at once, for product `product_of(i)`; returns (virtual seconds until all
/// are placed, how many were placed).
fn checkout_burst(params: Database, n: u64, product_of: fn(u64) -> u32) -> (f64, usize) {
    let rt = Runtime::with_seed_and_config(1, madsim::Config::default());
    let db_node = rt.create_node().ip([10, 0, 2, 1].into()).build();
    let app = rt.create_node().ip([10, 0, 1, 1].into()).build();
    let addr = "10.0.2.1:5432".parse().expect("addr");
    let server = Arc::new(DbServer::new(&params, demo_catalog(100)));
    db_node.spawn(server.serve(addr));
    let run = app.spawn(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let store = Arc::new(SimDb::connect(addr, &params).await.expect("pool"));
        let start = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { store.place_order(order(i, product_of(i))).await })
            })
            .collect();
        let mut placed = 0;
        for t in tasks {
            if let Ok(Ok(Placement::Placed(_))) = t.await {
                placed += 1;
            }
        }
        (start.elapsed().as_secs_f64(), placed)
    });
    rt.block_on(run).expect("app task")
}

fn params() -> Database {
    let mut p = Database::default();
    p.commit_ms.0 = 5.0;
    p
}

#[test]
fn buyers_of_one_hot_product_queue_on_its_row_lock() {
    // 40 checkouts of the same product hold its row lock through a 5 ms commit each: they
    // take at least 40 x 5 ms. Spread over 40 products they overlap.
    let (hot, placed_hot) = checkout_burst(params(), 40, |_| 7);
    let (spread, placed_spread) = checkout_burst(params(), 40, |i| i as u32 + 1);
    assert_eq!((placed_hot, placed_spread), (40, 40));
    assert!(hot >= 0.200, "hot row: {hot} s");
    assert!(spread < hot / 4.0, "spread {spread} s vs hot {hot} s");
}

#[test]
fn the_pool_bounds_concurrency_and_times_out() {
    // One connection, a 2 ms pool timeout: of 20 orders at once, most wait too long.
    let mut p = params();
    p.pool_size = std::num::NonZeroU32::MIN;
    p.pool_timeout_ms.0 = 2.0;
    let (_, placed) = checkout_burst(p, 20, |i| i as u32 + 1);
    assert!(placed < 20, "placed {placed}");
    assert!(placed >= 1);
}

#[test]
fn connections_past_the_servers_limit_are_refused() {
    let rt = Runtime::with_seed_and_config(1, madsim::Config::default());
    let db_node = rt.create_node().ip([10, 0, 2, 1].into()).build();
    let app = rt.create_node().ip([10, 0, 1, 1].into()).build();
    let addr = "10.0.2.1:5432".parse().expect("addr");
    let mut p = params();
    p.max_connections = std::num::NonZeroU32::MIN.saturating_add(1); // 2
    p.commit_ms.0 = 50.0;
    let server = Arc::new(DbServer::new(&p, demo_catalog(10)));
    db_node.spawn(server.serve(addr));
    let errors = rt
        .block_on(app.spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let store = Arc::new(SimDb::connect(addr, &p).await.expect("pool"));
            let tasks: Vec<_> = (0..4)
                .map(|i| {
                    let store = store.clone();
                    tokio::spawn(async move { store.place_order(order(i, i as u32 + 1)).await })
                })
                .collect();
            let mut errors = Vec::new();
            for t in tasks {
                if let Ok(Err(e)) = t.await {
                    errors.push(e);
                }
            }
            errors
        }))
        .expect("app task");
    assert_eq!(
        errors,
        vec![PortError::Unavailable("db: too many connections".into()); 2]
    );
}
