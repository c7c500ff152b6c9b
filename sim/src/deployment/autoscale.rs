//! The autoscaler's decisions, as the Kubernetes Horizontal Pod Autoscaler makes them.
//!
//! Every sync period the controller measures the replicas' mean CPU utilization and computes
//!
//! ```text
//! desired = ceil(current * utilization / target)
//! ```
//!
//! It leaves the count alone while `utilization / target` is within the tolerance of 1 (10%
//! by default), so that noise does not make it flap; clamps to [min, max]; and stabilizes: a
//! scale-down uses the *highest* recommendation of the last `scale_down_window` (Kubernetes'
//! default is 300 s), a scale-up the *lowest* of the last `scale_up_window` (default 0 s). A new
//! replica takes traffic only after its start-up delay; that part is the design's, not this
//! module's.
//!
//! The decisions ([`recommend`], [`Autoscaler`]) are pure functions of their inputs, so they
//! can be tested exactly; [`control_loop`] is the controller that runs them in a deployment:
//! it measures the replicas, records each decision, starts replicas (which take traffic after
//! the start-up delay) and retires them (out of rotation at once, stopped once in-flight work
//! is done).
//!
//! Must not: measure anything for the run's report (that is `Deployment::sample`'s), or
//! decide anything the HPA does not.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::runtime::{Handle, NodeHandle};
use tokio::time::Instant;

use crate::deployment::design::Wiring;
use crate::deployment::replicas::{start_replica, AppHosts};
use crate::metrics::Recorder;
use crate::scenario::Scenario;
use crate::world::lb::LoadBalancer;

/// The autoscaler's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Target mean CPU utilization, 0 to 1.
    pub target_utilization: f64,
    /// No change while utilization/target is within 1 +/- tolerance.
    pub tolerance: f64,
    pub scale_up_window: Duration,
    pub scale_down_window: Duration,
}

/// The raw recommendation for one measurement: the HPA formula, tolerance and bounds.
pub fn recommend(policy: &Policy, current: u32, utilization: f64) -> u32 {
    let current = current.max(1);
    let ratio = utilization / policy.target_utilization.max(f64::MIN_POSITIVE);
    let desired = if (ratio - 1.0).abs() <= policy.tolerance {
        current
    } else {
        // The epsilon keeps an exact product (2.0000000001 from float error) from rounding up.
        (f64::from(current) * ratio - 1e-9).ceil().max(1.0) as u32
    };
    desired.clamp(
        policy.min_replicas.max(1),
        policy.max_replicas.max(policy.min_replicas.max(1)),
    )
}

/// The controller's memory: recent recommendations, for the stabilization windows.
#[derive(Debug, Clone)]
pub struct Autoscaler {
    policy: Policy,
    history: VecDeque<(Duration, u32)>,
}

