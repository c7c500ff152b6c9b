//! Simulated users: each session is a task that sends HTTP requests (as values: `world::net`)
//! to the storefront over the simulated network, following its drawn plan, waiting its think time between pages and
//! leaving when a page is too slow or fails.
//!
//! Must not: know how the shop works inside. It sees only HTTP, like a browser.

use crate::world::deadline::Deadlines;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, COOKIE, HOST, SET_COOKIE};
use hyper::Request;
use scalelab_system::api::{
    AddItem, Call, CartView, Login, OrderList, ProductPage, Receipt, SalesReport,
};
use tokio::time::Instant;

use crate::metrics::{HistoryRead, Outcome, Recorder, SessionEnd};
use crate::traffic::workload::{SessionPlan, Step};
use crate::world::host::Kind;
use crate::world::net::{Connection, Forwarded, Replied};

/// What every user of one design shares.
pub struct Users {
    pub app: SocketAddr,
    /// A browser gives up on a request after the SLO's timeout.
    pub slo: Deadlines,
    pub recorder: Arc<Mutex<Recorder>>,
    /// Virtual time the run began; events are stamped relative to it.
    pub start: Instant,
    /// No user starts a new request after this.
    pub stop_at: Instant,
}

impl Users {
    fn record(&self, f: impl FnOnce(&mut Recorder, Duration)) {
        let at = Instant::now().duration_since(self.start);
        let mut r = self.recorder.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut r, at);
    }
}

struct Reply {
    status: u16,
    cookie: Option<String>,
    body: Bytes,
}

/// Sends one request on an open connection.
async fn send(conn: &mut Connection, req: Forwarded) -> std::io::Result<Reply> {
    let Replied(head, body) = conn.send(req).await?;
    let cookie = head
        .headers
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    Ok(Reply {
        status: head.status.as_u16(),
        cookie,
        body,
    })
}

fn request(step: Step, cookie: Option<&str>) -> (Kind, Forwarded) {
    let call = match step {
        Step::Browse => Call::ListProducts,
        Step::View(p) => Call::ProductPage(p),
        Step::Login(c) => Call::Login(Login { customer_id: c }),
        Step::Add { product, quantity } => Call::AddToCart(AddItem {
            product_id: product,
            quantity,
        }),
        Step::Remove(p) => Call::RemoveFromCart(p),
        Step::Checkout => Call::Checkout,
        Step::Orders => Call::OrderHistory,
    };
    http_request(&call, cookie)
}

/// The HTTP request for `call`, and the kind the host bills it as.
fn http_request(call: &Call, cookie: Option<&str>) -> (Kind, Forwarded) {
    let mut b = Request::builder()
        .method(call.method())
        .uri(call.path())
        .header(HOST, "shop");
    if let Some(c) = cookie {
        b = b.header(COOKIE, c);
    }
    let body = match call.body() {
        Some(json) => {
            b = b.header(CONTENT_TYPE, "application/json");
            Bytes::from(json)
        }
        None => Bytes::new(),
    };
    // Every part above is a valid constant or number, so building cannot fail; if it ever
    // did, an empty GET / is a harmless stand-in that the metrics would show as "other".
    let head = b
        .body(())
        .unwrap_or_else(|_| Request::new(()))
        .into_parts()
        .0;
    let req = Forwarded(head, body);
    (Kind::of(Some(call.endpoint())), req)
}

/// A reply's body as the API type it should be, if it is one.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_json::from_slice(body).ok()
}

/// The products in a cart reply.
fn cart_products(view: Option<&CartView>) -> BTreeSet<u64> {
    view.map(|v| v.lines.iter().map(|l| u64::from(l.product_id)).collect())
        .unwrap_or_default()
}

/// What a browser remembers of its visit: who it logged in as and what it put in its cart. A
/// shop that forgets either between two successful requests has lost the cart (the checker
/// of "a cart survives the death of the node that served it" reads these observations).
#[derive(Default)]
struct Memory {
    customer: Option<u64>,
    expected: BTreeSet<u64>,
    /// Products that may or may not be in the cart: a second tab added to it while checkout
    /// ran, and which of the two requests the shop's session store kept last is not for a
    /// browser to know (both read the session, both write it back). Neither their presence
    /// nor their absence is a finding until a cart reply settles it.
    maybe: BTreeSet<u64>,
    cart_cents: u64,
    /// A second tab's add raced the checkout in flight (see [`Race`]).
    race: Option<Race>,
}

