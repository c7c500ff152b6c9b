//! The storefront's wire vocabulary: its routes ([`Endpoint`]), the requests a client can make
//! ([`Call`]), and the JSON bodies that travel each way.
//!
//! The handlers in `storefront` read and write these types, and so do the clients: the
//! simulator's browsers, the tests, the real world's tests. Both sides therefore agree on every
//! field by construction, and the question "which route is this request?" is answered in one
//! place, [`Endpoint::of`], for anyone who needs it (the simulator bills CPU by it).
//!
//! Must not: change what a body looks like on the wire (field names, their order) in passing.
//! Clients that are not Rust send and read these bytes too (the README's curl lines,
//! `bench/checkout.lua`), and the simulator's trace hash covers runs that carry them;
//! `tests/api.rs` pins every body's exact JSON.

use axum::http::Method;
use serde::{Deserialize, Serialize};

use crate::model::{CustomerId, OrderId, ProductId};

// Bodies that are model types as they are, named here so that a client needs only this module.
pub use crate::model::{Line, Order, Product, ProductPage, SalesReport};

/// The body of `POST /login`: `{"customer_id":42}`.
///
/// Requests refuse fields they do not know, so that a typo is an error, not a silent default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub customer_id: CustomerId,
}

/// The reply to `POST /login`: the customer the session now belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedIn {
    pub customer_id: CustomerId,
}

/// The body of `POST /cart/items`: `{"product_id":7,"quantity":2}`. No price: the shop prices
/// the item itself, from its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddItem {
    pub product_id: ProductId,
    pub quantity: u32,
}

/// The cart as every cart route answers it: its lines, by product id, and their total.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartView {
    pub lines: Vec<Line>,
    pub total_cents: u64,
}

impl CartView {
    /// The view of these lines; the total is computed here, so no reply can disagree with it.
    pub fn of(lines: Vec<Line>) -> CartView {
        CartView {
            total_cents: crate::model::total_cents(&lines),
            lines,
        }
    }
}

/// The reply to a checkout that placed an order (201): the id the customer may quote, and
/// what was charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub order_id: OrderId,
    pub total_cents: u64,
}

/// The reply to `GET /orders`: the customer's orders, oldest first.
pub type OrderList = Vec<Order>;

/// The reply to `GET /products`: the catalog's first page, by id.
pub type Catalog = Vec<Product>;

/// The body of every error reply: `{"error":"..."}`, a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// Every route of the storefront: a method and a path, which may hold one parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// `GET /health`: liveness, for load balancers. Answers `ok` as plain text.
    Health,
    /// `GET /products`: a [`Catalog`].
    ListProducts,
    /// `GET /products/{id}`: a [`ProductPage`].
    ProductPage,
    /// `POST /login` with a [`Login`]: a [`LoggedIn`].
    Login,
    /// `GET /cart`: a [`CartView`].
    ShowCart,
    /// `POST /cart/items` with an [`AddItem`]: a [`CartView`].
    AddToCart,
    /// `DELETE /cart/items/{product_id}`: a [`CartView`].
    RemoveFromCart,
    /// `POST /checkout`: a [`Receipt`] (201).
    Checkout,
    /// `GET /orders`: an [`OrderList`].
    OrderHistory,
    /// `GET /admin/sales`: a [`SalesReport`].
    SalesReport,
}

impl Endpoint {
    pub const ALL: [Endpoint; 10] = [
        Endpoint::Health,
        Endpoint::ListProducts,
        Endpoint::ProductPage,
        Endpoint::Login,
        Endpoint::ShowCart,
        Endpoint::AddToCart,
        Endpoint::RemoveFromCart,
        Endpoint::Checkout,
        Endpoint::OrderHistory,
        Endpoint::SalesReport,
    ];

