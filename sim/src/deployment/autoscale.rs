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
//! Must not: touch the simulation. Pure functions of their inputs, so they can be tested
//! exactly.

use std::collections::VecDeque;
use std::time::Duration;

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
