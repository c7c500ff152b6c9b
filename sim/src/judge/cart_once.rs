//! One order per cart: no cart is paid for twice. A shopper who clicks "buy" twice sends two
//! checkouts of the same cart at once; the shop must turn one of them into an order and
//! answer the other with a clear "already checked out" (409).
//!
//! The evidence is what the databases hold. Checkout charges with an idempotency key made from
//! the session and its checkout attempt, so both clicks of one cart get the same payment
//! reference from the provider: two stored orders that share a payment reference are one cart
//! turned into two orders (the goods taken from stock twice for one payment).
//!
//! Owns the rule only, as a pure function over the evidence; `check` turns its findings into
//! the checker's result, as for every other invariant.
//!
//! Must not: read anything but evidence (rows and what browsers were told), or change the run.

use std::collections::BTreeMap;

use crate::deployment::nodes::DbContents;
use crate::metrics::AckedOrder;

/// One cart turned into more than one order.
#[derive(Debug, Clone, PartialEq)]
pub struct PaidTwice {
    /// When a browser was told of the later order (end of run if none was).
    pub at_s: f64,
    pub ids: String,
    pub message: String,
}

/// Every payment reference that more than one stored order carries, on any database.
pub fn paid_twice(dbs: &[DbContents], acked: &[AckedOrder]) -> Vec<PaidTwice> {
    let told: BTreeMap<u64, f64> = acked
        .iter()
        .map(|a| (a.order_id, a.at.as_secs_f64()))
        .collect();
    let mut by_payment: BTreeMap<&str, Vec<(u64, u64)>> = BTreeMap::new();
    for (shard, db) in dbs.iter().enumerate() {
        for o in &db.orders {
            by_payment
                .entry(o.payment_ref.as_str())
                .or_default()
                .push((o.id, shard as u64));
        }
    }
    by_payment
        .into_iter()
        .filter(|(_, orders)| orders.len() > 1)
        .map(|(payment, orders)| {
            let ids: Vec<u64> = orders.iter().map(|&(id, _)| id).collect();
            let acked: Vec<u64> = ids.iter().copied().filter(|id| told.contains_key(id)).collect();
            let at_s = ids
                .iter()
                .filter_map(|id| told.get(id).copied())
                .fold(None, |latest: Option<f64>, t| Some(latest.map_or(t, |l| l.max(t))))
                .unwrap_or(f64::MAX);
            PaidTwice {
                at_s,
                ids: format!("orders {ids:?} (payment {payment})"),
                message: format!(
                    "one cart, one payment, {} orders ({} of them acknowledged to the browser: {acked:?})",
                    ids.len(),
                    acked.len()
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use scalelab_system::model::Order;
    use std::time::Duration;

    fn order(id: u64, payment: &str) -> Order {
        Order {
            id,
            customer_id: 1,
            lines: Vec::new(),
            total_cents: 100,
            payment_ref: payment.into(),
        }
    }

    fn db(orders: Vec<Order>) -> DbContents {
        DbContents {
            orders,
            stock: Vec::new(),
            initial_stock: 0,
            moved: Default::default(),
            labelled: Default::default(),
        }
    }

    #[test]
    fn two_orders_with_one_payment_are_one_cart_paid_twice() {
        let dbs = [db(vec![order(1, "a"), order(2, "b"), order(3, "a")])];
        let acked = [AckedOrder {
            at: Duration::from_secs(5),
            session: 9,
            order_id: 3,
            customer: 1,
            total_cents: 100,
        }];
        let found = paid_twice(&dbs, &acked);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].at_s, 5.0);
        assert!(found[0].ids.contains("[1, 3]"), "{:?}", found[0]);
    }

    #[test]
    fn one_order_per_payment_is_fine_across_shards() {
        let dbs = [db(vec![order(1, "a")]), db(vec![order(2, "b")])];
        assert!(paid_twice(&dbs, &[]).is_empty());
    }
}
