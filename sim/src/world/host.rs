//! Simulated hosts: CPU cores that requests wait for and use, with the Universal Scalability
//! Law bending what each added core gives. Also the middleware that charges the storefront's
//! requests to the app host.
//!
//! Real code runs in zero virtual time; this is where the world charges for it. Must not:
//! contain storefront logic (it only classifies requests to price them).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use scalelab_system::api::Endpoint;
use tokio::time::Instant;

use crate::scenario::{AppCosts, Host, Service};

/// A host's cores.
///
/// Work is served first come, first served by the core that frees up first. When `n` cores
/// are busy, each core's work takes `work * (1 + contention*(n-1) + coherency*n*(n-1))`. At
/// full load a host of `c` cores thus does `c / (1 + a(c-1) + b c(c-1))` cores' worth of work:
/// the Universal Scalability Law. Linear when `a = b = 0`; with `b > 0` there is a peak beyond
/// which more cores make the host *slower*.
///
/// Cores are booked in virtual time (each core knows when it is next free) rather than by a
/// semaphore and a sleep per piece of work: one booking and one exact wake-up per piece (the
/// vendored madsim's `sleep_until_exact`, which does not round a sub-millisecond query up to
/// 1 ms as an application's sleep is).
pub struct Cpu {
    cores: u32,
    contention: f64,
    coherency: f64,
    max_waiting: u32,
    state: Mutex<Cores>,
    /// A `slow` fault's factor as f64 bits (1.0 when healthy): every piece of work takes
    /// this much longer.
    slowdown: std::sync::atomic::AtomicU64,
}

struct Cores {
    /// When each core finishes the work booked on it so far.
    free_at: Vec<Instant>,
    /// (finish, core-ns) of every piece of work booked and not yet finished. Work holds its
    /// place until its booked finish even if its caller is dropped (the front door drops a handler
    /// when its client gives up): a real server cannot know, and picks the request up anyway.
    /// Counting from the bookings, rather than with a counter the caller decrements, also
    /// keeps the accounts right whatever the caller does.
    booked: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Core-nanoseconds of work finished.
    busy_ns: u64,
    /// The queue's own account, for holding it against queueing theory.
    station: Station,
    /// Up to when `station.area_ns` has been integrated.
    integrated_to: Option<Instant>,
}

/// A host's queue as queueing theory sees it, summed since the host started: what arrived,
/// how long each piece of work waited for a core and stayed in all, and the number in the
/// station integrated over time. Taken at booking, where each piece's wait and finish are
/// known exactly (its caller's wake-up may be later, and a caller that gives up does not
/// shorten the work), in integer nanoseconds so that sums are exact and the same on every
/// machine. `scalelab validate` reads differences of two of these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Station {
    /// Pieces of work booked (each request of a kind that costs CPU is one).
    pub arrivals: u64,
    /// Pieces refused because too many were waiting (a 503).
    pub refused: u64,
    /// Sum of the time from arrival until a core took the work.
    pub wait_ns: u128,
    /// Sum of the time from arrival until the work finished (wait + service).
    pub sojourn_ns: u128,
    /// Sum of the service times (with the USL's and a slow fault's stretch).
    pub service_ns: u128,
    /// The integral over time of the number of pieces in the station (waiting or in
    /// service), in nanoseconds: over a span, divided by the span, the mean number L.
    pub area_ns: u128,
}

impl Cores {
    /// Moves work that has finished by `now` out of the bookings and into `busy_ns`, and
    /// integrates the number in the station up to `now` (it changes only at bookings and at
    /// finishes, which are taken here in time order).
    fn settle(&mut self, now: Instant) {
        let mut from = self.integrated_to.unwrap_or(now);
        while let Some(&Reverse((finish, ns))) = self.booked.peek() {
            if finish > now {
                break;
            }
            self.busy_ns += ns;
            let at = finish.max(from);
            self.station.area_ns += self.booked.len() as u128 * (at - from).as_nanos();
            from = at;
            self.booked.pop();
        }
        let at = now.max(from);
        self.station.area_ns += self.booked.len() as u128 * (at - from).as_nanos();
        self.integrated_to = Some(at);
    }
}

/// Work was refused: too many already waiting for a core.
#[derive(Debug)]
pub struct Overloaded;

impl Cpu {
    pub fn new(host: &Host, max_waiting: u32) -> Cpu {
        Cpu {
            cores: host.cores.get(),
            contention: host.contention.0,
            coherency: host.coherency.0,
            max_waiting,
            state: Mutex::new(Cores {
                free_at: Vec::new(),
                booked: BinaryHeap::new(),
                busy_ns: 0,
                station: Station::default(),
                integrated_to: None,
            }),
            slowdown: std::sync::atomic::AtomicU64::new(1.0f64.to_bits()),
        }
    }

    /// Makes every later piece of work take `factor` times as long (1.0 restores the host).
    pub fn set_slowdown(&self, factor: f64) {
        self.slowdown
            .store(factor.to_bits(), std::sync::atomic::Ordering::Relaxed);
    }

