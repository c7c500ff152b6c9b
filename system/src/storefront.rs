//! The storefront: the shop's HTTP API as an axum router. Its routes and the JSON bodies they
//! take and give are named in [`crate::api`], which clients share.
//!
//! | method | path                     | what it does                                         |
//! |--------|--------------------------|------------------------------------------------------|
//! | GET    | /health                  | liveness, for load balancers                         |
//! | GET    | /products                | the catalog's first page                             |
//! | GET    | /products/{id}           | one product with its stock                           |
//! | POST   | /login                   | `{"customer_id": 42}`: ties the session to a customer |
//! | GET    | /cart                    | the session's cart                                   |
//! | POST   | /cart/items              | `{"product_id": 7, "quantity": 2}`                   |
//! | DELETE | /cart/items/{product_id} | remove a product from the cart                       |
//! | POST   | /checkout                | pay, reserve stock, create the order, do side work   |
//! | GET    | /orders                  | the customer's order history                         |
//! | GET    | /admin/sales             | totals over all orders (a query across customers)    |
//!
//! The session rides in an `sid` cookie. Browsing needs no session, so anonymous visitors cost
//! the session store nothing.
//!
//! Must not: hold any state of its own. Everything lives behind the ports in [`App`], which is
//! what lets the same handlers run as one monolith or as N stateless replicas.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Serialize;

use crate::api::{AddItem, CartView, Endpoint, ErrorBody, LoggedIn, Login, Receipt};
use crate::model::{
    total_cents, CustomerId, Line, NewOrder, Order, Placement, ProductId, Settlement,
};
use crate::ports::{Payments, PortError, SessionStore, SideWork, Store};
use crate::session::{CartItem, Session, SessionId, SessionIds};

/// Most of one product a cart may hold: a shop rule, and a guard against absurd input.
pub const MAX_QUANTITY: u32 = 99;
/// Most distinct products in one cart.
pub const MAX_CART_LINES: usize = 50;
/// The largest customer id: databases keep ids as signed 64-bit integers (BIGINT). Checked at
/// the door, so that an id no database can hold is refused before anything (a payment) is done.
pub const MAX_CUSTOMER_ID: CustomerId = i64::MAX as CustomerId;

/// Everything the handlers need: the ports, and how session ids are made.
pub struct App {
    pub store: Arc<dyn Store>,
    pub sessions: Arc<dyn SessionStore>,
    pub payments: Arc<dyn Payments>,
    pub side_work: Arc<dyn SideWork>,
    pub session_ids: SessionIds,
    /// How many products `GET /products` lists.
    pub catalog_page_size: usize,
}

/// Builds the storefront router for one configuration of the ports: each [`Endpoint`] to
/// its handler, with the method `Endpoint::method` names (`tests/api.rs` checks they agree).
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(Endpoint::Health.route(), get(|| async { "ok" }))
        .route(Endpoint::ListProducts.route(), get(list_products))
        .route(Endpoint::ProductPage.route(), get(product_page))
        .route(Endpoint::Login.route(), post(login))
        .route(Endpoint::ShowCart.route(), get(show_cart))
        .route(Endpoint::AddToCart.route(), post(add_to_cart))
        .route(Endpoint::RemoveFromCart.route(), delete(remove_from_cart))
        .route(Endpoint::Checkout.route(), post(checkout))
        .route(Endpoint::OrderHistory.route(), get(order_history))
        .route(Endpoint::SalesReport.route(), get(sales_report))
        .with_state(app)
}

/// An error as the client sees it: a status and a JSON body `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl From<PortError> for ApiError {
    fn from(e: PortError) -> ApiError {
        let status = match e {
            PortError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            PortError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> ApiError {
        ApiError::new(e.status(), e.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

async fn list_products(State(app): State<Arc<App>>) -> ApiResult {
    let products = app.store.list_products(app.catalog_page_size).await?;
    Ok(Json(products).into_response())
}

async fn product_page(State(app): State<Arc<App>>, Path(id): Path<ProductId>) -> ApiResult {
    match app.store.product(id).await? {
        Some(page) => Ok(Json(page).into_response()),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no product {id}"),
        )),
    }
}

/// Stand-in for real authentication: the lab is about scaling, not passwords.
async fn login(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    form: Result<Json<Login>, JsonRejection>,
) -> ApiResult {
    let Json(form) = form?;
    if form.customer_id == 0 || form.customer_id > MAX_CUSTOMER_ID {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "customer_id must be 1 to {MAX_CUSTOMER_ID}, got {}",
                form.customer_id
            ),
        ));
    }
    let mut visit = Visit::start(&app, &headers).await?;
    // A new session id at login, the cart coming along: an id handed out (or planted by
    // someone else) before login must not become a logged-in session (session fixation).
    visit.renew(&app);
    visit.session.customer_id = Some(form.customer_id);
    visit.save(&app).await?;
    let reply = LoggedIn {
        customer_id: form.customer_id,
    };
    Ok(visit.respond(StatusCode::OK, reply))
}

