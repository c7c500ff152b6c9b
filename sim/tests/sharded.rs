//! The sharded design: the database split by customer takes more load than one database.

mod common;

use scalelab_sim::run;
use scalelab_sim::Design;

/// A shop whose database is the bottleneck: one slow core, dear writes, lots of buyers.
fn weak_database(rate: f64) -> scalelab_sim::Scenario {
    let text = format!(
        "{}\n[database]\nhost = {{ cores = 1, contention = 0.0, coherency = 0.0 }}\nmax_connections = 1000\npool_size = 40\n\
         pool_timeout_ms = 1000\nstatement_timeout_ms = 2000\nread_cpu_ms = 1.0\nwrite_cpu_ms = 4.0\ncommit_ms = 2\n\
         lock_timeout_ms = 2000\nstock_per_product = 1000000\n[horizontal]\nreplica = {{ cores = 4, contention = 0.0, coherency = 0.0 }}\n\
         max_waiting_requests = 500\ndb_pool_size = 8\nmin_replicas = 6\nmax_replicas = 6\ntarget_cpu = 0.6\ntolerance = 0.1\n\
         sync_period_s = 15\nscale_up_window_s = 0\nscale_down_window_s = 300\nstartup_delay_s = 20\nbalance = \"least-connections\"\n\
         health_interval_ms = 1000\nhealth_timeout_ms = 500\nunhealthy_after = 2\nhealthy_after = 2\n\
         [sharded]\nshards = 4\nstrategy = \"consistent-hash\"\nvnodes = 64\n",
        common::small_text(rate, 60.0)
    );
    scalelab_sim::parse(&text).expect("scenario")
}

#[test]
fn four_shards_take_the_load_one_database_cannot() {
    let scenario = weak_database(200.0);
    let one = run(&scenario, Design::Queued, 4, None).expect("queued");
    let four = run(&scenario, Design::Sharded, 4, None).expect("sharded");
    assert!(
        one.cpu.db_peak > 0.95,
        "the single database saturates: {}",
        one.cpu.db_peak
    );
    assert!(
        four.cpu.db_peak < one.cpu.db_peak,
        "no shard as hot: {} vs {}",
        four.cpu.db_peak,
        one.cpu.db_peak
    );
    // The single database times out checkouts; the shards do not.
    assert!(
        !one.errors.is_empty(),
        "the single database fails some requests"
    );
    assert!(four.errors.is_empty(), "{:?}", four.errors);
    assert!(
        four.availability > one.availability,
        "{} vs {}",
        four.availability,
        one.availability
    );
    assert!(
        four.orders as f64 > 1.3 * one.orders as f64,
        "orders {} vs {}",
        four.orders,
        one.orders
    );
    assert_eq!(four.cpu.shard_cpu_mean.len(), 4);
    // Customers spread over the shards: none idle.
    assert!(
        four.cpu.shard_cpu_mean.iter().all(|&u| u > 0.05),
        "{:?}",
        four.cpu.shard_cpu_mean
    );
}