/// What a browser knows after a second tab's add raced its checkout: the checkout charged
/// the cart as it was before the add, or as the add's reply showed it.
#[derive(Default)]
struct Race {
    /// The products the cart held before the race.
    before: BTreeSet<u64>,
    /// The product the tab added, if it may have been added.
    product: Option<u64>,
    /// The cart's total as the tab's reply showed it.
    totals: Vec<u64>,
    /// The add got no answer, or a 5xx: it may have been saved, at a price the browser was
    /// not told, so any total may be right.
    unknown: bool,
}

impl Memory {
    /// Takes in the shop's answer `status`/`body` to `step` (a request meant to start at
    /// `sent`); reports what contradicts what the browser knows, acknowledged orders and the
    /// order histories it read.
    fn saw(
        &mut self,
        step: Step,
        status: u16,
        body: &[u8],
        sent: Duration,
        session: u64,
        users: &Users,
    ) {
        let lost = |what: String| {
            users.record(|r, at| r.cart_lost(at, session, what));
        };
        let wrong = |what: String| {
            users.record(|r, at| r.cart_wrong(at, session, what));
        };
        match (step, status) {
            (Step::Login(c), 200) => self.customer = Some(c),
            (Step::Add { product, .. }, 200) => {
                self.expected.insert(u64::from(product));
                let after = || format!("after adding product {product}");
                self.cart_reply(body, after, &lost, &wrong);
            }
            (Step::Remove(p), 200) => {
                self.expected.remove(&u64::from(p));
                let after = || format!("after removing product {p}");
                self.cart_reply(body, after, &lost, &wrong);
            }
            (Step::Remove(p), 404) if self.expected.contains(&u64::from(p)) => {
                lost(format!(
                    "product {p} was in the cart, the shop says it is not"
                ));
                self.expected.clear();
            }
            (Step::Checkout, 201) => {
                self.acked(body, session, users);
                self.cart_cents = 0;
                self.expected.clear();
            }
            (Step::Checkout, 401) if self.customer.is_some() => {
                lost("logged in, but checkout says to log in: the session is gone".into());
                self.expected.clear();
            }
            (Step::Checkout, 400) if !self.expected.is_empty() => {
                lost(format!(
                    "checkout says the cart is empty; it held {:?}",
                    self.expected
                ));
                self.expected.clear();
            }
            (Step::Orders, 200) => {
                if let (Some(customer), Some(list)) = (self.customer, parse::<OrderList>(body)) {
                    let seen = list
                        .iter()
                        .map(|o| (o.id, o.customer_id, o.total_cents))
                        .collect();
                    users.record(|r, _| {
                        r.history_read(HistoryRead {
                            sent,
                            session,
                            customer,
                            seen,
                        })
                    });
                }
            }
            _ => {}
        }
    }

    /// Compares a cart the shop answered with what the browser put in it: products missing
    /// (`lost`, cart-survives) and products that should not be there (`wrong`, cart-exact).
    fn cart_reply(
        &mut self,
        body: &[u8],
        // Built only when there is something to report: this runs on every cart reply.
        after: impl Fn() -> String,
        lost: &impl Fn(String),
        wrong: &impl Fn(String),
    ) {
        let view = parse::<CartView>(body);
        self.cart_cents = view.as_ref().map_or(self.cart_cents, |v| v.total_cents);
        let seen = cart_products(view.as_ref());
        self.extras(&seen, wrong);
        if !self.expected.is_subset(&seen) {
            let missing: Vec<u64> = self.expected.difference(&seen).copied().collect();
            lost(format!("{} the cart lacks {missing:?}", after()));
        }
        // The shop's answer settles what the browser was unsure of.
        self.expected = seen;
        self.maybe.clear();
    }

    /// Reports products the cart shows that the shopper never put there, or took out.
    fn extras(&self, seen: &BTreeSet<u64>, wrong: &impl Fn(String)) {
        let extra: Vec<u64> = seen
            .difference(&self.expected)
            .filter(|p| !self.maybe.contains(p))
            .copied()
            .collect();
        if !extra.is_empty() {
            wrong(format!(
                "the cart shows product(s) {extra:?} the shopper did not put there or removed"
            ));
        }
    }

