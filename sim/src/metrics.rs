//! What a run measures, and its trace hash.
//!
//! Latency is measured from each request's *intended* start (when the user meant to send it),
//! so a slow server cannot hide its queueing (no coordinated omission). Histograms are
//! HdrHistograms; the time series merges neighbouring points when it gets long, so memory stays
//! bounded however long the run. The trace hash is a running xxh3 over the ordered stream of
//! what happened; nothing of the stream is kept.
//!
//! On request (`RunOptions::request_log`), it also keeps a log of the requests themselves
//! ([`RequestLog`], thinned evenly past a size), for the files `scalelab run --out` writes;
//! without it, nothing per request is kept.
//!
//! Must not: influence the run. Recording only observes (the request log feeds no hash).

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use xxhash_rust::xxh3::Xxh3;

use crate::world::host::Kind;

/// How a request ended, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// An HTTP answer with this status.
    Status(u16),
    /// No answer within the SLO timeout.
    Timeout,
    /// The connection could not be made.
    Connect,
    /// The connection broke mid-request.
    Broken,
}

impl Outcome {
    /// The request was answered, and not with a server error. (409 "out of stock" is a real
    /// answer: the shop was up.)
    pub fn is_answer(self) -> bool {
        matches!(self, Outcome::Status(s) if s < 500)
    }

    fn code(self) -> u16 {
        match self {
            Outcome::Status(s) => s,
            Outcome::Timeout => 1,
            Outcome::Connect => 2,
            Outcome::Broken => 3,
        }
    }

    pub fn error_name(self) -> String {
        match self {
            Outcome::Status(s) => format!("http {s}"),
            Outcome::Timeout => "timeout".into(),
            Outcome::Connect => "connect".into(),
            Outcome::Broken => "connection broken".into(),
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// Did everything it planned.
    Done,
    /// Left because a page took longer than its patience.
    Slow,
    /// Left because of an error or timeout.
    Error,
    /// Still going when the run ended.
    Cut,
}

const LATENCY_MAX_US: u64 = 3_600_000_000;

fn histogram() -> Histogram<u64> {
    // 1 us .. 1 h at 3 significant digits; bounds are constants, so this cannot fail.
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("valid histogram bounds")
}

/// Latency summary in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    /// Percentiles from the histogram `h` (to its 3 significant digits); the mean is exact,
    /// `latency_ns` summed over the `requests` in it.
    fn of(h: &Histogram<u64>, latency_ns: u128, requests: u64) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            p50_ms: ms(h.value_at_quantile(0.50)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: mean_ms(latency_ns, requests),
        }
    }
}

/// The mean of `requests` latencies summing to `latency_ns`, in milliseconds (0 for none).
fn mean_ms(latency_ns: u128, requests: u64) -> f64 {
    if requests == 0 {
        0.0
    } else {
        latency_ns as f64 / requests as f64 / 1e6
    }
}

/// One point of the time series.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Point {
    pub t_s: f64,
    pub span_s: f64,
    pub requests: u64,
    pub answered_in_slo: u64,
    pub throughput_rps: f64,
    pub availability: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Mean latency of the window's requests, exact (not from histogram buckets).
    pub mean_ms: f64,
    /// Requests in the system (sent, not yet answered or given up on), averaged over the
    /// window's time: Little's L, so that `in_system` = `requests` / `span_s` x `mean_ms`
    /// when the window is long against the latency.
    pub in_system: f64,
    pub app_cpu: f64,
    pub db_cpu: f64,
    pub orders: u64,
    /// Sessions that arrived in the window (the traffic offered, whatever the shop did).
    pub sessions: u64,
    /// App hosts taking traffic at the end of the window.
    pub replicas: u32,
    /// Confirmation emails the provider accepted in the window.
    pub emails: u64,
    /// Orders published and not yet confirmed by the email workers (queued designs).
    pub queue_lag: u64,
    /// Requests that got no answer, or a server error, in the window.
    pub errors: u64,
    /// Value of the carts left behind in the window because pages were slow or failed.
    pub revenue_lost_cents: u64,
    /// Each database's (shard's) CPU use over the window, 0 to 1.
    pub shard_cpu: Vec<f64>,
}

