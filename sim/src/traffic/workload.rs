//! The workload generator: when sessions arrive, who shops, and what each session does.
//!
//! Everything here is a pure function of the run's seed. Each purpose has its own ChaCha
//! stream (arrivals, customers, funnel), and every session draws from its own sub-stream
//! (`set_stream(session index)`), so adding a draw to one session or one purpose never shifts
//! another. Must not: touch the simulator, the clock, or any other source of randomness.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::draw::{unit_exponential, Zipf};
use crate::scenario::{Funnel, Workload};
use crate::seed::{stream, Purpose};
use scalelab_system::model::{CustomerId, ProductId};

/// Arrival rate over time, linear between points and flat before the first and after the last.
#[derive(Debug, Clone)]
pub struct RateCurve {
    points: Vec<(f64, f64)>,
}

impl RateCurve {
    /// `points` are (seconds, sessions per second), in time order.
    pub fn new(points: Vec<(f64, f64)>) -> RateCurve {
        RateCurve { points }
    }

    pub fn from_workload(w: &Workload) -> RateCurve {
        RateCurve::new(
            w.curve
                .iter()
                .map(|p| (p.at_s.get_ref().0, p.sessions_per_s.0))
                .collect(),
        )
    }

    pub fn rate_at(&self, t: f64) -> f64 {
        let Some(&(t0, r0)) = self.points.first() else {
            return 0.0;
        };
        if t <= t0 {
            return r0;
        }
        for pair in self.points.windows(2) {
            let ((a, ra), (b, rb)) = (pair[0], pair[1]);
            if t <= b {
                return ra + (rb - ra) * (t - a) / (b - a);
            }
        }
        self.points.last().map_or(0.0, |p| p.1)
    }

    pub fn max_rate(&self) -> f64 {
        self.points.iter().map(|p| p.1).fold(0.0, f64::max)
    }

    /// Expected number of arrivals in [0, until): the integral of the rate.
    pub fn expected_arrivals(&self, until: f64) -> f64 {
        // Fine-grained trapezoids: exact for the piecewise-linear curve up to the grid.
        let steps = 10_000;
        let dt = until / steps as f64;
        (0..steps)
            .map(|i| {
                let t = i as f64 * dt;
                (self.rate_at(t) + self.rate_at(t + dt)) / 2.0 * dt
            })
            .sum()
    }
}

/// Open-model arrival times (seconds) of a non-homogeneous Poisson process, by thinning:
/// candidates come at the curve's peak rate and each is kept with probability rate(t)/peak.
pub struct Arrivals {
    curve: RateCurve,
    peak: f64,
    until: f64,
    t: f64,
    rng: ChaCha8Rng,
}

impl Arrivals {
    pub fn new(curve: RateCurve, until: f64, rng: ChaCha8Rng) -> Arrivals {
        let peak = curve.max_rate();
        Arrivals {
            curve,
            peak,
            until,
            t: 0.0,
            rng,
        }
    }
}

impl Iterator for Arrivals {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        if self.peak <= 0.0 {
            return None;
        }
        loop {
            // Thinning: candidate instants at the peak rate, each kept with probability
            // rate(t) / peak.
            self.t += unit_exponential(&mut self.rng) / self.peak;
            if self.t >= self.until {
                return None;
            }
            let keep: f64 = self.rng.gen();
            if keep * self.peak < self.curve.rate_at(self.t) {
                return Some(self.t);
            }
        }
    }
}

/// One request a session makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Browse,
    View(ProductId),
    Login(CustomerId),
    Add { product: ProductId, quantity: u32 },
    Remove(ProductId),
    Checkout,
    Orders,
}

/// A whole session, drawn before it starts: the steps it will take if nothing goes wrong, the
/// pause before each step after the first, and how long this user waits for a page.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPlan {
    pub index: u64,
    pub customer: CustomerId,
    pub steps: Vec<Step>,
    pub think_ms: Vec<f64>,
    pub patience_ms: f64,
    /// This shopper clicks "buy" twice: its checkout is sent twice at once.
    pub double_click: bool,
    /// What this shopper's second tab sends while checkout runs, if they have one open: an
    /// `Add` or `Orders` step (`funnel.second_tab`).
    pub second_tab: Option<Step>,
}