    /// Takes in what a second tab was told when it added `product` while checkout ran. Its
    /// cart may show the cart before the checkout or after it (emptied), so only what it
    /// must show is judged: the product it added, and nothing the shopper never put there.
    fn tab_added(
        &mut self,
        product: u64,
        result: &Result<Reply, Outcome>,
        session: u64,
        users: &Users,
    ) {
        let mut race = Race {
            before: self.expected.union(&self.maybe).copied().collect(),
            ..Race::default()
        };
        match result {
            Ok(reply) if reply.status == 200 => {
                let view = parse::<CartView>(&reply.body);
                let seen = cart_products(view.as_ref());
                let allowed: BTreeSet<u64> = race.before.iter().copied().chain([product]).collect();
                let extra: Vec<u64> = seen.difference(&allowed).copied().collect();
                if !extra.is_empty() {
                    let what = format!(
                        "a second tab's cart shows product(s) {extra:?} the shopper did not put there or removed"
                    );
                    users.record(|r, at| r.cart_wrong(at, session, what));
                }
                if !seen.contains(&product) {
                    let what =
                        format!("after adding product {product} in a second tab the cart lacks it");
                    users.record(|r, at| r.cart_lost(at, session, what));
                }
                race.product = Some(product);
                race.totals.extend(view.map(|v| v.total_cents));
            }
            // Refused: the tab changed nothing.
            Ok(reply) if reply.status < 500 => {}
            _ => {
                race.product = Some(product);
                race.unknown = true;
            }
        }
        self.race = Some(race);
    }

    /// After the checkout a second tab raced: what the cart holds now is uncertain (the
    /// checkout's emptied cart, the tab's, or the tab's written over the checkout's), so
    /// every product either request may have left there is a `maybe`.
    fn settle_race(&mut self) {
        if let Some(race) = self.race.take() {
            self.maybe.extend(race.before);
            self.maybe.extend(race.product);
            self.maybe.append(&mut self.expected);
        }
    }
}

impl Memory {
    /// Records the order a 201 to checkout acknowledged: what the browser was told.
    fn acked(&self, body: &[u8], session: u64, users: &Users) {
        let receipt = parse::<Receipt>(body);
        let order = receipt.map_or(0, |r| r.order_id);
        let total = receipt.map_or(self.cart_cents, |r| r.total_cents);
        let who = self.customer.unwrap_or(0);
        // A second tab's add that raced the checkout may have been in the cart it charged.
        let raced = self
            .race
            .as_ref()
            .is_some_and(|r| r.unknown || r.totals.contains(&total));
        if total != self.cart_cents && !raced {
            let what = format!(
                "paid {total} cents for order {order}; the cart last showed {} cents",
                self.cart_cents
            );
            users.record(|r, at| r.cart_wrong(at, session, what));
        }
        users.record(|r, at| r.order(at, session, order, who, total));
    }
}

/// Sends one request of a session on its kept-alive connection, opening one first if it has
/// none (a browser opens its connection on the first page and keeps it alive), and gives up
/// at the SLO's timeout.
async fn attempt(
    sender: &mut Option<Connection>,
    req: Forwarded,
    users: &Users,
) -> Result<Reply, Outcome> {
    // A kept-alive connection the server closed (its node died, say) is replaced before the
    // next page, as a browser does; only a failure on a live connection is an error.
    if sender.as_ref().is_some_and(|s| s.is_closed()) {
        *sender = None;
    }
    let attempt = async {
        if sender.is_none() {
            // Boxed for the same reason: a session opens its connection once.
            let conn = Box::pin(Connection::open(users.app))
                .await
                .map_err(|_| Outcome::Connect)?;
            *sender = Some(conn);
        }
        match sender.as_mut() {
            Some(s) => send(s, req).await.map_err(|_| Outcome::Broken),
            None => Err(Outcome::Connect),
        }
    };
    let result = match users.slo.timeout(attempt).await {
        Ok(r) => r,
        Err(_) => Err(Outcome::Timeout),
    };
    // A browser that gave up on a page, or saw its connection fail, does not send on that
    // connection again (a late reply would answer its next request).
    if result.is_err() {
        *sender = None;
    }
    result
}