impl Point {
    /// The `q`-quantile of the window's latency as its shoppers saw it, and whether it is a
    /// failure: a request that failed or was not answered within the SLO counts at the SLO's
    /// timeout, `slo_ms` (the browser gave up there, or got an error page, which is no
    /// faster a sale), so a design that answers nothing does not show the few milliseconds
    /// of its refusals. When more than `1 - q` of the window failed, the quantile is among
    /// the failures: the timeout. Otherwise the window's own quantile stands for it.
    pub fn seen_ms(&self, q: f64, slo_ms: f64) -> (f64, bool) {
        let failed = if self.requests == 0 {
            0.0
        } else {
            1.0 - self.availability
        };
        if failed > 1.0 - q {
            (slo_ms, true)
        } else if q >= 0.99 {
            (self.p99_ms, false)
        } else {
            (self.p50_ms, false)
        }
    }
}

/// A time series that never holds more than `cap` points: when full, neighbours merge and
/// the interval doubles. (Percentiles of a merged point are approximate: p50 is weighted by
/// requests, p99 is the larger of the two.)
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    cap: usize,
    pub points: Vec<Point>,
    /// Points waiting to be merged with the next one after a halving.
    #[serde(skip)]
    pending: Option<Point>,
    #[serde(skip)]
    merge_factor: usize,
    #[serde(skip)]
    merged_in_pending: usize,
}

impl Series {
    pub fn new(cap: usize) -> Series {
        Series {
            cap: cap.max(2),
            points: Vec::new(),
            pending: None,
            merge_factor: 1,
            merged_in_pending: 0,
        }
    }

    pub fn push(&mut self, p: Point) {
        let acc = match self.pending.take() {
            Some(acc) => merge(acc, p),
            None => p,
        };
        self.merged_in_pending += 1;
        if self.merged_in_pending < self.merge_factor {
            self.pending = Some(acc);
            return;
        }
        self.merged_in_pending = 0;
        self.points.push(acc);
        if self.points.len() >= self.cap {
            let old = std::mem::take(&mut self.points);
            let mut it = old.into_iter();
            while let Some(a) = it.next() {
                match it.next() {
                    Some(b) => self.points.push(merge(a, b)),
                    None => self.points.push(a),
                }
            }
            self.merge_factor *= 2;
        }
    }
}

fn merge(a: Point, b: Point) -> Point {
    let requests = a.requests + b.requests;
    let span_s = a.span_s + b.span_s;
    let answered = a.answered_in_slo + b.answered_in_slo;
    let w = |x: f64, y: f64| {
        if requests == 0 {
            (x + y) / 2.0
        } else {
            (x * a.requests as f64 + y * b.requests as f64) / requests as f64
        }
    };
    Point {
        t_s: a.t_s,
        span_s,
        requests,
        answered_in_slo: answered,
        throughput_rps: if span_s > 0.0 {
            answered as f64 / span_s
        } else {
            0.0
        },
        availability: if requests > 0 {
            answered as f64 / requests as f64
        } else {
            1.0
        },
        p50_ms: w(a.p50_ms, b.p50_ms),
        p99_ms: a.p99_ms.max(b.p99_ms),
        // A mean over requests merges exactly by request weights, a mean over time by spans.
        mean_ms: w(a.mean_ms, b.mean_ms),
        in_system: (a.in_system * a.span_s + b.in_system * b.span_s)
            / span_s.max(f64::MIN_POSITIVE),
        app_cpu: (a.app_cpu * a.span_s + b.app_cpu * b.span_s) / span_s.max(f64::MIN_POSITIVE),
        db_cpu: (a.db_cpu * a.span_s + b.db_cpu * b.span_s) / span_s.max(f64::MIN_POSITIVE),
        orders: a.orders + b.orders,
        sessions: a.sessions + b.sessions,
        replicas: b.replicas,
        emails: a.emails + b.emails,
        queue_lag: a.queue_lag.max(b.queue_lag),
        errors: a.errors + b.errors,
        revenue_lost_cents: a.revenue_lost_cents + b.revenue_lost_cents,
        shard_cpu: a
            .shard_cpu
            .iter()
            .zip(&b.shard_cpu)
            .map(|(x, y)| (x * a.span_s + y * b.span_s) / span_s.max(f64::MIN_POSITIVE))
            .collect(),
    }
}