fn cart_view(session: &Session) -> CartView {
    CartView::of(cart_lines(session))
}

fn cart_lines(session: &Session) -> Vec<Line> {
    session
        .cart
        .iter()
        .map(|(&product_id, item)| Line {
            product_id,
            quantity: item.quantity,
            price_cents: item.price_cents,
        })
        .collect()
}

async fn show_cart(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult {
    let visit = Visit::start(&app, &headers).await?;
    let view = cart_view(&visit.session);
    Ok(visit.respond(StatusCode::OK, view))
}

async fn add_to_cart(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    form: Result<Json<AddItem>, JsonRejection>,
) -> ApiResult {
    let Json(form) = form?;
    if form.quantity == 0 || form.quantity > MAX_QUANTITY {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "quantity must be 1 to {MAX_QUANTITY}, got {}",
                form.quantity
            ),
        ));
    }
    // Price the item now, from the database: the client does not get to say what it costs.
    let Some(page) = app.store.product(form.product_id).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no product {}", form.product_id),
        ));
    };
    let mut visit = Visit::start(&app, &headers).await?;
    let cart = &mut visit.session.cart;
    if !cart.contains_key(&form.product_id) && cart.len() >= MAX_CART_LINES {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("a cart holds at most {MAX_CART_LINES} different products"),
        ));
    }
    let item = cart.entry(form.product_id).or_insert(CartItem {
        quantity: 0,
        price_cents: page.product.price_cents,
    });
    item.quantity = (item.quantity + form.quantity).min(MAX_QUANTITY);
    item.price_cents = page.product.price_cents;
    visit.save(&app).await?;
    let view = cart_view(&visit.session);
    Ok(visit.respond(StatusCode::OK, view))
}

async fn remove_from_cart(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(product_id): Path<ProductId>,
) -> ApiResult {
    let mut visit = Visit::start(&app, &headers).await?;
    if visit.session.cart.remove(&product_id).is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("product {product_id} is not in the cart"),
        ));
    }
    visit.save(&app).await?;
    let view = cart_view(&visit.session);
    Ok(visit.respond(StatusCode::OK, view))
}

/// Checkout: charge, then reserve stock and record the order in one transaction, then the side
/// work. The order is *acknowledged* only by the 201 response: after that it must never be lost.
///
/// A cart is checked out once. Two checkouts of one cart at once (a double click) read the
/// same session, so they make the same payment idempotency key: the provider charges once and
/// both get the same payment reference, which the database keeps unique. The second finds the
/// first's order and gets 409; a second click that comes after the first has finished finds
/// the cart empty (400).
async fn checkout(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult {
    let mut visit = Visit::start(&app, &headers).await?;
    let Some(customer_id) = visit.session.customer_id else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "log in before checking out",
        ));
    };
    let lines = cart_lines(&visit.session);
    if lines.is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "the cart is empty"));
    }

    // The key makes a retried charge for the same attempt a no-op at the payment provider.
    visit.session.checkouts += 1;
    let key = format!("{}-{}", visit.id.as_str(), visit.session.checkouts);
    let payment_ref = app
        .payments
        .charge(customer_id, total_cents(&lines), &key)
        .await?;

    // With an outbox, the side work's message is written in the order's own transaction: the
    // order and its message exist together or not at all (see `outbox`).
    let new_order = NewOrder {
        customer_id,
        lines,
        payment_ref: payment_ref.clone(),
        outbox: app.side_work.in_outbox(),
    };
    let order = match app.store.place_order(new_order).await {
        Ok(Placement::Placed(order)) => order,
        Ok(Placement::AlreadyPlaced(order_id)) => {
            // The same cart, checked out twice at once (a double click): the other request
            // placed it. Its payment is this one (same idempotency key), so nothing to refund,
            // and the session is left to the request that placed the order.
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("this cart was already checked out as order {order_id}"),
            ));
        }
        Ok(Placement::PaymentVoided) => {
            // The other click of a double click timed out, voided this payment and refunded it.
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "this checkout was cancelled and its payment refunded; check out again",
            ));
        }
        Ok(Placement::OutOfStock(product_id)) => {
            app.payments.refund(&payment_ref).await?;
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("product {product_id} is out of stock"),
            ));
        }
        Err(e) => settle(&app, customer_id, &payment_ref, e).await?,
    };

    // The order is committed: empty the cart first, so that a failure below cannot lead the
    // customer to buy the same things twice.
    visit.session.cart.clear();
    visit.save(&app).await?;

    // Inline side work makes the customer wait for it, and fail with it: the naive design's
    // weakness, kept on purpose so the lab can show it. (Through the outbox there is nothing
    // left to do here: the relay publishes the message.)
    if let Err(e) = app.side_work.order_placed(&order).await {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!(
                "order {} was placed but its follow-up failed: {e}",
                order.id
            ),
        ));
    }
    let receipt = Receipt {
        order_id: order.id,
        total_cents: order.total_cents,
    };
    Ok(visit.respond(StatusCode::CREATED, receipt))
}