/// Runs one session to its end. Latency of each request counts from its intended start: the
/// session's scheduled arrival for the first request, the end of the think time for the rest.
pub async fn run_session(plan: SessionPlan, arrived: Instant, users: Arc<Users>) {
    let session = plan.index;
    users.record(|r, at| r.session_started(at, session));
    let mut sender: Option<Connection> = None;
    let mut cookie: Option<String> = None;
    let mut memory = Memory::default();
    let mut end = SessionEnd::Done;
    // The step the session ended at, for what it would still have bought (see `unbought`).
    let mut stopped_at = plan.steps.len();
    for (i, &step) in plan.steps.iter().enumerate() {
        stopped_at = i;
        let intended = if i == 0 {
            arrived
        } else {
            madsim::time::sleep_exact(Duration::from_secs_f64(plan.think_ms[i] / 1000.0)).await;
            Instant::now()
        };
        if intended >= users.stop_at {
            end = SessionEnd::Cut;
            break;
        }
        let (kind, req) = request(step, cookie.as_deref());
        let company = plan.double_click || plan.second_tab.is_some();
        // Every request this step sends leaves now: a checkout with company sends one more
        // for the second click and one for the second tab.
        let sent = if step == Step::Checkout && company {
            1 + u64::from(plan.double_click) + u64::from(plan.second_tab.is_some())
        } else {
            1
        };
        let sent_at = intended.duration_since(users.start);
        users.record(|r, _| r.requests_sent(sent_at, sent));
        let result = if step == Step::Checkout && company {
            let at = (session, i, intended);
            let with = (cookie.as_deref(), &plan);
            // Boxed: the rare checkout with company is the largest future a session awaits,
            // and unboxed its size would be every session's, thinking or not.
            Box::pin(checkout_with_company(
                &mut sender,
                req,
                with,
                at,
                &mut memory,
                &users,
            ))
            .await
        } else {
            attempt(&mut sender, req, &users).await
        };
        let latency = Instant::now().duration_since(intended);
        let outcome = match &result {
            Ok(reply) => Outcome::Status(reply.status),
            Err(o) => *o,
        };
        users.record(|r, at| r.request(at, session, i, kind, outcome, latency));
        let reply = match result {
            Ok(reply) if reply.status < 500 => reply,
            _ => {
                end = SessionEnd::Error;
                break;
            }
        };
        if let Some(c) = reply.cookie {
            cookie = Some(c);
        }
        let sent = intended.duration_since(users.start);
        memory.saw(step, reply.status, &reply.body, sent, session, &users);
        memory.settle_race();
        if latency.as_secs_f64() * 1000.0 > plan.patience_ms {
            end = SessionEnd::Slow;
            break;
        }
    }
    let cart_cents = memory.cart_cents;
    let lost_cents = match end {
        SessionEnd::Slow | SessionEnd::Error => unbought(&plan, stopped_at),
        SessionEnd::Done | SessionEnd::Cut => 0,
    };
    users.record(|r, at| r.session_ended(at, session, end, cart_cents, lost_cents));
}

/// What a shopper who left at step `stopped_at` meant to buy and did not: the value of the
/// order their plan ends in, if its checkout was still ahead of them (or was the step that
/// failed). A shopper turned away at the catalog page counts as much as one whose cart
/// timed out at checkout, so a shop that is down loses what its visitors came to buy, not
/// only what they had put in a cart. The same traffic gives every design the same plans.
pub fn unbought(plan: &SessionPlan, stopped_at: usize) -> u64 {
    let checkout_ahead = plan
        .steps
        .iter()
        .skip(stopped_at)
        .any(|s| *s == Step::Checkout);
    if !checkout_ahead {
        return 0;
    }
    let mut cart: std::collections::BTreeMap<u32, u64> = std::collections::BTreeMap::new();
    for step in &plan.steps {
        match *step {
            Step::Add { product, quantity } => {
                *cart.entry(product).or_default() += u64::from(quantity);
            }
            Step::Remove(product) => {
                cart.remove(&product);
            }
            Step::Checkout => break,
            _ => {}
        }
    }
    cart.iter()
        .map(|(&product, &n)| n * scalelab_system::memory::demo_price_cents(product))
        .sum()
}