/// What the supervisor measured over one window, besides what the recorder counted itself.
#[derive(Debug, Clone)]
pub struct Window {
    pub t_s: f64,
    pub span_s: f64,
    pub app_cpu: f64,
    pub db_cpu: f64,
    pub replicas: u32,
    pub emails: u64,
    pub queue_lag: u64,
    pub shard_cpu: Vec<f64>,
}

/// One request as the client saw it, kept only in a [`RequestLog`] (40 bytes: a flash sale
/// keeps about half a million per design).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestRecord {
    /// When it ended, in virtual microseconds since the run began.
    pub end_us: u64,
    pub session: u64,
    /// From its intended start to its end, in microseconds (at most an hour, as the
    /// histograms).
    pub latency_us: u32,
    pub step: u32,
    pub kind: Kind,
    pub outcome: Outcome,
    /// Within the SLO timeout and answered (not with a server error): what availability counts.
    pub in_slo: bool,
    /// Sessions going at the moment it ended.
    pub active_sessions: u32,
}

impl RequestRecord {
    /// When it was meant to start (its latency counts from then), in virtual microseconds.
    pub fn start_us(&self) -> u64 {
        self.end_us.saturating_sub(u64::from(self.latency_us))
    }
}

/// The requests of a run, in the order they ended, kept only when asked for. Past `cap`
/// records it keeps every other one and from then on only every `stride`-th request, so
/// what it holds is an even sample of the whole run (between `cap / 2` and `cap` records),
/// chosen without randomness.
#[derive(Debug, Clone)]
pub struct RequestLog {
    cap: usize,
    stride: u64,
    /// Requests offered to the log, kept or not.
    pub seen: u64,
    pub records: Vec<RequestRecord>,
}

impl RequestLog {
    pub fn new(cap: usize) -> RequestLog {
        RequestLog {
            cap: cap.max(2),
            stride: 1,
            seen: 0,
            records: Vec::new(),
        }
    }

    /// Offers one request: kept if it falls on the stride.
    pub fn push(&mut self, record: RequestRecord) {
        let i = self.seen;
        self.seen += 1;
        if !i.is_multiple_of(self.stride) {
            return;
        }
        self.records.push(record);
        if self.records.len() >= self.cap {
            let mut n = 0;
            self.records.retain(|_| {
                n += 1;
                n % 2 == 1
            });
            self.stride *= 2;
        }
    }

    /// Whether every request offered is in the log.
    pub fn complete(&self) -> bool {
        self.stride == 1
    }
}

/// The event log keeps at most this many lines (the newest).
const LOG_CAP: usize = 5000;

/// The session id the liveness probe's order is acknowledged under (no planned session has it).
pub const PROBE_SESSION: u64 = u64::MAX;
/// The customer the liveness probe shops as.
pub const PROBE_CUSTOMER: u64 = 1;

/// An order a browser was told is placed.
#[derive(Debug, Clone, PartialEq)]
pub struct AckedOrder {
    pub at: Duration,
    pub session: u64,
    pub order_id: u64,
    pub customer: u64,
    pub total_cents: u64,
}

/// A browser's observation that the shop forgot its cart.
#[derive(Debug, Clone, PartialEq)]
pub struct CartLoss {
    pub at: Duration,
    pub session: u64,
    pub what: String,
}

/// A browser's observation that its cart, or what it paid, is not what it put in the cart.
#[derive(Debug, Clone, PartialEq)]
pub struct CartWrong {
    pub at: Duration,
    pub session: u64,
    pub what: String,
}

/// What a browser read back in the customer's order history: when it asked (the request's
/// intended start), as whom, and each order listed as (order id, customer, total in cents).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRead {
    pub sent: Duration,
    pub session: u64,
    pub customer: u64,
    pub seen: Vec<(u64, u64, u64)>,
}

/// Per-kind counts and latency.
pub struct KindStats {
    pub requests: u64,
    pub answered_in_slo: u64,
    pub latency: Histogram<u64>,
    /// Every latency summed, in nanoseconds: the exact mean.
    pub latency_ns: u128,
}

