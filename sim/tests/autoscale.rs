//! The autoscaler decides as the Kubernetes HPA does: formula, tolerance, bounds, windows.

use std::time::Duration;

use proptest::prelude::*;
use scalelab_sim::deployment::autoscale::{recommend, Autoscaler, Policy};

fn policy() -> Policy {
    Policy {
        min_replicas: 5,
        max_replicas: 50,
        target_utilization: 0.6,
        tolerance: 0.1,
        scale_up_window: Duration::ZERO,
        scale_down_window: Duration::from_secs(300),
    }
}

#[test]
fn the_formula_scales_with_load() {
    let p = policy();
    // 10 replicas at 90% with a 60% target: ceil(10 * 1.5) = 15.
    assert_eq!(recommend(&p, 10, 0.9), 15);
    // At 30%: ceil(10 * 0.5) = 5.
    assert_eq!(recommend(&p, 10, 0.3), 5);
    // Within 10% of the target: no change.
    assert_eq!(recommend(&p, 10, 0.64), 10);
    assert_eq!(recommend(&p, 10, 0.55), 10);
    // Just outside: 10 * 0.7/0.6 = 11.67 -> 12.
    assert_eq!(recommend(&p, 10, 0.7), 12);
    // Bounds.
    assert_eq!(recommend(&p, 40, 1.0), 50);
    assert_eq!(recommend(&p, 6, 0.01), 5);
}

#[test]
fn scale_up_is_immediate_and_scale_down_waits_for_the_window() {
    let mut a = Autoscaler::new(policy());
    let t = |s| Duration::from_secs(s);
    assert_eq!(a.decide(t(0), 5, 1.2), 10, "up at once");
    assert_eq!(a.decide(t(15), 10, 1.2), 20);
    // Load drops: the raw recommendation is 5, but the last 300 s recommended 20.
    assert_eq!(a.decide(t(30), 20, 0.15), 20);
    assert_eq!(
        a.decide(t(300), 20, 0.15),
        20,
        "still inside the window (15 s saw 20)"
    );
    // At 316 s the recommendation of 20 (made at 15 s) has left the window; every
    // recommendation since 30 s was ceil(20 * 0.15 / 0.6) = 5.
    assert_eq!(a.decide(t(316), 20, 0.15), 5);
    assert_eq!(a.decide(t(331), 5, 0.15), 5, "never below min_replicas");
}

#[test]
fn a_scale_up_window_waits_for_load_to_stay_high() {
    let mut p = policy();
    p.scale_up_window = Duration::from_secs(60);
    let mut a = Autoscaler::new(p);
    let t = |s| Duration::from_secs(s);
    assert_eq!(a.decide(t(0), 5, 0.6), 5);
    // A short burst: the window still remembers the calm recommendation of 5.
    assert_eq!(a.decide(t(15), 5, 1.2), 5);
    assert_eq!(
        a.decide(t(75), 5, 1.2),
        10,
        "a minute of high load: the lowest recent recommendation is 10"
    );
}

proptest! {
    #[test]
    fn decisions_stay_within_bounds(current in 1u32..80, utilization in 0.0f64..3.0, steps in 1usize..20) {
        let mut a = Autoscaler::new(policy());
        let mut n = current;
        for i in 0..steps {
            n = a.decide(Duration::from_secs(15 * i as u64), n, utilization);
            prop_assert!((5..=50).contains(&n) || (n == current && !(5..=50).contains(&current)));
        }
    }
}
