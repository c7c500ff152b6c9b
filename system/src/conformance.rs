//! Conformance suites: what every implementation of a port must do, written once and run
//! against each implementation (in process, simulated, and later Redis, SQL, NATS).
//!
//! Compiled only with the `conformance` feature, which the test suites turn on. Each function
//! panics, with a message naming the broken promise, when the implementation misbehaves.
//!
//! Must not: depend on any one implementation.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::model::{
    CustomerId, Email, Line, NewOrder, Order, Placement, Product, ProductId, Settlement,
};
use crate::ports::{Delivery, Mailer, Publisher, SessionStore, Store, Subscription};
use crate::session::{CartItem, Session, SessionId};

fn id(n: u8) -> SessionId {
    let hex = format!("{n:02x}").repeat(16);
    SessionId::parse(&hex).unwrap_or_else(|| panic!("{hex} is a well-formed session id"))
}

fn session(customer: CustomerId) -> Session {
    let mut s = Session {
        customer_id: Some(customer),
        ..Session::default()
    };
    s.cart.insert(
        7,
        CartItem {
            quantity: 2,
            price_cents: 1999,
        },
    );
    s
}

/// The `SessionStore` promises. `ttl` is the time-to-live the store was configured with.
pub async fn session_store(store: &dyn SessionStore, ttl: Duration) {
    let (a, b) = (id(1), id(2));
    assert_eq!(
        store.load(&a).await,
        Ok(None),
        "an unknown session loads as None"
    );

    store.save(&a, &session(1)).await.expect("save a");
    assert_eq!(
        store.load(&a).await,
        Ok(Some(session(1))),
        "a saved session loads back as saved"
    );

    store.save(&b, &session(2)).await.expect("save b");
    let mut changed = session(1);
    changed.cart.clear();
    changed.checkouts = 3;
    store.save(&a, &changed).await.expect("save a again");
    assert_eq!(
        store.load(&a).await,
        Ok(Some(changed)),
        "a save replaces the session"
    );
    assert_eq!(
        store.load(&b).await,
        Ok(Some(session(2))),
        "sessions are independent"
    );

    // Expiry: a session not touched for longer than its time-to-live is gone.
    tokio::time::sleep(ttl * 2).await;
    assert_eq!(
        store.load(&a).await,
        Ok(None),
        "an idle session expires after its time-to-live"
    );
}

fn line(product: &Product, quantity: u32) -> Line {
    Line {
        product_id: product.id,
        quantity,
        price_cents: product.price_cents,
    }
}

/// An order paid with `payment`: each checkout has its own payment reference.
fn new_order(payment: &str, customer: CustomerId, lines: Vec<Line>) -> NewOrder {
    NewOrder {
        customer_id: customer,
        payment_ref: payment.to_owned(),
        lines,
        outbox: false,
    }
}

async fn in_stock(store: &dyn Store, id: ProductId) -> u32 {
    match store.product(id).await {
        Ok(Some(page)) => page.in_stock,
        other => panic!("product {id} should exist, got {other:?}"),
    }
}

async fn place(store: &dyn Store, order: NewOrder) -> Order {
    match store.place_order(order.clone()).await {
        Ok(Placement::Placed(placed)) => placed,
        other => panic!("{order:?} should be placed, got {other:?}"),
    }
}

