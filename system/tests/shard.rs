//! Sharding by customer: where each strategy places customers, what moves when a shard is
//! added, and that the router's scatter-gather report equals the unsharded one.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use scalelab_system::memory::{demo_catalog, MemoryStore};
use scalelab_system::model::{Line, NewOrder, Placement};
use scalelab_system::ports::Store;
use scalelab_system::shard::{ShardMap, ShardedStore, Strategy};

fn moved(before: &ShardMap, after: &ShardMap, customers: u64) -> f64 {
    let n = (1..=customers)
        .filter(|&c| before.shard_for(c) != after.shard_for(c))
        .count();
    n as f64 / customers as f64
}

#[test]
fn modulo_places_by_remainder() {
    let map = ShardMap::new(4, Strategy::Modulo);
    let placed: Vec<u32> = (0..8).map(|c| map.shard_for(c)).collect();
    assert_eq!(placed, vec![0, 1, 2, 3, 0, 1, 2, 3]);
}

#[test]
fn hash_and_consistent_hash_spread_customers_evenly() {
    for strategy in [Strategy::Hash, Strategy::ConsistentHash { vnodes: 256 }] {
        let map = ShardMap::new(4, strategy.clone());
        let mut counts = [0u32; 4];
        for c in 1..=100_000 {
            counts[map.shard_for(c) as usize] += 1;
        }
        for n in counts {
            let share = f64::from(n) / 100_000.0;
            assert!((0.20..0.30).contains(&share), "{strategy:?}: {counts:?}");
        }
    }
}

#[test]
fn adding_a_shard_moves_few_customers_only_with_consistent_hashing() {
    let consistent = ShardMap::new(4, Strategy::ConsistentHash { vnodes: 256 });
    let share = moved(&consistent, &consistent.resized(5), 50_000);
    assert!(
        (0.12..0.28).contains(&share),
        "consistent hashing moved {share}"
    );
    let modulo = ShardMap::new(4, Strategy::Modulo);
    assert!(moved(&modulo, &modulo.resized(5), 50_000) > 0.7);
    let hash = ShardMap::new(4, Strategy::Hash);
    assert!(moved(&hash, &hash.resized(5), 50_000) > 0.7);
    assert_eq!(consistent.resized(5).version, consistent.version + 1);
}

#[test]
fn a_lookup_table_wins_and_hash_places_the_rest() {
    let table = BTreeMap::from([(42, 3), (7, 0), (99, 17)]);
    let map = ShardMap::new(4, Strategy::Lookup(table));
    let by_hash = ShardMap::new(4, Strategy::Hash);
    assert_eq!(map.shard_for(42), 3);
    assert_eq!(map.shard_for(7), 0);
    assert_eq!(
        map.shard_for(99),
        by_hash.shard_for(99),
        "an entry naming a missing shard is ignored"
    );
    assert_eq!(map.shard_for(1234), by_hash.shard_for(1234));
}

proptest! {
    #[test]
    fn every_strategy_names_an_existing_shard(shards in 1u32..64, customer in any::<u64>(), vnodes in 1u32..64) {
        for strategy in [Strategy::Modulo, Strategy::Hash, Strategy::ConsistentHash { vnodes }, Strategy::Lookup(BTreeMap::new())] {
            let map = ShardMap::new(shards, strategy);
            prop_assert!(map.shard_for(customer) < shards);
        }
    }
}

fn order(customer: u64, i: u64) -> NewOrder {
    let product = (i % 20) as u32 + 1;
    NewOrder {
        customer_id: customer,
        lines: vec![Line {
            product_id: product,
            quantity: (i % 3) as u32 + 1,
            price_cents: 500 + u64::from(product) * 7,
        }],
        payment_ref: format!("pay-{i}"),
        outbox: false,
    }
}

#[tokio::test]
async fn scatter_gather_totals_equal_the_unsharded_totals() {
    let shards: Vec<Arc<MemoryStore>> = (0..4)
        .map(|i| {
            Arc::new(MemoryStore::with_order_ids(
                demo_catalog(20),
                1000,
                i + 1,
                4,
            ))
        })
        .collect();
    let router = ShardedStore::new(
        ShardMap::new(4, Strategy::ConsistentHash { vnodes: 64 }),
        shards.iter().map(|s| s.clone() as Arc<dyn Store>).collect(),
    );
    let single = MemoryStore::new(demo_catalog(20), 4000);

    let mut ids = Vec::new();
    for i in 0..400u64 {
        let customer = (i * 7919) % 997 + 1;
        let Ok(Placement::Placed(o)) = router.place_order(order(customer, i)).await else {
            panic!("sharded order {i} not placed");
        };
        let Ok(Placement::Placed(_)) = single.place_order(order(customer, i)).await else {
            panic!("unsharded order {i} not placed");
        };
        // Every order lives on the shard its customer maps to, and nowhere else.
        let home = router.map().shard_for(customer) as usize;
        for (s, shard) in shards.iter().enumerate() {
            let here = shard
                .orders_for(customer)
                .await
                .expect("orders")
                .iter()
                .any(|x| x.id == o.id);
            assert_eq!(
                here,
                s == home,
                "order {} of customer {customer} on shard {s}",
                o.id
            );
        }
        ids.push(o.id);
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 400, "order ids are unique across shards");

    let sharded = router.sales_report().await.expect("report");
    let unsharded = single.sales_report().await.expect("report");
    assert_eq!(sharded, unsharded);
    assert_eq!(sharded.orders, 400);
    assert!(shards.iter().all(|s| s.side_effects() == (0, 0)));
}

#[test]
fn stock_split_over_shards_adds_up_to_the_stock() {
    use scalelab_system::shard::stock_share;
    for (stock, shards) in [(3, 4), (10, 3), (1_000_000, 4), (0, 2), (7, 1)] {
        let shares: Vec<u32> = (0..shards).map(|i| stock_share(stock, shards, i)).collect();
        assert_eq!(
            shares.iter().sum::<u32>(),
            stock,
            "{stock} units over {shards} shards: {shares:?}"
        );
        let (min, max) = (shares.iter().min(), shares.iter().max());
        assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 1), "{shares:?}");
    }
}
