//! The storefront's behaviour, driven through its router with the in-memory ports.
//! These tests run in both worlds: on real tokio and under the simulator.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use scalelab_system::memory::{
    demo_catalog, FakePayments, InMemorySessions, MemoryMailer, MemoryStore,
};
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
        let store = Arc::new(MemoryStore::new(demo_catalog(20), stock));
        let mailer = Arc::new(MemoryMailer::default());
        let app = App {
            store: store.clone(),
            sessions: Arc::new(InMemorySessions::new(Duration::from_secs(1800))),
            payments: Arc::new(FakePayments),
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

#[tokio::test]
async fn browse_cart_checkout_and_history() {
    let mut shop = Shop::new(5);
    let (s, products) = shop.call("GET", "/products", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(products.as_array().map(Vec::len), Some(10));

    let (s, page) = shop.call("GET", "/products/3", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["in_stock"], 5);
    let price = page["product"]["price_cents"].as_u64().expect("price");

    assert_eq!(
        shop.call("POST", "/login", Some(json!({"customer_id": 42})))
            .await
            .0,
        StatusCode::OK
    );
    assert!(shop.cookie.is_some(), "login sets the session cookie");
    let (s, cart) = shop
        .call(
            "POST",
            "/cart/items",
            Some(json!({"product_id": 3, "quantity": 2})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(cart["total_cents"].as_u64(), Some(2 * price));
    shop.call(
        "POST",
        "/cart/items",
        Some(json!({"product_id": 4, "quantity": 1})),
    )
    .await;
    assert_eq!(
        shop.call("DELETE", "/cart/items/4", None).await.0,
        StatusCode::OK
    );

    let (s, receipt) = shop.call("POST", "/checkout", None).await;
    assert_eq!(s, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["total_cents"].as_u64(), Some(2 * price));
    assert_eq!(shop.store.stock(3), Some(3), "checkout takes the stock");
    assert_eq!(shop.mailer.sent().len(), 1, "one confirmation email");
    assert_eq!(
        shop.store.side_effects(),
        (1, 1),
        "stock movement and label recorded"
    );

    let (_, cart) = shop.call("GET", "/cart", None).await;
    assert_eq!(
        cart["lines"].as_array().map(Vec::len),
        Some(0),
        "the cart is empty after checkout"
    );
    let (s, orders) = shop.call("GET", "/orders", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(orders[0]["id"], receipt["order_id"]);

    let (s, sales) = shop.call("GET", "/admin/sales", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(sales["orders"], 1);
    assert_eq!(sales["revenue_cents"].as_u64(), Some(2 * price));
    assert_eq!(sales["units_by_product"]["3"], 2);
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
