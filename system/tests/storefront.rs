//! The storefront's behaviour, driven through its router with the in-memory ports, by the
//! requests and replies of `scalelab_system::api` (and some malformed ones).
//! These tests run in both worlds: on real tokio and under the simulator.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use scalelab_system::api::{
    AddItem, Call, CartView, Catalog, LoggedIn, Login, OrderList, ProductPage, Receipt, SalesReport,
};
use scalelab_system::memory::{
    demo_catalog, FakePayments, InMemorySessions, MemoryMailer, MemoryStore,
};
use scalelab_system::model::{
    CustomerId, NewOrder, Order, Placement, Product, ProductId, SalesReport as Report, Settlement,
};
use scalelab_system::ports::{Payments, PortError, Store};
use scalelab_system::session::SessionIds;
use scalelab_system::storefront::{router, App};
use scalelab_system::worker::Inline;
use serde_json::{json, Value};
use tower::ServiceExt;

struct Shop {
    app: axum::Router,
    store: Arc<MemoryStore>,
    mailer: Arc<MemoryMailer>,
    cookie: Option<String>,
}

impl Shop {
    fn new(stock: u32) -> Shop {
        Shop::paying(stock, Arc::new(FakePayments))
    }

    /// A shop whose payment provider is `payments`.
    fn paying(stock: u32, payments: Arc<dyn Payments>) -> Shop {
        Shop::on(stock, payments, |store| store)
    }

    /// A shop whose database is `wrap` of a memory store (which `store` keeps, to look into).
    fn on(
        stock: u32,
        payments: Arc<dyn Payments>,
        wrap: impl FnOnce(Arc<MemoryStore>) -> Arc<dyn Store>,
    ) -> Shop {
        let store = Arc::new(MemoryStore::new(demo_catalog(20), stock));
        let mailer = Arc::new(MemoryMailer::default());
        let app = App {
            store: wrap(store.clone()),
            sessions: Arc::new(InMemorySessions::new(Duration::from_secs(1800))),
            payments,
            side_work: Arc::new(Inline {
                store: store.clone(),
                mailer: mailer.clone(),
            }),
            session_ids: SessionIds::from_seed(7),
            catalog_page_size: 10,
        };
        Shop {
            app: router(Arc::new(app)),
            store,
            mailer,
            cookie: None,
        }
    }

    /// A request as any client of the API builds it (see `scalelab_system::api::Call`).
    async fn send(&mut self, call: Call) -> (StatusCode, Value) {
        let body = call
            .body()
            .map(|json| serde_json::from_slice(&json).expect("json"));
        self.call(call.method().as_str(), &call.path(), body).await
    }

    /// A request as given, well-formed or not.
    async fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, c);
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        if let Some(set) = resp.headers().get(header::SET_COOKIE) {
            let set = set.to_str().expect("ascii cookie");
            self.cookie = set.split(';').next().map(str::to_owned);
        }
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }
}

/// A reply's body as the API type it should be.
fn typed<T: serde::de::DeserializeOwned>(body: Value) -> T {
    serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("{body} is not a {}: {e}", std::any::type_name::<T>()))
}

#[tokio::test]
async fn browse_cart_checkout_and_history() {
    let mut shop = Shop::new(5);
    let (s, products) = shop.send(Call::ListProducts).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(typed::<Catalog>(products).len(), 10);

    let (s, page) = shop.send(Call::ProductPage(3)).await;
    assert_eq!(s, StatusCode::OK);
    let page: ProductPage = typed(page);
    assert_eq!(page.in_stock, 5);
    let price = page.product.price_cents;

    let (s, login) = shop.send(Call::Login(Login { customer_id: 42 })).await;
    assert_eq!(
        (s, typed::<LoggedIn>(login)),
        (StatusCode::OK, LoggedIn { customer_id: 42 })
    );
    assert!(shop.cookie.is_some(), "login sets the session cookie");
    let add = |product_id, quantity| {
        Call::AddToCart(AddItem {
            product_id,
            quantity,
        })
    };
    let (s, cart) = shop.send(add(3, 2)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(typed::<CartView>(cart).total_cents, 2 * price);
    let (_, cart) = shop.send(add(4, 1)).await;
    assert_eq!(typed::<CartView>(cart).lines.len(), 2);
    let (s, cart) = shop.send(Call::RemoveFromCart(4)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(typed::<CartView>(cart).total_cents, 2 * price);

    let (s, receipt) = shop.send(Call::Checkout).await;
    assert_eq!(s, StatusCode::CREATED, "{receipt}");
    let receipt: Receipt = typed(receipt);
    assert_eq!(receipt.total_cents, 2 * price);
    assert_eq!(shop.store.stock(3), Some(3), "checkout takes the stock");
    assert_eq!(shop.mailer.sent().len(), 1, "one confirmation email");
    assert_eq!(
        shop.store.side_effects(),
        (1, 1),
        "stock movement and label recorded"
    );

    let (_, cart) = shop.send(Call::ShowCart).await;
    assert_eq!(
        typed::<CartView>(cart),
        CartView::default(),
        "the cart is empty after checkout"
    );
    let (s, orders) = shop.send(Call::OrderHistory).await;
    assert_eq!(s, StatusCode::OK);
    let orders: OrderList = typed(orders);
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].id, receipt.order_id);

    let (s, sales) = shop.send(Call::SalesReport).await;
    assert_eq!(s, StatusCode::OK);
    let sales: SalesReport = typed(sales);
    assert_eq!(sales.orders, 1);
    assert_eq!(sales.revenue_cents, 2 * price);
    assert_eq!(sales.units_by_product.get(&3), Some(&2));
}