/// Checkout with company: a second click of "buy" (`double_click`), a second tab's request
/// (`second_tab`), or both, sent at the same instant as the checkout, each on a connection of
/// its own. Returns the checkout reply the browser goes on with; what the company was told
/// is taken in first, so that the checkout's bill is judged against every cart the shopper
/// may have had.
async fn checkout_with_company(
    sender: &mut Option<Connection>,
    req: Forwarded,
    (cookie, plan): (Option<&str>, &SessionPlan),
    at: (u64, usize, Instant),
    memory: &mut Memory,
    users: &Users,
) -> Result<Reply, Outcome> {
    let clicks = async {
        if plan.double_click {
            let again = request(Step::Checkout, cookie).1;
            double_click(sender, (req, again), at, users).await
        } else {
            (attempt(sender, req, users).await, None, false)
        }
    };
    let tab = async {
        match plan.second_tab {
            Some(step) => Some((step, second_tab(step, cookie, at, users).await)),
            None => None,
        }
    };
    let ((kept, other, unknown), tab) = tokio::join!(clicks, tab);
    let (session, _, intended) = at;
    match tab {
        Some((Step::Add { product, .. }, result)) => {
            users.record(|r, _| r.tab_adds += 1);
            memory.tab_added(u64::from(product), &result, session, users);
        }
        Some((step, Ok(reply))) => {
            let sent = intended.duration_since(users.start);
            memory.saw(step, reply.status, &reply.body, sent, session, users);
        }
        _ => {}
    }
    if let Some(other) = other {
        memory.acked(&other.body, session, users);
    }
    if unknown && kept.as_ref().is_ok_and(|r| matches!(r.status, 400 | 409)) {
        memory.expected.clear();
    }
    kept
}

/// A second tab's request (`step`), sent with the session's cookie on a connection of its
/// own while checkout runs, and recorded as a request of the checkout's step.
async fn second_tab(
    step: Step,
    cookie: Option<&str>,
    (session, i, intended): (u64, usize, Instant),
    users: &Users,
) -> Result<Reply, Outcome> {
    let (kind, req) = request(step, cookie);
    let result = attempt(&mut None, req, users).await;
    let latency = Instant::now().duration_since(intended);
    let outcome = match &result {
        Ok(reply) => Outcome::Status(reply.status),
        Err(o) => *o,
    };
    users.record(|r, at| r.request(at, session, i, kind, outcome, latency));
    result
}

/// A double click on "buy": the same checkout sent twice at once, the second on a connection
/// of its own (a browser opens one when the first is busy; behind a balancer it may reach
/// another replica). Returns the reply the browser goes on with (the one that placed the
/// order, if one did), the other if the shop said 201 to it too (the caller records it as an
/// acknowledged order: what the browser was told is the evidence), and whether the other's
/// outcome is unknown. The other is recorded as a request here.
async fn double_click(
    sender: &mut Option<Connection>,
    (first, second): (Forwarded, Forwarded),
    (session, step, intended): (u64, usize, Instant),
    users: &Users,
) -> (Result<Reply, Outcome>, Option<Reply>, bool) {
    users.record(|r, _| r.double_clicks += 1);
    let mut own = None;
    let timed = async |sender: &mut Option<Connection>, req| {
        let result = attempt(sender, req, users).await;
        (result, Instant::now())
    };
    let (one, two) = tokio::join!(timed(sender, first), timed(&mut own, second));
    let placed = |r: &Result<Reply, Outcome>| r.as_ref().is_ok_and(|r| r.status == 201);
    let ((kept, _), (other, other_at)) = if !placed(&one.0) && placed(&two.0) {
        (two, one)
    } else {
        (one, two)
    };
    let outcome = match &other {
        Ok(reply) => Outcome::Status(reply.status),
        Err(o) => *o,
    };
    let latency = other_at.duration_since(intended);
    let kind = Kind::of(Some(scalelab_system::api::Endpoint::Checkout));
    users.record(|r, at| r.request(at, session, step, kind, outcome, latency));
    // The other click got no answer, or a 5xx (which may come after its commit): it may have
    // checked the cart out, so a "cart empty" or "already checked out" on this one says
    // nothing about a lost cart.
    let unknown = other.as_ref().map_or(true, |r| r.status >= 500);
    let placed = other.ok().filter(|r| r.status == 201);
    (kept, placed, unknown)
}