/// The requests in the system (sent by a browser, not yet answered or given up on), kept as
/// the area under their count over time, so that Little's L for any stretch of time is the
/// area gained over it divided by its length. Exact to the nanosecond: the area up to `now`
/// is the finished requests' latencies plus, for each request still out, `now` less the
/// instant it was sent.
#[derive(Debug, Default, Clone, Copy)]
struct InSystem {
    out: u64,
    /// The send instants of the requests still out, summed (ns since the run began).
    out_sent_ns: u128,
    /// The latencies of the finished requests, summed (ns).
    finished_ns: u128,
}

impl InSystem {
    fn sent(&mut self, at: Duration, requests: u64) {
        self.out += requests;
        self.out_sent_ns += at.as_nanos() * u128::from(requests);
    }

    fn finished(&mut self, at: Duration, latency: Duration) {
        // Latency counts from the instant the request was sent, so `at - latency` is that
        // instant to the nanosecond, the same number `sent` added.
        self.out = self.out.saturating_sub(1);
        let sent = at.saturating_sub(latency).as_nanos();
        self.out_sent_ns = self.out_sent_ns.saturating_sub(sent);
        self.finished_ns += latency.as_nanos();
    }

    /// Request-nanoseconds spent in the system from the start of the run to `now`.
    fn area_ns(&self, now: Duration) -> u128 {
        (self.finished_ns + now.as_nanos() * u128::from(self.out)).saturating_sub(self.out_sent_ns)
    }
}

/// The run's totals as they stood when the last window closed: for a whole run, the end of
/// the arrival window (the drain that follows has no windows), so figures over the arrival
/// window leave the drain out.
#[derive(Debug, Default, Clone, Copy)]
pub struct AtClose {
    /// Virtual time of the close, since the run began.
    pub at: Duration,
    pub requests_sent: u64,
    pub answered_in_slo: u64,
    /// Request-seconds spent in the system up to `at`.
    pub in_system_s: f64,
}

/// Everything a run records. One per design; shared by that design's clients.
pub struct Recorder {
    slo: Duration,
    hasher: Xxh3,
    events: u64,
    pub requests: u64,
    pub answered_in_slo: u64,
    pub latency: Histogram<u64>,
    pub by_kind: BTreeMap<Kind, KindStats>,
    pub errors: BTreeMap<String, u64>,
    /// Requests browsers sent (each finishes as one of `requests`, or is still out).
    pub requests_sent: u64,
    in_system: InSystem,
    /// The totals at the last window's close.
    pub at_close: AtClose,
    pub sessions_started: u64,
    pub sessions_done: u64,
    pub sessions_slow: u64,
    pub sessions_error: u64,
    pub sessions_cut: u64,
    pub orders: u64,
    pub out_of_stock: u64,
    pub revenue_cents: u64,
    pub revenue_lost_cents: u64,
    pub scale_events: u64,
    /// Orders acknowledged to browsers, in order (evidence for the checkers).
    pub acked: Vec<AckedOrder>,
    /// Carts that browsers saw forgotten.
    pub carts_lost: Vec<CartLoss>,
    /// Carts that showed, or charged for, something the shopper did not put there.
    pub carts_wrong: Vec<CartWrong>,
    /// Checkouts a shopper clicked twice (`funnel.double_click`).
    pub double_clicks: u64,
    /// Products a second tab added to a cart while its checkout ran (`funnel.second_tab`).
    pub tab_adds: u64,
    /// Order histories browsers read back (not in the trace: they are what requests, already
    /// traced, answered).
    pub history_reads: Vec<HistoryRead>,
    /// The latest notable events (faults, scaling, health), for violations' trails.
    pub log: std::collections::VecDeque<(Duration, String)>,
    /// Lines ever added to `log` (it drops its oldest), so a watcher can take just the new.
    pub notes: u64,
    // The current window of the time series.
    window: Histogram<u64>,
    window_requests: u64,
    window_answered: u64,
    window_orders: u64,
    window_sessions: u64,
    window_errors: u64,
    window_lost_cents: u64,
    window_latency_ns: u128,
    /// `in_system`'s area when the previous window closed.
    window_area_from_ns: u128,
    pub series: Series,
    /// Every request (or an even sample), only when the run was asked to keep them.
    pub request_log: Option<RequestLog>,
}

