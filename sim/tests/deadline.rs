//! `Deadlines`: fires exactly at the deadline, never for a future that finished or was dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::runtime::Runtime;
use scalelab_sim::world::deadline::{Deadlines, Elapsed};
use tokio::time::Instant;

#[test]
fn a_future_that_finishes_in_time_wins() {
    Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
        let d = Deadlines::new(Duration::from_millis(100));
        let got = d
            .timeout(async {
                tokio::time::sleep(Duration::from_millis(99)).await;
                7
            })
            .await;
        assert_eq!(got, Ok(7));
    });
}

#[test]
fn a_slow_future_times_out_at_its_deadline_exactly() {
    Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
        let d = Deadlines::new(Duration::from_millis(100));
        let t0 = Instant::now();
        let got = d.timeout(std::future::pending::<()>()).await;
        assert_eq!(got, Err(Elapsed));
        // madsim lands a few nanoseconds past a timer's deadline.
        assert_eq!((Instant::now() - t0).as_micros(), 100_000);
    });
}

#[test]
fn overlapping_timeouts_each_fire_at_their_own_deadline() {
    Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
        let d = Arc::new(Deadlines::new(Duration::from_millis(50)));
        let t0 = Instant::now();
        let fired = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Every 10 ms a call starts; the even ones answer after 20 ms, the odd ones never.
        for i in 0..10u64 {
            let (d, fired) = (d.clone(), fired.clone());
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(10 * i + 1)).await;
                let work = async move {
                    if i % 2 == 0 {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    } else {
                        std::future::pending::<()>().await;
                    }
                };
                if d.timeout(work).await.is_err() {
                    let at = (Instant::now() - t0).as_millis();
                    fired.lock().unwrap().push((i, at));
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let fired = fired.lock().unwrap().clone();
        let want: Vec<(u64, u128)> = (0..10u64)
            .filter(|i| i % 2 == 1)
            .map(|i| (i, u128::from(10 * i + 1 + 50)))
            .collect();
        assert_eq!(fired, want);
    });
}

#[test]
fn a_dropped_timeout_fires_for_nobody() {
    Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
        let d = Deadlines::new(Duration::from_millis(30));
        // Started and abandoned after 5 ms.
        let _ = tokio::time::timeout(
            Duration::from_millis(5),
            d.timeout(std::future::pending::<()>()),
        )
        .await;
        // A later call is not cut short by the abandoned one's deadline.
        let t0 = Instant::now();
        let got = d
            .timeout(async {
                tokio::time::sleep(Duration::from_millis(29)).await;
            })
            .await;
        assert_eq!(got, Ok(()));
        assert_eq!((Instant::now() - t0).as_micros(), 29_000);
    });
}