/// The `Store` promises. `store` must be new: it holds `catalog` (at least 4 products, ids
/// ascending), each with `stock` units (at least 4), and no orders. Customers 1 to 4 are used.
pub async fn store(store: Arc<dyn Store>, catalog: &[Product], stock: u32) {
    assert!(
        catalog.len() >= 4 && stock >= 4,
        "the suite needs 4 products with 4 units"
    );
    let s = store.as_ref();
    let (p1, p2, p3, p4) = (&catalog[0], &catalog[1], &catalog[2], &catalog[3]);

    // The catalog.
    let first_two = s.list_products(2).await.expect("list products");
    assert_eq!(
        first_two,
        catalog[..2].to_vec(),
        "list_products gives the first products by id"
    );
    let all = s
        .list_products(catalog.len() + 10)
        .await
        .expect("list products");
    assert_eq!(
        all,
        catalog.to_vec(),
        "list_products gives the whole catalog when asked for more"
    );
    let page = s.product(p1.id).await.expect("product").expect("p1 exists");
    assert_eq!(
        (page.product, page.in_stock),
        (p1.clone(), stock),
        "a product page has its stock"
    );
    let missing = catalog.iter().map(|p| p.id).max().unwrap_or(0) + 1000;
    assert_eq!(
        s.product(missing).await,
        Ok(None),
        "an unknown product is None"
    );

    // A placed order takes its lines out of stock and is the customer's.
    let first = place(s, new_order("pay-1-2", 1, vec![line(p1, 2), line(p2, 1)])).await;
    assert_eq!(first.customer_id, 1);
    assert_eq!(
        first.lines,
        vec![line(p1, 2), line(p2, 1)],
        "an order keeps its lines"
    );
    assert_eq!(
        first.total_cents,
        2 * p1.price_cents + p2.price_cents,
        "the total is the lines' sum"
    );
    assert_eq!(
        first.payment_ref, "pay-1-2",
        "an order keeps its payment reference"
    );
    assert_eq!(in_stock(s, p1.id).await, stock - 2, "placing takes stock");
    assert_eq!(
        in_stock(s, p2.id).await,
        stock - 1,
        "placing takes stock of every line"
    );

    // All lines or none: the second line cannot be served, so the first must not be taken.
    let too_many = new_order("pay-too-many", 2, vec![line(p3, 1), line(p4, stock + 1)]);
    assert_eq!(
        s.place_order(too_many).await,
        Ok(Placement::OutOfStock(p4.id)),
        "an order with a line past the stock is out of stock, naming the product"
    );
    assert_eq!(
        in_stock(s, p3.id).await,
        stock,
        "a refused order takes no stock at all"
    );
    let unknown = new_order(
        "pay-unknown",
        2,
        vec![
            line(p3, 1),
            Line {
                product_id: missing,
                quantity: 1,
                price_cents: 1,
            },
        ],
    );
    assert_eq!(
        s.place_order(unknown).await,
        Ok(Placement::OutOfStock(missing)),
        "an unknown product is out of stock"
    );
    assert_eq!(
        in_stock(s, p3.id).await,
        stock,
        "a refused order takes no stock at all"
    );

    // One payment, one order: the same cart checked out again (a double click, a retry)
    // finds the order it became and takes nothing more; twice at once, exactly one places it.
    let again = new_order("pay-1-2", 1, vec![line(p1, 2), line(p2, 1)]);
    assert_eq!(
        s.place_order(again).await,
        Ok(Placement::AlreadyPlaced(first.id)),
        "a payment that already has an order is not placed again"
    );
    assert_eq!(
        in_stock(s, p1.id).await,
        stock - 2,
        "an order placed again takes no stock"
    );
    let clicks: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            let order = new_order("pay-double-click", 4, vec![line(p1, 1)]);
            tokio::spawn(async move { store.place_order(order).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for click in clicks {
        outcomes.push(click.await.expect("the click's task"));
    }
    let placed: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            Ok(Placement::Placed(order)) => Some(order.id),
            _ => None,
        })
        .collect();
    assert_eq!(
        placed.len(),
        1,
        "two checkouts of one cart at once: {outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|o| *o == Ok(Placement::AlreadyPlaced(placed[0]))),
        "the other click is told which order the cart became: {outcomes:?}"
    );
    assert_eq!(
        in_stock(s, p1.id).await,
        stock - 3,
        "a cart checked out twice at once takes its stock once"
    );
    let double = s.orders_for(4).await.expect("history");
    assert_eq!(double.len(), 1, "one order for the double click");

    // History: a customer's orders, oldest first, and nobody else's.
    let second = place(s, new_order("pay-second", 1, vec![line(p3, 1)])).await;
    let other = place(s, new_order("pay-other", 2, vec![line(p3, 1)])).await;
    let ids = [first.id, second.id, other.id];
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "order ids are unique: {ids:?}"
    );
    assert_eq!(
        s.orders_for(1).await,
        Ok(vec![first.clone(), second.clone()]),
        "history is oldest first"
    );
    assert_eq!(
        s.orders_for(2).await,
        Ok(vec![other.clone()]),
        "history is the customer's own"
    );
    assert_eq!(
        s.orders_for(3).await,
        Ok(vec![]),
        "a customer without orders has no history"
    );

    // Side work is idempotent by order id: doing it again is not an error.
    for _ in 0..2 {
        s.record_stock_movement(&first)
            .await
            .expect("stock movement (again)");
        s.create_shipping_label(&first)
            .await
            .expect("shipping label (again)");
    }

    // The sales report adds up every order.
    let report = s.sales_report().await.expect("sales report");
    assert_eq!(report.orders, 4, "the report counts every order");
    assert_eq!(
        report.revenue_cents,
        first.total_cents + second.total_cents + other.total_cents + p1.price_cents
    );
    assert_eq!(report.units_by_product.get(&p1.id), Some(&3));
    assert_eq!(report.units_by_product.get(&p2.id), Some(&1));
    assert_eq!(report.units_by_product.get(&p3.id), Some(&2));
    assert_eq!(
        report.units_by_product.get(&p4.id),
        None,
        "refused orders sell nothing"
    );

    // Never oversold: many buyers at once for p4's stock. Each wants a third of it (rounded
    // up), so exactly stock / quantity of them can be served.
    let quantity = stock.div_ceil(3);
    let buyers: Vec<_> = (0..8)
        .map(|buyer| {
            let store = store.clone();
            let order = new_order(&format!("pay-buyer-{buyer}"), 4, vec![line(p4, quantity)]);
            tokio::spawn(async move { store.place_order(order).await })
        })
        .collect();
    let mut placed = 0;
    for buyer in buyers {
        match buyer.await {
            Ok(Ok(Placement::Placed(_))) => placed += 1,
            Ok(Ok(Placement::OutOfStock(id))) => assert_eq!(id, p4.id),
            other => panic!("a concurrent checkout failed: {other:?}"),
        }
    }
    assert_eq!(
        placed,
        stock / quantity,
        "concurrent checkouts sell exactly what is in stock"
    );
    assert_eq!(
        in_stock(s, p4.id).await,
        stock % quantity,
        "stock never goes below zero"
    );

    // The outbox: an order placed with its message has it waiting, oldest first, until it is
    // marked published; a refused order leaves no message; orders without one have none.
    assert_eq!(
        s.unpublished(10).await,
        Ok(vec![]),
        "orders placed without a message leave the outbox empty"
    );
    let with_message = |payment: &str, product: &Product| {
        let mut order = new_order(payment, 3, vec![line(product, 1)]);
        order.outbox = true;
        order
    };
    let a = place(s, with_message("pay-outbox-a", p3)).await;
    let b = place(s, with_message("pay-outbox-b", p3)).await;
    assert_eq!(
        s.place_order(with_message("pay-outbox-a", p3)).await,
        Ok(Placement::AlreadyPlaced(a.id)),
        "placed again"
    );
    let mut sold_out = with_message("pay-outbox-sold-out", p4);
    sold_out.lines[0].quantity = stock + 1;
    assert_eq!(
        s.place_order(sold_out).await,
        Ok(Placement::OutOfStock(p4.id))
    );
    assert_eq!(
        s.unpublished(10).await,
        Ok(vec![a.clone(), b.clone()]),
        "the outbox holds each placed order's message once, oldest first, and no refused one"
    );
    assert_eq!(
        s.unpublished(1).await,
        Ok(vec![a.clone()]),
        "at most `limit`"
    );
    s.mark_published(std::slice::from_ref(&a))
        .await
        .expect("mark published");
    assert_eq!(
        s.unpublished(10).await,
        Ok(vec![b.clone()]),
        "a message marked published is not read again"
    );
    s.mark_published(&[a.clone(), b.clone()])
        .await
        .expect("marking again is harmless");
    assert_eq!(s.unpublished(10).await, Ok(vec![]), "all published");

    settling(store.clone(), p2).await;
}