impl Recorder {
    /// A recorder whose time series holds at most `series_cap` points, and which keeps a
    /// log of at most `request_log` requests if asked to.
    pub fn new(slo: Duration, series_cap: usize, request_log: Option<usize>) -> Recorder {
        Recorder {
            slo,
            hasher: Xxh3::new(),
            events: 0,
            requests: 0,
            answered_in_slo: 0,
            latency: histogram(),
            by_kind: BTreeMap::new(),
            errors: BTreeMap::new(),
            requests_sent: 0,
            in_system: InSystem::default(),
            at_close: AtClose::default(),
            sessions_started: 0,
            sessions_done: 0,
            sessions_slow: 0,
            sessions_error: 0,
            sessions_cut: 0,
            orders: 0,
            out_of_stock: 0,
            revenue_cents: 0,
            revenue_lost_cents: 0,
            scale_events: 0,
            acked: Vec::new(),
            carts_lost: Vec::new(),
            carts_wrong: Vec::new(),
            history_reads: Vec::new(),
            double_clicks: 0,
            tab_adds: 0,
            log: std::collections::VecDeque::new(),
            notes: 0,
            window: histogram(),
            window_requests: 0,
            window_answered: 0,
            window_orders: 0,
            window_sessions: 0,
            window_errors: 0,
            window_lost_cents: 0,
            window_latency_ns: 0,
            window_area_from_ns: 0,
            series: Series::new(series_cap),
            request_log: request_log.map(RequestLog::new),
        }
    }

    /// Feeds one event into the trace hash. `at` is virtual time since the run began.
    fn trace(&mut self, at: Duration, tag: u8, fields: &[u64]) {
        self.events += 1;
        self.hasher.update(&[tag]);
        self.hasher.update(&(at.as_nanos() as u64).to_le_bytes());
        for f in fields {
            self.hasher.update(&f.to_le_bytes());
        }
    }

    /// A browser sent `requests` requests at `at` (a double click sends two at once). Not
    /// traced: each is traced when it finishes, with its latency, which says when it was sent.
    pub fn requests_sent(&mut self, at: Duration, requests: u64) {
        self.requests_sent += requests;
        self.in_system.sent(at, requests);
    }

    /// A request finished (or gave up). Its latency counts from when it was sent (see
    /// [`Recorder::requests_sent`]).
    pub fn request(
        &mut self,
        at: Duration,
        session: u64,
        step: usize,
        kind: Kind,
        outcome: Outcome,
        latency: Duration,
    ) {
        let us = (latency.as_micros() as u64).clamp(1, LATENCY_MAX_US);
        let in_slo = outcome.is_answer() && latency <= self.slo;
        self.trace(
            at,
            b'r',
            &[
                session,
                step as u64,
                kind as u64,
                u64::from(outcome.code()),
                latency.as_nanos() as u64,
            ],
        );
        self.requests += 1;
        self.window_requests += 1;
        self.in_system.finished(at, latency);
        self.window_latency_ns += latency.as_nanos();
        self.latency.saturating_record(us);
        self.window.saturating_record(us);
        let stats = self.by_kind.entry(kind).or_insert_with(|| KindStats {
            requests: 0,
            answered_in_slo: 0,
            latency: histogram(),
            latency_ns: 0,
        });
        stats.requests += 1;
        stats.latency_ns += latency.as_nanos();
        stats.latency.saturating_record(us);
        if in_slo {
            self.answered_in_slo += 1;
            self.window_answered += 1;
            stats.answered_in_slo += 1;
        }
        if !outcome.is_answer() {
            *self.errors.entry(outcome.error_name()).or_insert(0) += 1;
            self.window_errors += 1;
        }
        if let Some(log) = self.request_log.as_mut() {
            let ended =
                self.sessions_done + self.sessions_slow + self.sessions_error + self.sessions_cut;
            let active = self.sessions_started.saturating_sub(ended);
            log.push(RequestRecord {
                end_us: at.as_micros() as u64,
                latency_us: us as u32,
                session,
                step: step as u32,
                kind,
                outcome,
                in_slo,
                active_sessions: u32::try_from(active).unwrap_or(u32::MAX),
            });
        }
        if outcome == Outcome::Status(409) {
            self.out_of_stock += 1;
        }
    }

