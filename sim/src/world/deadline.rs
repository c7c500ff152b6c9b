//! Timeouts that cost (almost) nothing when they do not fire.
//!
//! madsim cannot cancel a timer: `tokio::time::timeout` leaves its entry in the simulator's
//! timer heap until the deadline, fired or not, and then wakes its task for nothing. A
//! database call with a 5 s statement timeout that is answered in 3 ms keeps its entry for 5 s;
//! at thousands of calls per second the heap holds tens of thousands of dead entries, and
//! popping it was the largest single cost of a black-friday run (11% of the CPU).
//!
//! A [`Deadlines`] serves one fixed duration, so its deadlines fall due in the order they were
//! set. One driver task sleeps until the earliest deadline still pending; a call that finishes
//! in time just removes its entry. When nothing times out the driver wakes about once per
//! duration (to find its entry gone and sleep until the next); a deadline that is reached wakes
//! its task at that virtual instant, as `tokio::time::timeout` would.
//!
//! Must not: change when a timeout fires, or depend on anything but virtual time.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The deadline passed before the future finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

/// Timeouts of one fixed duration, sharing one driver task.
pub struct Deadlines {
    shared: Arc<Shared>,
}

struct Shared {
    duration: Duration,
    state: Mutex<State>,
    /// Wakes the driver when it has nothing to wait for and a deadline is set, or on close.
    wake_driver: Notify,
}

#[derive(Default)]
struct State {
    next_id: u64,
    /// By id, which is also deadline order (one duration, and time only moves forward).
    pending: BTreeMap<u64, Entry>,
    driver_idle: bool,
    closed: bool,
}

struct Entry {
    at: Instant,
    waker: Option<Waker>,
    fired: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Deadlines {
    /// Timeouts of `duration`. Spawns the driver task: call it inside the node that will use
    /// it, so the driver lives and dies with its users.
    pub fn new(duration: Duration) -> Deadlines {
        let shared = Arc::new(Shared {
            duration,
            state: Mutex::new(State::default()),
            wake_driver: Notify::new(),
        });
        tokio::spawn(drive(shared.clone()));
        Deadlines { shared }
    }

    /// Runs `fut` until it finishes or the duration has passed since this call.
    pub async fn timeout<F: Future>(&self, fut: F) -> Result<F::Output, Elapsed> {
        let entry = Registered::new(&self.shared);
        let mut fut = std::pin::pin!(fut);
        std::future::poll_fn(|cx| {
            // Like tokio's timeout: a future that is ready wins over a deadline just reached.
            if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                return Poll::Ready(Ok(out));
            }
            entry.poll_elapsed(cx).map(Err)
        })
        .await
    }
}

impl Drop for Deadlines {
    fn drop(&mut self) {
        self.shared.state().closed = true;
        self.shared.wake_driver.notify_one();
    }
}

/// One pending deadline; removed when the timed future finishes or is dropped.
struct Registered<'a> {
    shared: &'a Shared,
    id: u64,
}

impl<'a> Registered<'a> {
    fn new(shared: &'a Shared) -> Registered<'a> {
        let mut st = shared.state();
        let id = st.next_id;
        st.next_id += 1;
        st.pending.insert(
            id,
            Entry {
                at: Instant::now() + shared.duration,
                waker: None,
                fired: false,
            },
        );
        if st.driver_idle {
            st.driver_idle = false;
            shared.wake_driver.notify_one();
        }
        Registered { shared, id }
    }

    fn poll_elapsed(&self, cx: &mut Context<'_>) -> Poll<Elapsed> {
        let mut st = self.shared.state();
        match st.pending.get_mut(&self.id) {
            Some(e) if !e.fired => {
                if !e.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    e.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            _ => Poll::Ready(Elapsed),
        }
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.shared.state().pending.remove(&self.id);
    }
}

/// Fires every deadline that is due, then sleeps until the next one (or until there is one).
async fn drive(shared: Arc<Shared>) {
    loop {
        let next = {
            let mut st = shared.state();
            if st.closed {
                return;
            }
            let now = Instant::now();
            let mut next = None;
            for e in st.pending.values_mut() {
                if e.fired {
                    // Fired, its task not yet back to collect it.
                    continue;
                }
                if e.at > now {
                    next = Some(e.at);
                    break;
                }
                e.fired = true;
                if let Some(w) = e.waker.take() {
                    w.wake();
                }
            }
            st.driver_idle = next.is_none();
            next
        };
        match next {
            Some(at) => madsim::time::sleep_until_exact(at).await,
            None => shared.wake_driver.notified().await,
        }
    }
}