/// The placement failed and may or may not have committed (a timeout, a connection lost on
/// the way back): the customer has paid, so the outcome must be decided, not guessed. The
/// database settles it (`Store::settle`): the order is there after all, and the checkout goes
/// on; or the payment is voided, so the lost placement can never commit, and refunded.
///
/// If the database cannot be asked either, refunding now could refund an order that did
/// commit, so the customer is told the payment is not settled yet, and `settle_later` keeps
/// asking in the background.
async fn settle(
    app: &Arc<App>,
    customer_id: CustomerId,
    payment_ref: &str,
    error: PortError,
) -> Result<Order, ApiError> {
    // The answer keeps the status the failure had (503 or 504) and says what became of the money.
    let failed = ApiError::from(error);
    match app.store.settle(customer_id, payment_ref).await {
        Ok(Settlement::Placed(order)) => Ok(order),
        Ok(Settlement::Voided) => {
            app.payments.refund(payment_ref).await?;
            Err(ApiError::new(
                failed.status,
                format!(
                    "{}; no order was placed and the payment was refunded",
                    failed.message
                ),
            ))
        }
        Err(_) => {
            tokio::spawn(settle_later(
                app.clone(),
                customer_id,
                payment_ref.to_owned(),
            ));
            Err(ApiError::new(
                failed.status,
                format!(
                    "{}; payment {payment_ref} is not settled yet: it will be refunded unless \
                     its order turns up in your order history",
                    failed.message
                ),
            ))
        }
    }
}

/// How long `settle_later` keeps trying. A payment still unsettled after that is left to the
/// shop's people (a real shop reconciles its provider's charges against its orders daily).
const SETTLE_FOR: Duration = Duration::from_secs(15 * 60);

/// Settles a payment the checkout could not, once the database answers again: refunds it if
/// no order has it; if its order did commit, does the order's side work, which the checkout
/// never got to (through the outbox, that is already waiting there). Waits 1 s, then twice as
/// long each time up to 30 s, so an outage costs a few tries, not a storm of them. A process
/// that dies meanwhile forgets the payment: reconciling against the provider is the backstop.
async fn settle_later(app: Arc<App>, customer_id: CustomerId, payment_ref: String) {
    let start = tokio::time::Instant::now();
    let mut pause = Duration::from_secs(1);
    while start.elapsed() < SETTLE_FOR {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(30));
        let done = match app.store.settle(customer_id, &payment_ref).await {
            Ok(Settlement::Voided) => app.payments.refund(&payment_ref).await.is_ok(),
            Ok(Settlement::Placed(order)) => app.side_work.order_placed(&order).await.is_ok(),
            Err(_) => false,
        };
        if done {
            return;
        }
    }
}

async fn order_history(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult {
    let visit = Visit::start(&app, &headers).await?;
    let Some(customer_id) = visit.session.customer_id else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "log in to see your orders",
        ));
    };
    let orders = app.store.orders_for(customer_id).await?;
    Ok(visit.respond(StatusCode::OK, orders))
}

/// Totals over every order. Not authenticated: the lab's shop has no staff accounts. On a
/// sharded store this asks every shard (scatter-gather), which is why it is slow there.
async fn sales_report(State(app): State<Arc<App>>) -> ApiResult {
    Ok(Json(app.store.sales_report().await?).into_response())
}

/// One request's view of its session: loaded from the cookie, or new.
struct Visit {
    id: SessionId,
    session: Session,
    is_new: bool,
}

impl Visit {
    async fn start(app: &App, headers: &HeaderMap) -> Result<Visit, ApiError> {
        if let Some(id) = session_cookie(headers) {
            if let Some(session) = app.sessions.load(&id).await? {
                return Ok(Visit {
                    id,
                    session,
                    is_new: false,
                });
            }
        }
        // No cookie, a malformed one, or a session that expired (or lived on a node that died).
        Ok(Visit {
            id: app.session_ids.next(),
            session: Session::default(),
            is_new: true,
        })
    }

    /// Moves the session to a fresh id (the old one keeps what it had, and expires).
    fn renew(&mut self, app: &App) {
        if !self.is_new {
            self.id = app.session_ids.next();
            self.is_new = true;
        }
    }

    async fn save(&self, app: &App) -> Result<(), ApiError> {
        Ok(app.sessions.save(&self.id, &self.session).await?)
    }

    fn respond(self, status: StatusCode, body: impl Serialize) -> Response {
        let mut response = (status, Json(body)).into_response();
        if self.is_new {
            let cookie = format!("sid={}; Path=/; HttpOnly; SameSite=Lax", self.id.as_str());
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
        }
        response
    }
}

/// The `sid` cookie, if the request carries a well-formed one.
fn session_cookie(headers: &HeaderMap) -> Option<SessionId> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix("sid="))
        .find_map(SessionId::parse)
}