    pub fn session_started(&mut self, at: Duration, session: u64) {
        self.trace(at, b's', &[session]);
        self.sessions_started += 1;
        self.window_sessions += 1;
    }

    /// A session ended; what its shopper meant to buy and could not, because the shop failed
    /// or was too slow, is revenue lost (`lost_cents`, see `browser::unbought`). The trace
    /// holds the cart as the browser last saw it, as it always has.
    pub fn session_ended(
        &mut self,
        at: Duration,
        session: u64,
        end: SessionEnd,
        cart_cents: u64,
        lost_cents: u64,
    ) {
        self.trace(at, b'e', &[session, end as u64, cart_cents]);
        match end {
            SessionEnd::Done => self.sessions_done += 1,
            SessionEnd::Slow => self.sessions_slow += 1,
            SessionEnd::Error => self.sessions_error += 1,
            SessionEnd::Cut => self.sessions_cut += 1,
        }
        self.revenue_lost_cents += lost_cents;
        self.window_lost_cents += lost_cents;
    }

    /// An order was acknowledged (201) to a browser: from now on it must never be lost.
    pub fn order(
        &mut self,
        at: Duration,
        session: u64,
        order_id: u64,
        customer: u64,
        total_cents: u64,
    ) {
        self.trace(at, b'o', &[session, order_id, total_cents]);
        self.acked.push(AckedOrder {
            at,
            session,
            order_id,
            customer,
            total_cents,
        });
        self.orders += 1;
        self.window_orders += 1;
        self.revenue_cents += total_cents;
    }

    /// The liveness probe's try `attempt` ended: with an order (acknowledged, so the
    /// checkers look for it like any other, though the shop's figures do not count it), or
    /// with why not.
    pub fn probe(&mut self, at: Duration, attempt: u32, result: &Result<(u64, u64), String>) {
        match result {
            // Order 0: the shop answered, and every product the probe tried was sold out
            // where its customer's orders go (a scarce-stock world, not a shop that is down).
            Ok((0, _)) => {
                self.trace(at, b'p', &[u64::from(attempt), 0, 0]);
                self.note(
                    at,
                    format!("liveness probe: the shop answered, sold out (try {attempt})"),
                );
            }
            Ok((order_id, total_cents)) => {
                self.trace(at, b'p', &[u64::from(attempt), *order_id, *total_cents]);
                self.acked.push(AckedOrder {
                    at,
                    session: PROBE_SESSION,
                    order_id: *order_id,
                    customer: PROBE_CUSTOMER,
                    total_cents: *total_cents,
                });
                self.note(
                    at,
                    format!("liveness probe: order {order_id} placed (try {attempt})"),
                );
            }
            Err(why) => {
                let h = xxhash_rust::xxh3::xxh3_64(why.as_bytes());
                self.trace(at, b'P', &[u64::from(attempt), h]);
                self.note(at, format!("liveness probe: try {attempt} failed: {why}"));
            }
        }
    }

    /// A browser saw its cart (or whole session) forgotten between two successful requests.
    pub fn cart_lost(&mut self, at: Duration, session: u64, what: String) {
        self.trace(at, b'c', &[session]);
        self.carts_lost.push(CartLoss { at, session, what });
    }

    /// A browser saw its cart, or its bill, differ from what it put in the cart.
    pub fn cart_wrong(&mut self, at: Duration, session: u64, what: String) {
        self.trace(at, b'w', &[session]);
        self.carts_wrong.push(CartWrong { at, session, what });
    }

    /// A browser read its customer's order history.
    pub fn history_read(&mut self, read: HistoryRead) {
        self.history_reads.push(read);
    }

    /// A fault was applied or healed (or found not to apply) in this design. `detail` goes
    /// to the event log only, not into the hash (see `Applied::detail`).
    pub fn fault(&mut self, at: Duration, what: &str, effect: &str, detail: &str) {
        let h = xxhash_rust::xxh3::xxh3_64(format!("{what}|{effect}").as_bytes());
        self.trace(at, b'f', &[h]);
        if detail.is_empty() {
            self.note(at, format!("{what}: {effect}"));
        } else {
            self.note(at, format!("{what}: {effect}; {detail}"));
        }
    }