/// One try of the liveness probe (see `recovery`): a shopper who logs in as `customer`,
/// puts one unit of the first product in stock into the cart and checks out, on a fresh
/// connection. The order id and its total, or which step failed and how.
pub async fn probe_checkout(app: SocketAddr, customer: u64) -> Result<(u64, u64), String> {
    let mut sender = fresh_connection(app).await?;
    let mut cookie: Option<String> = None;
    let mut call = async |step: Step, cookie: &mut Option<String>| {
        let (kind, req) = request(step, cookie.as_deref());
        let reply = send(&mut sender, req)
            .await
            .map_err(|e| format!("{}: {e}", kind.name()))?;
        if let Some(c) = reply.cookie.clone() {
            *cookie = Some(c);
        }
        Ok::<_, String>(reply)
    };
    let expect = |reply: &Reply, status: u16, what: &str| {
        if reply.status == status {
            Ok(())
        } else {
            Err(format!("{what}: http {}", reply.status))
        }
    };
    let login = call(Step::Login(customer), &mut cookie).await?;
    expect(&login, 200, "login")?;
    // Products with stock left, one after the other: a sold-out product is the shop
    // answering, not failing. A product page shows the stock of the shard that served it,
    // which may not be the customer's, so checkout can still say 409: then the next one.
    for id in 1..=PROBE_PRODUCTS {
        let page = call(Step::View(id), &mut cookie).await?;
        if page.status == 404 {
            // The catalogue ends before PROBE_PRODUCTS (a small shop): nothing more to try.
            break;
        }
        expect(&page, 200, "product page")?;
        if parse::<ProductPage>(&page.body).is_none_or(|p| p.in_stock == 0) {
            continue;
        }
        let add = call(
            Step::Add {
                product: id,
                quantity: 1,
            },
            &mut cookie,
        )
        .await?;
        expect(&add, 200, "add to cart")?;
        let checkout = call(Step::Checkout, &mut cookie).await?;
        if checkout.status == 409 {
            let remove = call(Step::Remove(id), &mut cookie).await?;
            expect(&remove, 200, "remove from cart")?;
            continue;
        }
        expect(&checkout, 201, "checkout")?;
        let receipt = parse::<Receipt>(&checkout.body);
        return Ok(receipt.map_or((0, 0), |r| (r.order_id, r.total_cents)));
    }
    // Every product it looked at is sold out for this customer: the shop answered.
    Ok((0, 0))
}

/// How many products the probe looks at for one in stock.
const PROBE_PRODUCTS: u32 = 20;

/// The admin's sales report, read once on a fresh connection (the liveness phase asks for it
/// after the probe's order, and the checkers compare it with what the databases hold).
pub async fn sales_report(app: SocketAddr) -> Result<SalesReport, String> {
    let mut sender = fresh_connection(app).await?;
    let (_, req) = http_request(&Call::SalesReport, None);
    let reply = send(&mut sender, req)
        .await
        .map_err(|e| format!("sales report: {e}"))?;
    if reply.status != 200 {
        return Err(format!("sales report: http {}", reply.status));
    }
    parse::<SalesReport>(&reply.body).ok_or_else(|| "sales report: not a report".to_owned())
}

/// A new connection to `app`, for the liveness phase's one-off visitors.
async fn fresh_connection(app: SocketAddr) -> Result<Connection, String> {
    Connection::open(app)
        .await
        .map_err(|e| format!("connect: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use scalelab_system::memory::demo_price_cents as price;

    fn plan(steps: Vec<Step>) -> SessionPlan {
        SessionPlan {
            index: 0,
            customer: 1,
            think_ms: vec![0.0; steps.len()],
            steps,
            patience_ms: 1000.0,
            double_click: false,
            second_tab: None,
        }
    }

    #[test]
    fn a_shopper_who_leaves_before_checkout_loses_the_order_their_plan_ends_in() {
        let p = plan(vec![
            Step::Browse,
            Step::View(7),
            Step::Login(1),
            Step::Add {
                product: 7,
                quantity: 2,
            },
            Step::Add {
                product: 9,
                quantity: 1,
            },
            Step::Remove(9),
            Step::Checkout,
            Step::Orders,
        ]);
        // Turned away at the catalog page: the whole order is lost, cart or no cart.
        assert_eq!(unbought(&p, 0), 2 * price(7));
        // The checkout itself failed: still lost.
        assert_eq!(unbought(&p, 6), 2 * price(7));
        // Only the order history failed: the order was placed, nothing lost.
        assert_eq!(unbought(&p, 7), 0);
        // A visit that never meant to buy loses nothing.
        assert_eq!(unbought(&plan(vec![Step::Browse, Step::View(3)]), 0), 0);
    }
}