/// `settle`: after a placement with an unknown outcome, the payment's fate is decided once,
/// and a placement that arrives later obeys it. Customer 6 and one unit of `product` per order.
async fn settling(store: Arc<dyn Store>, product: &Product) {
    let s = store.as_ref();
    let placed = place(s, new_order("pay-settle-placed", 6, vec![line(product, 1)])).await;
    assert_eq!(
        s.settle(6, "pay-settle-placed").await,
        Ok(Settlement::Placed(placed.clone())),
        "a payment whose order committed settles as that order"
    );
    let stock = in_stock(s, product.id).await;
    assert_eq!(
        s.settle(6, "pay-settle-lost").await,
        Ok(Settlement::Voided),
        "a payment without an order is voided"
    );
    assert_eq!(
        s.settle(6, "pay-settle-lost").await,
        Ok(Settlement::Voided),
        "settling again says the same"
    );
    assert_eq!(
        s.place_order(new_order("pay-settle-lost", 6, vec![line(product, 1)]))
            .await,
        Ok(Placement::PaymentVoided),
        "a placement that arrives after its payment was voided is refused"
    );
    assert_eq!(
        in_stock(s, product.id).await,
        stock,
        "a refused late placement takes no stock"
    );
    assert_eq!(
        s.orders_for(6).await,
        Ok(vec![placed]),
        "and leaves no order"
    );

    // A late placement and its settlement at once: exactly one of them wins, never both (an
    // order whose payment was refunded) and never neither.
    for round in 0..6 {
        let payment = format!("pay-settle-race-{round}");
        let placing = {
            let (store, order) = (
                store.clone(),
                new_order(&payment, 7, vec![line(product, 1)]),
            );
            tokio::spawn(async move { store.place_order(order).await })
        };
        let settling = {
            let (store, payment) = (store.clone(), payment.clone());
            tokio::spawn(async move { store.settle(7, &payment).await })
        };
        let placement = placing.await.expect("the placement's task");
        let settlement = settling.await.expect("the settlement's task");
        let history = s.orders_for(7).await.expect("history");
        let order = history.iter().find(|o| o.payment_ref == payment);
        match (&placement, &settlement, order) {
            (Ok(Placement::Placed(p)), Ok(Settlement::Placed(q)), Some(o)) if p == q && q == o => {}
            (Ok(Placement::PaymentVoided), Ok(Settlement::Voided), None) => {}
            other => panic!("a placement and its settlement at once disagree: {other:?}"),
        }
    }
}

