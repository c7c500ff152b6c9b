//! The wire vocabulary (`scalelab_system::api`): every body's exact JSON, pinned, both as the
//! types serialize it and as the storefront's router sends it; and every request mapped back
//! to its endpoint as the router routes it. Runs in both worlds.
//!
//! The pinned strings are what the shop sent and the simulator's browsers wrote (with
//! `format!`) before these types existed: a change here changes the bytes on the wire, which
//! other clients read and the simulator's runs carry.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use scalelab_system::api::{
    AddItem, Call, CartView, Endpoint, ErrorBody, Line, LoggedIn, Login, Order, Product,
    ProductPage, Receipt, SalesReport,
};
use scalelab_system::memory::{demo_catalog, FakePayments, InMemorySessions, MemoryStore};
use scalelab_system::session::SessionIds;
use scalelab_system::storefront::{router, App};
use scalelab_system::worker::Inline;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tower::ServiceExt;

/// `value` serializes to exactly `json`, and `json` reads back as `value`.
fn pinned<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T, json: &str) {
    let wire = serde_json::to_string(value).expect("serialize");
    assert_eq!(wire, json, "{value:?} on the wire");
    let back: T = serde_json::from_str(json).expect("deserialize");
    assert_eq!(&back, value, "{json} read back");
}