/// A payment provider that takes its time, as real ones do: long enough for a second click to
/// arrive while the first checkout is still paying.
struct SlowPayments;

#[async_trait::async_trait]
impl Payments for SlowPayments {
    async fn charge(&self, c: CustomerId, cents: u64, key: &str) -> Result<String, PortError> {
        tokio::time::sleep(Duration::from_millis(50)).await;
        FakePayments.charge(c, cents, key).await
    }

    async fn refund(&self, payment_ref: &str) -> Result<(), PortError> {
        FakePayments.refund(payment_ref).await
    }
}

#[tokio::test]
async fn a_double_click_checks_the_cart_out_once() {
    let mut shop = Shop::paying(5, Arc::new(SlowPayments));
    shop.send(Call::Login(Login { customer_id: 7 })).await;
    let (s, _) = shop
        .send(Call::AddToCart(AddItem {
            product_id: 3,
            quantity: 2,
        }))
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut second = Shop {
        app: shop.app.clone(),
        store: shop.store.clone(),
        mailer: shop.mailer.clone(),
        cookie: shop.cookie.clone(),
    };
    let ((one, a), (two, b)) = tokio::join!(shop.send(Call::Checkout), second.send(Call::Checkout));
    let mut statuses = [one, two];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "one click buys, the other is told: {a} {b}"
    );
    let told = if one == StatusCode::CONFLICT { &a } else { &b };
    assert!(
        told["error"]
            .as_str()
            .is_some_and(|e| e.contains("already checked out as order")),
        "{told}"
    );
    assert_eq!(shop.store.all_orders().len(), 1, "one order");
    assert_eq!(shop.store.stock(3), Some(3), "stock taken once");
    assert_eq!(shop.mailer.sent().len(), 1, "one confirmation");
}

#[tokio::test]
async fn checkout_never_oversells() {
    let mut shop = Shop::new(1);
    shop.call("POST", "/login", Some(json!({"customer_id": 1})))
        .await;
    shop.call(
        "POST",
        "/cart/items",
        Some(json!({"product_id": 2, "quantity": 2})),
    )
    .await;
    let (s, body) = shop.call("POST", "/checkout", None).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(body["error"], "product 2 is out of stock");
    assert_eq!(
        shop.store.stock(2),
        Some(1),
        "a failed order reserves nothing"
    );
    assert!(shop.mailer.sent().is_empty());
}

