//! The simulator's timer: every pending deadline, in a heap, earliest first.
//!
//! scalelab patch (see PATCHES.md): this replaces the `naive-timer` crate's `Timer`, which
//! boxed every callback. Nearly every timer is a sleep waking its task, so a waker is kept as
//! it is, without a box; other callbacks are still boxed. The heap orders events exactly as
//! `naive-timer` did (by deadline alone, in a `BinaryHeap`), so events with the same deadline
//! fire in the same order as before and no run changes.

use std::{cmp::Ordering, collections::BinaryHeap, task::Waker, time::Duration};

#[derive(Default)]
pub(crate) struct Timer {
    events: BinaryHeap<Event>,
    /// Events fired so far (a count for benchmarks).
    fired: u64,
}

enum Action {
    Wake(Waker),
    Call(Box<dyn FnOnce() + Send + Sync + 'static>),
}

struct Event {
    deadline: Duration,
    action: Action,
}

impl Timer {
    /// Calls `callback` once the time reaches `deadline`.
    pub fn add(&mut self, deadline: Duration, callback: impl FnOnce() + Send + Sync + 'static) {
        self.push(deadline, Action::Call(Box::new(callback)));
    }

    /// Wakes `waker` once the time reaches `deadline`.
    pub fn add_waker(&mut self, deadline: Duration, waker: Waker) {
        self.push(deadline, Action::Wake(waker));
    }

    fn push(&mut self, deadline: Duration, action: Action) {
        self.events.push(Event { deadline, action });
    }

    /// Fires and removes every event due at `now`.
    pub fn expire(&mut self, now: Duration) {
        while let Some(event) = self.events.peek() {
            if event.deadline > now {
                break;
            }
            let Some(event) = self.events.pop() else {
                break;
            };
            self.fired += 1;
            match event.action {
                Action::Wake(waker) => waker.wake(),
                Action::Call(callback) => callback(),
            }
        }
    }

    /// Removes every pending event, returning the wakers to wake; callbacks are dropped
    /// unrun (scalelab patch: the runtime's shutdown, PATCHES.md).
    pub fn take_wakers(&mut self) -> Vec<Waker> {
        std::mem::take(&mut self.events)
            .into_iter()
            .filter_map(|e| match e.action {
                Action::Wake(waker) => Some(waker),
                Action::Call(_) => None,
            })
            .collect()
    }

    /// How many events have fired so far.
    pub fn fired(&self) -> u64 {
        self.fired
    }

    /// The earliest pending deadline.
    pub fn next(&self) -> Option<Duration> {
        self.events.peek().map(|e| e.deadline)
    }
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.deadline.eq(&other.deadline)
    }
}

impl Eq for Event {}

// BinaryHeap is a max-heap, so the order is reversed: the earliest deadline is the greatest.
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Event {
    fn cmp(&self, other: &Event) -> Ordering {
        other.deadline.cmp(&self.deadline)
    }
}