    fn slowdown(&self) -> f64 {
        f64::from_bits(self.slowdown.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// The slow-down of each core's work when `n` cores are busy.
    pub fn usl_factor(&self, n: u32) -> f64 {
        let n = f64::from(n.max(1));
        1.0 + self.contention * (n - 1.0) + self.coherency * n * (n - 1.0)
    }

    /// Cores' worth of work the host does at full load.
    pub fn capacity(&self) -> f64 {
        f64::from(self.cores) / self.usl_factor(self.cores)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cores> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `work` (time on one idle core) on this host; returns when it is done.
    pub async fn run(&self, work: Duration) -> Result<(), Overloaded> {
        if work.is_zero() {
            return Ok(());
        }
        let now = Instant::now();
        let finish = {
            let mut st = self.lock();
            st.settle(now);
            if st.free_at.is_empty() {
                st.free_at = vec![now; self.cores as usize];
            }
            let busy_now = st.free_at.iter().filter(|&&f| f > now).count();
            if st.booked.len().saturating_sub(busy_now) >= self.max_waiting as usize {
                st.station.refused += 1;
                return Err(Overloaded);
            }
            // The core that frees up first; ties go to the lowest index (deterministic).
            let (core, &free) = st
                .free_at
                .iter()
                .enumerate()
                .min_by_key(|(_, &f)| f)
                .expect("a host has at least one core");
            let start = free.max(now);
            let busy_at_start = st.free_at.iter().filter(|&&f| f > start).count() as u32 + 1;
            let took = work.mul_f64(self.usl_factor(busy_at_start) * self.slowdown());
            st.free_at[core] = start + took;
            st.booked
                .push(Reverse((start + took, took.as_nanos() as u64)));
            let station = &mut st.station;
            station.arrivals += 1;
            station.wait_ns += (start - now).as_nanos();
            station.sojourn_ns += (start + took - now).as_nanos();
            station.service_ns += took.as_nanos();
            start + took
        };
        madsim::time::sleep_until_exact(finish).await;
        Ok(())
    }

    pub fn cores(&self) -> u32 {
        self.cores
    }

    /// The queue's account so far (see [`Station`]).
    pub fn station(&self) -> Station {
        let mut st = self.lock();
        st.settle(Instant::now());
        st.station
    }

    /// Core-nanoseconds of work finished so far (for utilization over an interval).
    pub fn busy_ns(&self) -> u64 {
        let mut st = self.lock();
        st.settle(Instant::now());
        st.busy_ns
    }

    /// The share of all cores busy over the last `span`, given the `busy_ns` seen at its
    /// start (`seen`, which this moves to now): 0 to 1.
    pub fn utilization(&self, seen: &mut u64, span: Duration) -> f64 {
        let busy = self.busy_ns();
        let used = (busy - *seen) as f64 / (span.as_nanos() as f64 * f64::from(self.cores));
        *seen = busy;
        used.min(1.0)
    }
}

/// The kinds of storefront request, as the cost model and the metrics see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Browse,
    Product,
    Login,
    Cart,
    Checkout,
    Orders,
    Other,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Browse,
        Kind::Product,
        Kind::Login,
        Kind::Cart,
        Kind::Checkout,
        Kind::Orders,
        Kind::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Browse => "browse",
            Kind::Product => "product",
            Kind::Login => "login",
            Kind::Cart => "cart",
            Kind::Checkout => "checkout",
            Kind::Orders => "orders",
            Kind::Other => "other",
        }
    }

    /// The kind of a request to `endpoint`; a request no route takes (`None`) is `Other`.
    pub fn of(endpoint: Option<Endpoint>) -> Kind {
        match endpoint {
            Some(Endpoint::ListProducts) => Kind::Browse,
            Some(Endpoint::ProductPage) => Kind::Product,
            Some(Endpoint::Login) => Kind::Login,
            Some(Endpoint::ShowCart | Endpoint::AddToCart | Endpoint::RemoveFromCart) => Kind::Cart,
            Some(Endpoint::Checkout) => Kind::Checkout,
            Some(Endpoint::OrderHistory) => Kind::Orders,
            Some(Endpoint::Health | Endpoint::SalesReport) | None => Kind::Other,
        }
    }

    pub fn cpu(self, costs: &AppCosts) -> Duration {
        let ms = match self {
            Kind::Browse => costs.browse_cpu_ms.0,
            Kind::Product => costs.product_cpu_ms.0,
            Kind::Login => costs.login_cpu_ms.0,
            Kind::Cart => costs.cart_cpu_ms.0,
            Kind::Checkout => costs.checkout_cpu_ms.0,
            Kind::Orders => costs.orders_cpu_ms.0,
            Kind::Other => 0.0,
        };
        Duration::from_secs_f64(ms / 1000.0)
    }

    /// How this kind's CPU time varies around [`Kind::cpu`]: its own setting, else `[app]`'s
    /// `service`, else `fixed`.
    pub fn service(self, costs: &AppCosts) -> Service {
        let own = match self {
            Kind::Browse => costs.browse_service,
            Kind::Product => costs.product_service,
            Kind::Login => costs.login_service,
            Kind::Cart => costs.cart_service,
            Kind::Checkout => costs.checkout_service,
            Kind::Orders => costs.orders_service,
            Kind::Other => None,
        };
        Service::pick(&[own, costs.service], Service::Fixed)
    }

    /// One request's CPU time: a draw from madsim's seeded randomness, as all the simulated
    /// world's, unless the kind's distribution is `fixed` (which draws nothing).
    pub fn draw_cpu(self, costs: &AppCosts) -> Duration {
        let mean = self.cpu(costs);
        match self.service(costs) {
            Service::Fixed => mean,
            dist => dist.draw(mean, &mut madsim::rand::thread_rng()),
        }
    }
}

/// What the cost middleware needs.
pub struct Charge {
    pub cpu: Arc<Cpu>,
    pub costs: AppCosts,
}

/// Axum middleware: charge a request's CPU time to the host before the handler runs.
pub async fn charge(State(charge): State<Arc<Charge>>, req: Request<Body>, next: Next) -> Response {
    let endpoint = Endpoint::of(req.method(), req.uri().path());
    let work = Kind::of(endpoint).draw_cpu(&charge.costs);
    match charge.cpu.run(work).await {
        Ok(()) => next.run(req).await,
        Err(Overloaded) => (StatusCode::SERVICE_UNAVAILABLE, "server busy").into_response(),
    }
}