    /// Adds a line to the event log that violations quote as their trail.
    pub fn note(&mut self, at: Duration, text: String) {
        if self.log.len() == LOG_CAP {
            self.log.pop_front();
        }
        self.log.push_back((at, text));
        self.notes += 1;
    }

    /// The autoscaler changed the number of replicas (utilization in thousandths).
    pub fn scaled(&mut self, at: Duration, from: u32, to: u32, utilization_milli: u64) {
        self.trace(
            at,
            b'a',
            &[u64::from(from), u64::from(to), utilization_milli],
        );
        self.scale_events += 1;
        self.note(
            at,
            format!(
                "autoscaler: {from} -> {to} replicas (CPU {:.0}%)",
                utilization_milli as f64 / 10.0
            ),
        );
    }

    /// The load balancer took a replica out of rotation (`up == false`) or back in.
    pub fn replica_health(&mut self, at: Duration, replica: u64, up: bool) {
        self.trace(at, b'h', &[replica, u64::from(up)]);
        let ip = std::net::Ipv4Addr::from(replica as u32);
        self.note(
            at,
            format!(
                "load balancer: replica {ip} {}",
                if up {
                    "back in rotation"
                } else {
                    "out of rotation"
                }
            ),
        );
    }

    /// Closes the current window of the time series with what the supervisor measured;
    /// returns the window's point (the series may merge it with its neighbours).
    pub fn close_window(&mut self, w: Window) -> Point {
        let lat = Latency::of(&self.window, self.window_latency_ns, self.window_requests);
        let at = Duration::from_secs_f64(w.t_s + w.span_s);
        let area = self.in_system.area_ns(at);
        let window_area_ns = area.saturating_sub(self.window_area_from_ns);
        self.window_area_from_ns = area;
        self.at_close = AtClose {
            at,
            requests_sent: self.requests_sent,
            answered_in_slo: self.answered_in_slo,
            in_system_s: area as f64 / 1e9,
        };
        let point = Point {
            t_s: w.t_s,
            span_s: w.span_s,
            requests: self.window_requests,
            answered_in_slo: self.window_answered,
            throughput_rps: self.window_answered as f64 / w.span_s,
            availability: if self.window_requests > 0 {
                self.window_answered as f64 / self.window_requests as f64
            } else {
                1.0
            },
            p50_ms: lat.p50_ms,
            p99_ms: lat.p99_ms,
            mean_ms: lat.mean_ms,
            in_system: window_area_ns as f64 / 1e9 / w.span_s.max(f64::MIN_POSITIVE),
            app_cpu: w.app_cpu,
            db_cpu: w.db_cpu,
            orders: self.window_orders,
            sessions: self.window_sessions,
            replicas: w.replicas,
            emails: w.emails,
            queue_lag: w.queue_lag,
            errors: self.window_errors,
            revenue_lost_cents: self.window_lost_cents,
            shard_cpu: w.shard_cpu,
        };
        self.series.push(point.clone());
        self.window.reset();
        self.window_requests = 0;
        self.window_answered = 0;
        self.window_orders = 0;
        self.window_sessions = 0;
        self.window_errors = 0;
        self.window_lost_cents = 0;
        self.window_latency_ns = 0;
        point
    }

    /// Share of requests answered within the SLO so far (1 before the first request).
    pub fn availability(&self) -> f64 {
        if self.requests > 0 {
            self.answered_in_slo as f64 / self.requests as f64
        } else {
            1.0
        }
    }

    /// The exact mean latency of every finished request, in ms, without the percentiles.
    pub fn mean_latency_ms(&self) -> f64 {
        mean_ms(self.in_system.finished_ns, self.requests)
    }

    pub fn latency_summary(&self) -> Latency {
        Latency::of(&self.latency, self.in_system.finished_ns, self.requests)
    }

    pub fn kind_latency(stats: &KindStats) -> Latency {
        Latency::of(&stats.latency, stats.latency_ns, stats.requests)
    }

    /// Requests still out (sent and not finished): 0 once a run has drained.
    pub fn requests_out(&self) -> u64 {
        self.in_system.out
    }

