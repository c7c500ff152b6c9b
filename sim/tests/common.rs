//! Scenarios shared by the simulator's tests.

#![allow(dead_code)]

use scalelab_sim::scenario::{parse, Scenario};

/// A small shop under light load: `rate` sessions per second for `duration_s` seconds, on a
/// 4-core app host. Everything else takes its default.
pub fn small_text(rate: f64, duration_s: f64) -> String {
    format!(
        r#"
name = "small"
duration_s = {duration_s}

[workload]
model = "open"
curve = [{{ at_s = 0, sessions_per_s = {rate} }}]
think_time_ms_mean = 1000
patience_ms_mean = 3000
customers = 1000
customer_skew = 0.8
products = 50
product_skew = 1.0
funnel = {{ product_views_mean = 2, add_to_cart = 0.5, second_item = 0.3, remove_item = 0.2, checkout = 0.7, view_orders = 0.3 }}

[vertical]
host = {{ cores = 4, contention = 0.03, coherency = 0.0003 }}
max_waiting_requests = 500
"#
    )
}

pub fn small(rate: f64, duration_s: f64) -> Scenario {
    match parse(&small_text(rate, duration_s)) {
        Ok(s) => s,
        Err(e) => panic!("the test scenario is invalid: {e}"),
    }
}

/// How check `name` fared in `report`.
pub fn status(report: &scalelab_sim::Report, name: &str) -> scalelab_sim::judge::check::Status {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.status.clone())
        .unwrap_or_else(|| panic!("no check named {name}"))
}