    pub fn method(self) -> Method {
        match self {
            Endpoint::Login | Endpoint::AddToCart | Endpoint::Checkout => Method::POST,
            Endpoint::RemoveFromCart => Method::DELETE,
            Endpoint::Health
            | Endpoint::ListProducts
            | Endpoint::ProductPage
            | Endpoint::ShowCart
            | Endpoint::OrderHistory
            | Endpoint::SalesReport => Method::GET,
        }
    }

    /// The path as the router declares it; `{name}` stands for one path segment.
    pub fn route(self) -> &'static str {
        match self {
            Endpoint::Health => "/health",
            Endpoint::ListProducts => "/products",
            Endpoint::ProductPage => "/products/{id}",
            Endpoint::Login => "/login",
            Endpoint::ShowCart => "/cart",
            Endpoint::AddToCart => "/cart/items",
            Endpoint::RemoveFromCart => "/cart/items/{product_id}",
            Endpoint::Checkout => "/checkout",
            Endpoint::OrderHistory => "/orders",
            Endpoint::SalesReport => "/admin/sales",
        }
    }

    /// The endpoint a request goes to, from its method and its path (without the query), as
    /// the router decides it; `None` for a request no route takes (the router answers 404 or
    /// 405). A parameter matches any one non-empty segment: `/products/abc` is a product page
    /// request, which its handler then refuses (400).
    pub fn of(method: &Method, path: &str) -> Option<Endpoint> {
        Endpoint::ALL
            .into_iter()
            .find(|e| e.method() == method && route_matches(e.route(), path))
    }
}

/// Whether `path` fits `route`, segment by segment. Compared in place: the simulator asks
/// this for every request, so it allocates nothing.
fn route_matches(route: &str, path: &str) -> bool {
    let (mut want, mut got) = (route.split('/'), path.split('/'));
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') && !g.is_empty() => {}
            (Some(w), Some(g)) if w == g && !w.starts_with('{') => {}
            _ => return false,
        }
    }
}

/// One request to the storefront, as a client builds it: the endpoint, its path parameter and
/// its body. A browser matches on what it wants to do and sends `method()`, `path()` and
/// `body()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Health,
    ListProducts,
    ProductPage(ProductId),
    Login(Login),
    ShowCart,
    AddToCart(AddItem),
    RemoveFromCart(ProductId),
    Checkout,
    OrderHistory,
    SalesReport,
}

impl Call {
    pub fn endpoint(&self) -> Endpoint {
        match self {
            Call::Health => Endpoint::Health,
            Call::ListProducts => Endpoint::ListProducts,
            Call::ProductPage(_) => Endpoint::ProductPage,
            Call::Login(_) => Endpoint::Login,
            Call::ShowCart => Endpoint::ShowCart,
            Call::AddToCart(_) => Endpoint::AddToCart,
            Call::RemoveFromCart(_) => Endpoint::RemoveFromCart,
            Call::Checkout => Endpoint::Checkout,
            Call::OrderHistory => Endpoint::OrderHistory,
            Call::SalesReport => Endpoint::SalesReport,
        }
    }

    pub fn method(&self) -> Method {
        self.endpoint().method()
    }

    /// The request's path: the endpoint's route with its parameter filled in.
    pub fn path(&self) -> String {
        match self {
            Call::ProductPage(id) => format!("/products/{id}"),
            Call::RemoveFromCart(id) => format!("/cart/items/{id}"),
            other => other.endpoint().route().to_owned(),
        }
    }

    /// The JSON body, for the calls that have one (send it as `application/json`).
    pub fn body(&self) -> Option<Vec<u8>> {
        match self {
            Call::Login(login) => Some(to_json(login)),
            Call::AddToCart(item) => Some(to_json(item)),
            _ => None,
        }
    }
}

/// A request body as JSON. Serializing these structs of numbers cannot fail (serde_json fails
/// only on maps with non-string keys and on failing `Serialize` impls, which they have not).
fn to_json(body: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_else(|_| unreachable!("a request body of plain numbers"))
}