    /// The trace hash so far, and how many events went into it.
    pub fn trace_hash(&self) -> (u64, u64) {
        (self.hasher.digest(), self.events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_that_answered_nothing_is_seen_at_the_timeout_not_at_its_refusals() {
        let w = |availability: f64| Point {
            requests: 1000,
            availability,
            p50_ms: 3.0,
            p99_ms: 4.0,
            ..Point::default()
        };
        // Everything refused in 3 ms: shoppers saw error pages, counted at the timeout.
        assert_eq!(w(0.0).seen_ms(0.5, 2000.0), (2000.0, true));
        assert_eq!(w(0.0).seen_ms(0.99, 2000.0), (2000.0, true));
        // 40% failed: the median is still an answered request; the p99 is a failure.
        assert_eq!(w(0.6).seen_ms(0.5, 2000.0), (3.0, false));
        assert_eq!(w(0.6).seen_ms(0.99, 2000.0), (2000.0, true));
        // Under 1% failed: the window's own p99.
        assert_eq!(w(0.995).seen_ms(0.99, 2000.0), (4.0, false));
        // A window with no requests has nothing failed.
        let empty = Point::default();
        assert_eq!(empty.seen_ms(0.99, 2000.0), (0.0, false));
    }

    fn record(i: u64) -> RequestRecord {
        RequestRecord {
            end_us: i * 1000,
            session: i,
            latency_us: 500,
            step: 0,
            kind: Kind::Browse,
            outcome: Outcome::Status(200),
            in_slo: true,
            active_sessions: 1,
        }
    }

    #[test]
    fn the_request_log_keeps_everything_up_to_its_size_then_an_even_sample() {
        let mut all = RequestLog::new(100);
        for i in 0..99 {
            all.push(record(i));
        }
        assert!(all.complete());
        assert_eq!(all.records.len(), 99);
        assert_eq!(
            all.records[0].start_us(),
            0,
            "a start before the run is the run's start"
        );

        let mut log = RequestLog::new(100);
        for i in 0..10_000 {
            log.push(record(i));
        }
        assert!(!log.complete());
        assert_eq!(log.seen, 10_000);
        let kept: Vec<u64> = log.records.iter().map(|r| r.session).collect();
        assert!((50..100).contains(&kept.len()), "{}", kept.len());
        // Every stride-th request from the first, so the sample spans the whole run.
        let stride = kept[1] - kept[0];
        assert!(stride.is_power_of_two() && stride > 1, "{stride}");
        assert!(kept
            .iter()
            .enumerate()
            .all(|(i, &s)| s == i as u64 * stride));
        assert!(*kept.last().unwrap_or(&0) >= 10_000 - stride);
    }

    #[test]
    fn a_window_counts_its_errors_and_lost_revenue_and_merging_adds_them() {
        let mut r = Recorder::new(Duration::from_secs(2), 600, None);
        let ms = Duration::from_millis;
        r.request(ms(10), 1, 0, Kind::Browse, Outcome::Status(200), ms(5));
        r.request(ms(20), 2, 0, Kind::Cart, Outcome::Status(503), ms(5));
        r.request(ms(30), 3, 0, Kind::Cart, Outcome::Timeout, ms(2000));
        r.session_ended(ms(40), 3, SessionEnd::Error, 1234, 1234);
        assert!(r.request_log.is_none(), "nothing per request unless asked");
        let w = |t_s: f64, shard_cpu: Vec<f64>| Window {
            t_s,
            span_s: 1.0,
            app_cpu: 0.0,
            db_cpu: 0.0,
            replicas: 1,
            emails: 0,
            queue_lag: 0,
            shard_cpu,
        };
        let a = r.close_window(w(0.0, vec![0.2, 0.4]));
        assert_eq!((a.errors, a.revenue_lost_cents), (2, 1234));
        let b = r.close_window(w(1.0, vec![0.4, 0.0]));
        assert_eq!((b.errors, b.revenue_lost_cents), (0, 0));
        let m = merge(a, b);
        assert_eq!((m.errors, m.revenue_lost_cents), (2, 1234));
        assert_eq!(m.shard_cpu.len(), 2);
        assert!((m.shard_cpu[0] - 0.3).abs() < 1e-12 && (m.shard_cpu[1] - 0.2).abs() < 1e-12);
    }
}