#[test]
fn every_body_has_its_pinned_json() {
    pinned(&Login { customer_id: 42 }, r#"{"customer_id":42}"#);
    pinned(&LoggedIn { customer_id: 42 }, r#"{"customer_id":42}"#);
    pinned(
        &AddItem {
            product_id: 7,
            quantity: 2,
        },
        r#"{"product_id":7,"quantity":2}"#,
    );
    let line = Line {
        product_id: 7,
        quantity: 2,
        price_cents: 1999,
    };
    pinned(
        &CartView::of(vec![line]),
        r#"{"lines":[{"product_id":7,"quantity":2,"price_cents":1999}],"total_cents":3998}"#,
    );
    pinned(&CartView::default(), r#"{"lines":[],"total_cents":0}"#);
    pinned(
        &Receipt {
            order_id: 12,
            total_cents: 3998,
        },
        r#"{"order_id":12,"total_cents":3998}"#,
    );
    pinned(
        &vec![Order {
            id: 12,
            customer_id: 42,
            lines: vec![line],
            total_cents: 3998,
            payment_ref: "pay-x-1".into(),
        }],
        r#"[{"id":12,"customer_id":42,"lines":[{"product_id":7,"quantity":2,"price_cents":1999}],"total_cents":3998,"payment_ref":"pay-x-1"}]"#,
    );
    let mug = Product {
        id: 7,
        name: "red Mug #7".into(),
        price_cents: 1999,
    };
    pinned(
        &vec![mug.clone()],
        r#"[{"id":7,"name":"red Mug #7","price_cents":1999}]"#,
    );
    pinned(
        &ProductPage {
            product: mug,
            in_stock: 5,
        },
        r#"{"product":{"id":7,"name":"red Mug #7","price_cents":1999},"in_stock":5}"#,
    );
    pinned(
        &SalesReport {
            orders: 1,
            revenue_cents: 3998,
            units_by_product: [(7, 2)].into(),
        },
        r#"{"orders":1,"revenue_cents":3998,"units_by_product":{"7":2}}"#,
    );
    pinned(
        &ErrorBody {
            error: "the cart is empty".into(),
        },
        r#"{"error":"the cart is empty"}"#,
    );
}

#[test]
fn requests_refuse_fields_they_do_not_know() {
    let typo = serde_json::from_str::<Login>(r#"{"customer":1}"#).expect_err("a typo");
    assert!(
        typo.to_string().contains("unknown field `customer`"),
        "{typo}"
    );
    let extra = serde_json::from_str::<AddItem>(r#"{"product_id":7,"quantity":1,"price_cents":1}"#)
        .expect_err("a price the client may not set");
    assert!(
        extra.to_string().contains("unknown field `price_cents`"),
        "{extra}"
    );
}

/// One call of every endpoint, in `Endpoint::ALL`'s order.
fn one_call_each() -> Vec<Call> {
    let calls = vec![
        Call::Health,
        Call::ListProducts,
        Call::ProductPage(3),
        Call::Login(Login { customer_id: 42 }),
        Call::ShowCart,
        Call::AddToCart(AddItem {
            product_id: 3,
            quantity: 2,
        }),
        Call::RemoveFromCart(3),
        Call::Checkout,
        Call::OrderHistory,
        Call::SalesReport,
    ];
    let endpoints: Vec<Endpoint> = calls.iter().map(Call::endpoint).collect();
    assert_eq!(endpoints, Endpoint::ALL, "one call of every endpoint");
    calls
}

#[test]
fn every_call_maps_back_to_its_endpoint() {
    for call in one_call_each() {
        assert_eq!(
            Endpoint::of(&call.method(), &call.path()),
            Some(call.endpoint()),
            "{call:?} is {} {}",
            call.method(),
            call.path()
        );
    }
    // What the simulated browsers sent before these types, byte for byte.
    let sent = |call: Call| {
        (
            call.method(),
            call.path(),
            call.body().map(|b| String::from_utf8(b).expect("utf-8")),
        )
    };
    assert_eq!(
        sent(Call::Login(Login { customer_id: 42 })),
        (
            Method::POST,
            "/login".into(),
            Some(r#"{"customer_id":42}"#.into())
        )
    );
    assert_eq!(
        sent(Call::AddToCart(AddItem {
            product_id: 7,
            quantity: 2
        })),
        (
            Method::POST,
            "/cart/items".into(),
            Some(r#"{"product_id":7,"quantity":2}"#.into())
        )
    );
    assert_eq!(
        sent(Call::RemoveFromCart(7)),
        (Method::DELETE, "/cart/items/7".into(), None)
    );
    assert_eq!(
        sent(Call::ProductPage(7)),
        (Method::GET, "/products/7".into(), None)
    );
    assert_eq!(
        sent(Call::Checkout),
        (Method::POST, "/checkout".into(), None)
    );
}

#[test]
fn requests_no_route_takes_have_no_endpoint() {
    let none = [
        (Method::POST, "/products"),
        (Method::GET, "/login"),
        (Method::DELETE, "/cart/items"),
        (Method::GET, "/cart/items"),
        (Method::POST, "/cart"),
        (Method::GET, "/cartoon"),
        (Method::GET, "/products/"),
        (Method::GET, "/products/3/reviews"),
        (Method::DELETE, "/cart/items/"),
        (Method::GET, "/"),
        (Method::GET, ""),
        (Method::HEAD, "/orders"),
    ];
    for (method, path) in none {
        assert_eq!(Endpoint::of(&method, path), None, "{method} {path}");
    }
    assert_eq!(
        Endpoint::of(&Method::GET, "/products/not-a-number"),
        Some(Endpoint::ProductPage),
        "the route takes it; its handler refuses it"
    );
}

/// The storefront on in-memory ports, and a client that keeps the session cookie.
struct Client {
    app: axum::Router,
    cookie: Option<String>,
}

impl Client {
    fn new() -> Client {
        let store = Arc::new(MemoryStore::new(demo_catalog(20), 5));
        let app = App {
            store: store.clone(),
            sessions: Arc::new(InMemorySessions::new(Duration::from_secs(1800))),
            payments: Arc::new(FakePayments),
            side_work: Arc::new(Inline {
                store,
                mailer: Arc::new(scalelab_system::memory::MemoryMailer::default()),
            }),
            session_ids: SessionIds::from_seed(7),
            catalog_page_size: 2,
        };
        Client {
            app: router(Arc::new(app)),
            cookie: None,
        }
    }

    /// Sends `call` as a client would, with `method` in place of its own if given; the status
    /// and the body's bytes as text.
    async fn send(&mut self, call: Call, method: Option<Method>) -> (StatusCode, String) {
        let mut req = Request::builder()
            .method(method.unwrap_or_else(|| call.method()))
            .uri(call.path());
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, c);
        }
        let req = match call.body() {
            Some(json) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json)),
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
        (status, String::from_utf8(bytes.to_vec()).expect("utf-8"))
    }
}

#[tokio::test]
async fn the_router_serves_every_endpoint_with_its_method_and_only_that() {
    let mut client = Client::new();
    for call in one_call_each() {
        let (status, body) = client.send(call, None).await;
        // The router's own refusals have empty bodies; a handler's answers never do.
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED && !body.is_empty(),
            "{call:?}: {status} {body:?}"
        );
        let other = if call.method() == Method::POST {
            Method::PUT
        } else {
            Method::POST
        };
        let (status, _) = client.send(call, Some(other.clone())).await;
        assert_eq!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{other} {}",
            call.path()
        );
    }
}

#[tokio::test]
async fn replies_are_the_pinned_json_byte_for_byte() {
    let mut c = Client::new();
    let product_3 = r#"{"id":3,"name":"red Backpack #3","price_cents":5257}"#;
    assert_eq!(
        c.send(Call::ListProducts, None).await,
        (
            StatusCode::OK,
            r#"[{"id":1,"name":"red T-shirt #1","price_cents":8419},{"id":2,"name":"red Lamp #2","price_cents":6838}]"#.to_owned()
        )
    );
    assert_eq!(
        c.send(Call::ProductPage(3), None).await,
        (
            StatusCode::OK,
            format!(r#"{{"product":{product_3},"in_stock":5}}"#)
        )
    );
    assert_eq!(
        c.send(Call::Checkout, None).await,
        (
            StatusCode::UNAUTHORIZED,
            r#"{"error":"log in before checking out"}"#.into()
        )
    );
    assert_eq!(
        c.send(Call::Login(Login { customer_id: 42 }), None).await,
        (StatusCode::OK, r#"{"customer_id":42}"#.into())
    );
    let add = Call::AddToCart(AddItem {
        product_id: 3,
        quantity: 2,
    });
    assert_eq!(
        c.send(add, None).await,
        (
            StatusCode::OK,
            r#"{"lines":[{"product_id":3,"quantity":2,"price_cents":5257}],"total_cents":10514}"#
                .into()
        )
    );
    assert_eq!(
        c.send(Call::ShowCart, None).await.1,
        r#"{"lines":[{"product_id":3,"quantity":2,"price_cents":5257}],"total_cents":10514}"#
    );
    assert_eq!(
        c.send(Call::Checkout, None).await,
        (
            StatusCode::CREATED,
            r#"{"order_id":1,"total_cents":10514}"#.into()
        )
    );
    assert_eq!(
        c.send(Call::RemoveFromCart(3), None).await,
        (
            StatusCode::NOT_FOUND,
            r#"{"error":"product 3 is not in the cart"}"#.into()
        )
    );
    let (status, orders) = c.send(Call::OrderHistory, None).await;
    assert_eq!(status, StatusCode::OK);
    let sid = c.cookie.clone().expect("a session cookie");
    let sid = sid.strip_prefix("sid=").expect("sid=");
    assert_eq!(
        orders,
        format!(
            r#"[{{"id":1,"customer_id":42,"lines":[{{"product_id":3,"quantity":2,"price_cents":5257}}],"total_cents":10514,"payment_ref":"pay-{sid}-1"}}]"#
        )
    );
    assert_eq!(
        c.send(Call::SalesReport, None).await.1,
        r#"{"orders":1,"revenue_cents":10514,"units_by_product":{"3":2}}"#
    );
    assert_eq!(
        c.send(Call::Health, None).await,
        (StatusCode::OK, "ok".into())
    );
}