impl Autoscaler {
    pub fn new(policy: Policy) -> Autoscaler {
        Autoscaler {
            policy,
            history: VecDeque::new(),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// One sync at time `now` (since the run began) with `current` replicas at mean
    /// `utilization`: the number of replicas to have.
    pub fn decide(&mut self, now: Duration, current: u32, utilization: f64) -> u32 {
        let raw = recommend(&self.policy, current, utilization);
        self.history.push_back((now, raw));
        let keep = self
            .policy
            .scale_down_window
            .max(self.policy.scale_up_window);
        while self
            .history
            .front()
            .is_some_and(|&(t, _)| now.saturating_sub(t) > keep)
        {
            self.history.pop_front();
        }
        let within = |window: Duration| {
            self.history
                .iter()
                .filter(move |&&(t, _)| now.saturating_sub(t) <= window)
                .map(|&(_, r)| r)
        };
        if raw > current {
            // Scale up, but only as far as every recommendation in the window agrees.
            within(self.policy.scale_up_window)
                .min()
                .unwrap_or(raw)
                .max(current)
        } else if raw < current {
            // Scale down only as far as the highest recommendation in the window allows.
            within(self.policy.scale_down_window)
                .max()
                .unwrap_or(raw)
                .min(current)
        } else {
            current
        }
    }
}

/// The autoscaler's control loop: every sync period, measure, decide, act.
pub async fn control_loop(
    handle: Handle,
    scn: Arc<Scenario>,
    hosts: Arc<AppHosts>,
    lb: Arc<LoadBalancer>,
    recorder: Arc<Mutex<Recorder>>,
    start: Instant,
    wiring: Wiring,
) {
    let h = &scn.horizontal;
    let period = Duration::from_secs_f64(h.sync_period_s.0);
    let startup = Duration::from_secs_f64(h.startup_delay_s.0);
    let mut hpa = Autoscaler::new(Policy {
        min_replicas: h.min_replicas.get(),
        max_replicas: h.max_replicas.get_ref().get(),
        target_utilization: h.target_cpu.0,
        tolerance: h.tolerance.0,
        scale_up_window: Duration::from_secs_f64(h.scale_up_window_s.0),
        scale_down_window: Duration::from_secs_f64(h.scale_down_window_s.0),
    });
    // The controller's own view of each replica's CPU, like metrics-server's.
    let mut seen: BTreeMap<u32, u64> = BTreeMap::new();
    let mut next_index = h.min_replicas.get();
    loop {
        tokio::time::sleep(period).await;
        let now = Instant::now().duration_since(start);
        let (current, utilization) = measure(&hosts, &mut seen, period);
        let desired = hpa.decide(now, current, utilization);
        if desired == current {
            continue;
        }
        recorder.lock().unwrap_or_else(|p| p.into_inner()).scaled(
            now,
            current,
            desired,
            (utilization * 1000.0) as u64,
        );
        if desired > current {
            for _ in current..desired {
                let r = start_replica(&handle, &scn, next_index, wiring);
                next_index += 1;
                let (addr, index) = (r.addr, r.index);
                hosts.lock().push(r);
                let (lb, hosts) = (lb.clone(), hosts.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(startup).await;
                    let mut list = hosts.lock();
                    if let Some(r) = list.iter_mut().find(|r| r.index == index && !r.leaving) {
                        r.ready = true;
                        lb.add(addr);
                    }
                });
            }
        } else {
            retire(&handle, &hosts, &lb, current - desired);
        }
    }
}

/// How many replicas there are (those starting up count, as pods do: the HPA must not add
/// them twice), and the mean CPU utilization of those taking traffic over the last `period`.
fn measure(hosts: &AppHosts, seen: &mut BTreeMap<u32, u64>, period: Duration) -> (u32, f64) {
    let list = hosts.lock();
    let mut sum = 0.0;
    let mut ready = 0u32;
    for r in list.iter().filter(|r| r.ready) {
        // A replica seen for the first time counts from now.
        let before = seen.entry(r.index).or_insert_with(|| r.cpu.busy_ns());
        sum += r.cpu.utilization(before, period);
        ready += 1;
    }
    let current = list.iter().filter(|r| !r.leaving).count() as u32;
    let utilization = if ready > 0 {
        sum / f64::from(ready)
    } else {
        0.0
    };
    (current, utilization)
}

/// Retires the `n` newest replicas: out of rotation now, stopped once in-flight work is done.
fn retire(handle: &Handle, hosts: &Arc<AppHosts>, lb: &LoadBalancer, n: u32) {
    let leaving: Vec<(SocketAddr, NodeHandle)> = {
        let mut list = hosts.lock();
        let mut chosen = Vec::new();
        for r in list
            .iter_mut()
            .rev()
            .filter(|r| !r.leaving)
            .take(n as usize)
        {
            r.leaving = true;
            r.ready = false;
            chosen.push((r.addr, r.handle().clone()));
        }
        chosen
    };
    for (addr, node) in leaving {
        lb.remove(addr);
        let (handle, hosts) = (handle.clone(), hosts.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            handle.kill(node.id());
            hosts.lock().retain(|r| r.addr != addr);
        });
    }
}