#[tokio::test]
async fn checkout_needs_login_and_items() {
    let mut shop = Shop::new(5);
    shop.call(
        "POST",
        "/cart/items",
        Some(json!({"product_id": 2, "quantity": 1})),
    )
    .await;
    assert_eq!(
        shop.call("POST", "/checkout", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let mut other = Shop::new(5);
    other
        .call("POST", "/login", Some(json!({"customer_id": 9})))
        .await;
    let (s, body) = other.call("POST", "/checkout", None).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("the cart is empty"))
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_error() {
    let mut shop = Shop::new(5);
    let (s, body) = shop
        .call(
            "POST",
            "/cart/items",
            Some(json!({"product_id": 2, "quantity": 0})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"], "quantity must be 1 to 99, got 0");
    let (s, body) = shop
        .call(
            "POST",
            "/cart/items",
            Some(json!({"product_id": 999, "quantity": 1})),
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("no product 999"))
    );
    let (s, body) = shop
        .call("POST", "/login", Some(json!({"customer": 1})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("unknown field `customer`"),
        "{body}"
    );
    let (s, _) = shop.call("GET", "/products/not-a-number", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // A forged cookie is ignored, not trusted.
    shop.cookie = Some("sid=../../etc/passwd".into());
    let (s, _) = shop.call("GET", "/orders", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn in_process_sessions_keep_the_session_store_promises() {
    let ttl = Duration::from_millis(50);
    scalelab_system::conformance::session_store(&InMemorySessions::new(ttl), ttl).await;
}

#[tokio::test]
async fn an_id_no_database_can_hold_is_refused_at_the_door() {
    // Customer ids are stored as signed 64-bit integers (BIGINT): above i64::MAX (or 0, which
    // no customer has) the login is refused with 422, before a payment could be taken.
    for id in [0, i64::MAX as u64 + 1, u64::MAX] {
        let mut shop = Shop::new(5);
        let (s, body) = shop
            .call("POST", "/login", Some(json!({ "customer_id": id })))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "customer {id}: {body}");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("customer_id must be 1 to 9223372036854775807")),
            "{body}"
        );
    }
    let mut shop = Shop::new(5);
    let (s, _) = shop
        .call("POST", "/login", Some(json!({ "customer_id": i64::MAX })))
        .await;
    assert_eq!(s, StatusCode::OK, "the largest id a database holds is fine");
}

#[tokio::test]
async fn login_renews_the_session_id() {
    // Session fixation: an id handed out before login (or planted by someone else) must not
    // become the logged-in session's id. The cart comes along.
    let mut shop = Shop::new(5);
    shop.send(Call::AddToCart(AddItem {
        product_id: 3,
        quantity: 1,
    }))
    .await;
    let before = shop.cookie.clone().expect("a session before login");
    let (s, _) = shop.send(Call::Login(Login { customer_id: 7 })).await;
    assert_eq!(s, StatusCode::OK);
    let after = shop.cookie.clone().expect("a session after login");
    assert_ne!(before, after, "login hands out a new session id");
    let (_, cart) = shop.send(Call::ShowCart).await;
    assert_eq!(
        typed::<CartView>(cart).lines.len(),
        1,
        "the cart came along"
    );
    let mut old = Shop {
        app: shop.app.clone(),
        store: shop.store.clone(),
        mailer: shop.mailer.clone(),
        cookie: Some(before),
    };
    let (s, _) = old.send(Call::OrderHistory).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the old id is not logged in");
}

/// A payment provider that records what it was asked to do.
#[derive(Default)]
struct RecordingPayments {
    charged: std::sync::Mutex<Vec<String>>,
    refunded: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl Payments for RecordingPayments {
    async fn charge(&self, c: CustomerId, cents: u64, key: &str) -> Result<String, PortError> {
        let payment = FakePayments.charge(c, cents, key).await?;
        self.charged.lock().expect("lock").push(payment.clone());
        Ok(payment)
    }

    async fn refund(&self, payment_ref: &str) -> Result<(), PortError> {
        self.refunded
            .lock()
            .expect("lock")
            .push(payment_ref.to_owned());
        Ok(())
    }
}

/// A database whose answer to a placement is lost on the way back (a timeout): the
/// transaction committed (`commits`) or did not, and the shop cannot tell which.
struct LostAnswer {
    rows: Arc<MemoryStore>,
    commits: bool,
    /// Settlements that fail before one gets through (the database still unreachable).
    settle_failures: std::sync::atomic::AtomicU32,
}

#[async_trait::async_trait]
impl Store for LostAnswer {
    async fn list_products(&self, limit: usize) -> Result<Vec<Product>, PortError> {
        self.rows.list_products(limit).await
    }
    async fn product(
        &self,
        id: ProductId,
    ) -> Result<Option<scalelab_system::model::ProductPage>, PortError> {
        self.rows.product(id).await
    }
    async fn place_order(&self, order: NewOrder) -> Result<Placement, PortError> {
        if self.commits {
            self.rows.place_order(order).await?;
        }
        Err(PortError::Timeout("db: statement timeout".into()))
    }
    async fn settle(&self, customer: CustomerId, payment: &str) -> Result<Settlement, PortError> {
        use std::sync::atomic::Ordering;
        let failing = self.settle_failures.load(Ordering::SeqCst);
        if failing > 0 {
            self.settle_failures.store(failing - 1, Ordering::SeqCst);
            return Err(PortError::Unavailable("db: connection refused".into()));
        }
        self.rows.settle(customer, payment).await
    }
    async fn orders_for(&self, customer: CustomerId) -> Result<Vec<Order>, PortError> {
        self.rows.orders_for(customer).await
    }
    async fn record_stock_movement(&self, order: &Order) -> Result<(), PortError> {
        self.rows.record_stock_movement(order).await
    }
    async fn create_shipping_label(&self, order: &Order) -> Result<(), PortError> {
        self.rows.create_shipping_label(order).await
    }
    async fn sales_report(&self) -> Result<Report, PortError> {
        self.rows.sales_report().await
    }
    async fn unpublished(&self, limit: usize) -> Result<Vec<Order>, PortError> {
        self.rows.unpublished(limit).await
    }
    async fn mark_published(&self, orders: &[Order]) -> Result<(), PortError> {
        self.rows.mark_published(orders).await
    }
}

/// Checks out one item of product 3 as customer 9 on a database that loses the answer, and
/// then cannot be asked `unreachable` times.
async fn checkout_losing_the_answer(
    commits: bool,
    unreachable: u32,
) -> (Shop, Arc<RecordingPayments>, StatusCode, Value) {
    let payments = Arc::new(RecordingPayments::default());
    let mut shop = Shop::on(5, payments.clone(), |rows| {
        Arc::new(LostAnswer {
            rows,
            commits,
            settle_failures: unreachable.into(),
        })
    });
    shop.send(Call::Login(Login { customer_id: 9 })).await;
    shop.send(Call::AddToCart(AddItem {
        product_id: 3,
        quantity: 1,
    }))
    .await;
    let (status, body) = shop.send(Call::Checkout).await;
    (shop, payments, status, body)
}

#[tokio::test]
async fn a_placement_lost_before_it_committed_is_refunded() {
    let (shop, payments, status, body) = checkout_losing_the_answer(false, 0).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("no order was placed and the payment was refunded")),
        "the customer is told what became of the money: {body}"
    );
    let charged = payments.charged.lock().expect("lock").clone();
    assert_eq!(charged.len(), 1);
    assert_eq!(
        *payments.refunded.lock().expect("lock"),
        charged,
        "the charge without an order is refunded"
    );
    assert!(shop.store.all_orders().is_empty(), "no order");
    assert_eq!(
        shop.store
            .place_order(NewOrder {
                customer_id: 9,
                lines: vec![],
                payment_ref: charged[0].clone(),
                outbox: false,
            })
            .await,
        Ok(Placement::PaymentVoided),
        "the lost placement, should it arrive now, cannot use the refunded payment"
    );
}

#[tokio::test]
async fn a_placement_that_committed_though_its_answer_was_lost_is_acknowledged() {
    let (mut shop, payments, status, body) = checkout_losing_the_answer(true, 0).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let receipt: Receipt = typed(body);
    assert!(
        payments.refunded.lock().expect("lock").is_empty(),
        "a placed order's payment is not refunded"
    );
    assert_eq!(shop.store.all_orders().len(), 1, "one order");
    assert_eq!(shop.store.all_orders()[0].id, receipt.order_id);
    assert_eq!(shop.mailer.sent().len(), 1, "its side work was done");
    let (_, cart) = shop.send(Call::ShowCart).await;
    assert!(
        typed::<CartView>(cart).lines.is_empty(),
        "the cart was emptied"
    );
}

#[tokio::test]
async fn a_payment_the_database_cannot_settle_yet_is_settled_when_it_answers_again() {
    // Not committed: refunded once the database answers (after one more failed try, 1 s later).
    let (shop, payments, status, body) = checkout_losing_the_answer(false, 2).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("is not settled yet")),
        "the customer is told the money is not settled yet: {body}"
    );
    assert!(payments.refunded.lock().expect("lock").is_empty());
    eventually(|| !payments.refunded.lock().expect("lock").is_empty()).await;
    assert_eq!(
        *payments.refunded.lock().expect("lock"),
        *payments.charged.lock().expect("lock"),
        "refunded in the background once the database could settle it"
    );
    assert!(shop.store.all_orders().is_empty());

    // Committed: nothing refunded, and the side work the checkout never did is done.
    let (shop, payments, status, _) = checkout_losing_the_answer(true, 2).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert!(shop.mailer.sent().is_empty(), "no confirmation yet");
    eventually(|| !shop.mailer.sent().is_empty()).await;
    assert!(payments.refunded.lock().expect("lock").is_empty());
    assert_eq!(shop.store.all_orders().len(), 1);
    assert_eq!(
        shop.mailer.sent().len(),
        1,
        "the order's confirmation, sent late"
    );
}

/// Waits (at most 30 s) until `done`: background work in either world, with no fixed sleep.
async fn eventually(done: impl Fn() -> bool) {
    let start = tokio::time::Instant::now();
    while !done() && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