/// Draws session plans. Cheap to share: every plan seeds its own sub-streams.
pub struct Planner {
    seed: u64,
    funnel: Funnel,
    think_mean_ms: f64,
    patience_mean_ms: f64,
    customers: Zipf,
    products: Zipf,
}

impl Planner {
    pub fn new(seed: u64, w: &Workload) -> Planner {
        Planner {
            seed,
            funnel: w.funnel.clone(),
            think_mean_ms: w.think_time_ms_mean.0,
            patience_mean_ms: w.patience_ms_mean.0,
            customers: Zipf::new(u64::from(w.customers.get()), w.customer_skew.0),
            products: Zipf::new(u64::from(w.products.get()), w.product_skew.0),
        }
    }

    /// The plan of session number `index` (0, 1, 2, ... in arrival order).
    pub fn plan(&self, index: u64) -> SessionPlan {
        let mut who = stream(self.seed, Purpose::Customers);
        who.set_stream(index);
        let customer = self.customers.sample(&mut who) as CustomerId;

        let mut rng = stream(self.seed, Purpose::Funnel);
        rng.set_stream(index);
        let f = &self.funnel;
        let mut steps = vec![Step::Browse];
        // Geometric number of product views with the configured mean.
        let p_more = f.product_views_mean.0 / (1.0 + f.product_views_mean.0);
        let mut last_viewed = None;
        while rng.gen_bool(p_more) && steps.len() < 50 {
            let p = self.products.sample(&mut rng) as ProductId;
            steps.push(Step::View(p));
            last_viewed = Some(p);
        }
        if let Some(first) = last_viewed.filter(|_| rng.gen_bool(f.add_to_cart.0)) {
            steps.push(Step::Login(customer));
            steps.push(Step::Add {
                product: first,
                quantity: rng.gen_range(1..=3),
            });
            let mut in_cart = vec![first];
            if rng.gen_bool(f.second_item.0) {
                let second = self.products.sample(&mut rng) as ProductId;
                steps.push(Step::View(second));
                steps.push(Step::Add {
                    product: second,
                    quantity: 1,
                });
                if second != first {
                    in_cart.push(second);
                }
            }
            if in_cart.len() > 1 && rng.gen_bool(f.remove_item.0) {
                steps.push(Step::Remove(in_cart[1]));
            }
            if rng.gen_bool(f.checkout.0) {
                steps.push(Step::Checkout);
                if rng.gen_bool(f.view_orders.0) {
                    steps.push(Step::Orders);
                }
            }
        }
        let think_ms = (0..steps.len())
            .map(|_| unit_exponential(&mut rng) * self.think_mean_ms)
            .collect();
        // Patience: exponential around the mean, but nobody gives up in under 300 ms.
        let patience_ms = 300.0 + unit_exponential(&mut rng) * self.patience_mean_ms;
        // From a stream of its own, and only when it can matter, so that every other draw
        // (and the hash of a scenario without double clicks) stays where it was.
        let double_click = f.double_click.0 > 0.0 && steps.contains(&Step::Checkout) && {
            let mut clicks = stream(self.seed, Purpose::DoubleClick);
            clicks.set_stream(index);
            clicks.gen_bool(f.double_click.0)
        };
        let second_tab = self.second_tab(index, &steps);
        SessionPlan {
            index,
            customer,
            steps,
            think_ms,
            patience_ms,
            double_click,
            second_tab,
        }
    }

    /// What the second tab of session `index` does while its checkout runs, if it has one:
    /// adds one unit of a product drawn like any other, or reads the order history. From a
    /// stream of its own, and only when it can matter, as `double_click`.
    fn second_tab(&self, index: u64, steps: &[Step]) -> Option<Step> {
        let chance = self.funnel.second_tab.0;
        if chance <= 0.0 || !steps.contains(&Step::Checkout) {
            return None;
        }
        let mut rng = stream(self.seed, Purpose::SecondTab);
        rng.set_stream(index);
        if !rng.gen_bool(chance) {
            return None;
        }
        Some(if rng.gen_bool(0.5) {
            Step::Add {
                product: self.products.sample(&mut rng) as ProductId,
                quantity: 1,
            }
        } else {
            Step::Orders
        })
    }