/// How the broker suite makes consumers: a new member of `group` reading `topic`.
#[async_trait]
pub trait Consumers: Send + Sync {
    async fn join(&self, topic: &str, group: &str) -> Box<dyn Subscription>;
}

/// Polls `sub` until `want` deliveries arrived that are not in `seen` (by payload) or `limit`
/// of tokio time passed; returns the new ones in the order they came.
async fn poll_for(sub: &dyn Subscription, want: usize, limit: Duration) -> Vec<Delivery> {
    let start = tokio::time::Instant::now();
    let mut got: Vec<Delivery> = Vec::new();
    while got.len() < want && start.elapsed() < limit {
        let batch = sub.poll(want).await.expect("poll");
        for d in batch {
            if !got.iter().any(|g| g.payload == d.payload) {
                got.push(d);
            }
        }
    }
    got
}

fn payloads(deliveries: &[Delivery]) -> Vec<String> {
    let mut p: Vec<String> = deliveries
        .iter()
        .map(|d| String::from_utf8_lossy(&d.payload).into_owned())
        .collect();
    p.sort();
    p
}

/// The `Publisher` and `Subscription` promises, on a topic no one else uses. `redelivery` is
/// the longest the broker may take to hand an uncommitted message to another group member
/// (a session timeout, an ack wait).
pub async fn broker(
    publisher: &dyn Publisher,
    consumers: &dyn Consumers,
    topic: &str,
    redelivery: Duration,
) {
    let limit = redelivery * 3 + Duration::from_secs(5);
    let message = |key: u64, n: u32| format!("k{key}-m{n:02}");
    let first: Vec<(u64, String)> = (0..12)
        .map(|n| (u64::from(n % 3), message(u64::from(n % 3), n)))
        .collect();

    let a1 = consumers.join(topic, "group-a").await;
    let b = consumers.join(topic, "group-b").await;
    for (key, text) in &first {
        publisher
            .publish(topic, *key, text.clone().into_bytes())
            .await
            .expect("publish");
    }
    let got = poll_for(a1.as_ref(), first.len(), limit).await;
    let mut expected: Vec<String> = first.iter().map(|(_, t)| t.clone()).collect();
    expected.sort();
    assert_eq!(
        payloads(&got),
        expected,
        "a group's only member gets every message"
    );
    for key in 0..3 {
        let of_key: Vec<&Delivery> = got.iter().filter(|d| d.key == key).collect();
        let texts: Vec<String> = of_key
            .iter()
            .map(|d| String::from_utf8_lossy(&d.payload).into_owned())
            .collect();
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(
            texts, sorted,
            "messages with the same key arrive in the order they were published"
        );
        assert!(
            of_key.iter().all(|d| d.partition == of_key[0].partition),
            "one key, one partition"
        );
    }
    for d in &got {
        a1.commit(d).await.expect("commit");
    }
    let got_b = poll_for(b.as_ref(), first.len(), limit).await;
    assert_eq!(
        payloads(&got_b),
        expected,
        "every group gets every message: groups are independent"
    );

    // At least once: what a member took but did not commit goes to the next member.
    publisher
        .publish(topic, 7, b"late-1".to_vec())
        .await
        .expect("publish");
    publisher
        .publish(topic, 7, b"late-2".to_vec())
        .await
        .expect("publish");
    let late = poll_for(a1.as_ref(), 2, limit).await;
    assert_eq!(
        payloads(&late),
        vec!["late-1", "late-2"],
        "new messages reach the member"
    );
    drop(a1); // dies without committing
    let a2 = consumers.join(topic, "group-a").await;
    let again = poll_for(a2.as_ref(), 2, limit).await;
    assert_eq!(
        payloads(&again),
        vec!["late-1", "late-2"],
        "uncommitted messages are delivered again to another member"
    );
    for d in &again {
        a2.commit(d).await.expect("commit");
    }
    // Committed messages stay done: nothing more comes for a while.
    let more = a2.poll(16).await.expect("poll");
    assert!(
        more.iter().all(|d| !first
            .iter()
            .any(|(_, t)| t.as_bytes() == d.payload.as_slice())),
        "committed messages are not delivered again: {:?}",
        payloads(&more)
    );
}

/// The `Mailer` promise: sending succeeds, and sending the same order's email again is
/// harmless (not an error). What was sent is for each implementation's own test to look at.
pub async fn mailer(mailer: &dyn Mailer) {
    let email = Email {
        order_id: 42,
        customer_id: 7,
        subject: "Your order #42 is confirmed".into(),
        body: "Thank you!".into(),
        idempotency_key: Some("order-42-confirmation".into()),
    };
    mailer.send(&email).await.expect("send");
    mailer
        .send(&email)
        .await
        .expect("sending the same email again is harmless");
}