    /// A closed-model user's pause before its first session, so that users do not all start
    /// at the same instant.
    pub fn start_offset_ms(&self, user: u64) -> f64 {
        let mut rng = stream(self.seed, Purpose::Arrivals);
        rng.set_stream(user);
        unit_exponential(&mut rng) * self.think_mean_ms
    }
}

/// About how many requests one design's run of `scn` simulates, at most: the arrivals the
/// curve promises times the mean length of a session (over 1,000 plans drawn on seed 0); for
/// a closed workload, each user's requests over the run, one per think time plus the
/// quickest answer there can be (a round trip at the shortest hop and the cheapest page's
/// CPU: a user who does not think still waits for that). For telling a user before a long
/// run starts; no run reads it.
pub fn expected_requests(scn: &crate::scenario::Scenario) -> f64 {
    let w = scn.workload();
    let planner = Planner::new(0, w);
    const SAMPLE: u64 = 1000;
    let steps: usize = (0..SAMPLE).map(|i| planner.plan(i).steps.len()).sum();
    let per_session = steps as f64 / SAMPLE as f64;
    match w.users {
        Some(users) if w.model == crate::scenario::Model::Closed => {
            let a = &scn.app;
            let cheapest_cpu_ms = [
                a.browse_cpu_ms,
                a.product_cpu_ms,
                a.login_cpu_ms,
                a.cart_cpu_ms,
                a.checkout_cpu_ms,
                a.orders_cpu_ms,
            ]
            .iter()
            .map(|c| c.0)
            .fold(f64::INFINITY, f64::min);
            let round_trip_ms = 2.0 * scn.network.latency_ms_min.get_ref().0;
            let cycle_ms = w.think_time_ms_mean.0 + round_trip_ms + cheapest_cpu_ms;
            f64::from(users.get()) * scn.duration_s() * 1000.0 / cycle_ms.max(1e-6)
        }
        _ => RateCurve::from_workload(w).expected_arrivals(scn.duration_s()) * per_session,
    }
}

/// Which shoppers a hot-shard or hot-product fault redirects; the fault injector sets it, the
/// load generator reads it for each new session.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Skew {
    /// (shard, share of new shoppers who are that shard's customers)
    pub hot_shard: Option<(u32, f64)>,
    /// (product, share of product views and cart adds that go to it)
    pub hot_product: Option<(u32, f64)>,
}

/// Redirects a session's plan as a hot-shard or hot-product fault says (see [`Skew`]).
/// Whether this session is redirected is drawn from its own sub-stream of the seed, so the
/// same sessions are redirected in every design and every replay.
pub fn skew_plan(
    plan: &mut SessionPlan,
    seed: u64,
    hot_shard: Option<(u32, f64)>,
    hot_product: Option<(u32, f64)>,
    map: &scalelab_system::shard::ShardMap,
    customers: u32,
) {
    let mut rng = stream(seed, Purpose::Skew);
    rng.set_stream(plan.index);
    let (u_shard, u_product): (f64, f64) = (rng.gen(), rng.gen());
    if let Some((shard, _)) = hot_shard.filter(|&(_, share)| u_shard < share) {
        // The next customer id (wrapping) who lives on the hot shard.
        let n = u64::from(customers.max(1));
        let hot = (0..n.min(100_000))
            .map(|k| (plan.customer - 1 + k) % n + 1)
            .find(|&c| map.shard_for(c) == shard);
        if let Some(c) = hot {
            plan.customer = c;
            for step in &mut plan.steps {
                if let Step::Login(who) = step {
                    *who = c;
                }
            }
        }
    }
    if let Some((product, _)) = hot_product.filter(|&(_, share)| u_product < share) {
        for step in plan.steps.iter_mut().chain(plan.second_tab.as_mut()) {
            match step {
                Step::View(p) | Step::Remove(p) | Step::Add { product: p, .. } => *p = product,
                _ => {}
            }
        }
    }
}
