//! scalelab patch (PATCHES.md, the sixth change): a connection's one-way channel that hands a
//! message to its receiver at the message's arrival instant with one wake-up.
//!
//! madsim's own channel pushed every message into a tokio mpsc, which woke the receiving task
//! at once; the task then slept until the message's arrival and was woken a second time. Here
//! the sender arms the arrival timer itself when the receiver is idle, so the receiver runs once
//! per arrival. Messages stay in order (one behind a late one waits for it, as on TCP) and a
//! lost one is sent again after the same backoff as before (1 ms, doubling, at most 10 s).

use std::{
    collections::VecDeque,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

use futures_util::Stream;
use spin::Mutex;

use super::Payload;
use crate::time::TimeHandle;

/// When a message arrives: `None` if the link lost it (it is sent again after a backoff).
pub(super) type State = Option<Instant>;

/// Tests the link again for a lost message: its new arrival, or `None` if lost again.
pub(super) type Retry = Arc<dyn Fn() -> State + Send + Sync>;

struct Inner {
    queue: VecDeque<(Payload, State)>,
    /// The receiver's waker, while it waits with nothing queued (a push arms its wake-up).
    idle: Option<Waker>,
    /// The instant a wake-up of the receiver is armed for, if any.
    armed: Option<Instant>,
    /// A lost message at the front: when it is tested again, and the backoff after that.
    retry: Option<(Instant, Duration)>,
    sender_gone: bool,
    receiver_gone: bool,
    /// Tasks waiting for the receiver to go away (`Sender::closed`).
    closed_wakers: Vec<Waker>,
}

pub(super) struct Sender {
    inner: Arc<Mutex<Inner>>,
    time: TimeHandle,
}

pub(super) struct Receiver {
    inner: Arc<Mutex<Inner>>,
    time: TimeHandle,
    retry: Retry,
}

pub(super) fn channel(time: TimeHandle, retry: Retry) -> (Sender, Receiver) {
    let inner = Arc::new(Mutex::new(Inner {
        queue: VecDeque::new(),
        idle: None,
        armed: None,
        retry: None,
        sender_gone: false,
        receiver_gone: false,
        closed_wakers: Vec::new(),
    }));
    (
        Sender {
            inner: inner.clone(),
            time: time.clone(),
        },
        Receiver { inner, time, retry },
    )
}

impl Sender {
    /// Queues `value`, arriving as `state` says; `None` if the receiver is gone.
    pub fn send(&self, value: Payload, state: State) -> Option<()> {
        let mut inner = self.inner.lock();
        if inner.receiver_gone {
            return None;
        }
        inner.queue.push_back((value, state));
        if inner.queue.len() == 1 {
            if let Some(waker) = inner.idle.take() {
                match state {
                    // The receiver runs when the message arrives, not before.
                    Some(at) if at > self.time.now_instant() => {
                        inner.armed = Some(at);
                        drop(inner);
                        self.time.add_waker_at(at, waker);
                    }
                    // Already there, or lost: the receiver deals with it now.
                    _ => {
                        drop(inner);
                        waker.wake();
                    }
                }
            }
        }
        Some(())
    }

    pub fn is_closed(&self) -> bool {
        self.inner.lock().receiver_gone
    }

    /// Resolves when the receiver is gone.
    pub async fn closed(&self) {
        futures_util::future::poll_fn(|cx| {
            let mut inner = self.inner.lock();
            if inner.receiver_gone {
                return Poll::Ready(());
            }
            if !inner.closed_wakers.iter().any(|w| w.will_wake(cx.waker())) {
                inner.closed_wakers.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let mut inner = self.inner.lock();
        inner.sender_gone = true;
        // With messages still queued, the receiver's wake-up is armed already.
        if inner.queue.is_empty() {
            if let Some(waker) = inner.idle.take() {
                drop(inner);
                waker.wake();
            }
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let wakers = {
            let mut inner = self.inner.lock();
            inner.receiver_gone = true;
            inner.queue.clear();
            std::mem::take(&mut inner.closed_wakers)
        };
        for w in wakers {
            w.wake();
        }
    }
}

impl Stream for Receiver {
    type Item = Payload;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Payload>> {
        let this = self.get_mut();
        let now = this.time.now_instant();
        let mut inner = this.inner.lock();
        if inner.armed.is_some_and(|at| at <= now) {
            inner.armed = None;
        }
        loop {
            let Some(front) = inner.queue.front_mut() else {
                if inner.sender_gone {
                    return Poll::Ready(None);
                }
                inner.idle = Some(cx.waker().clone());
                return Poll::Pending;
            };
            let wake_at = match front.1 {
                Some(at) if at <= now => {
                    inner.retry = None;
                    let (value, _) = inner.queue.pop_front().expect("the front is there");
                    return Poll::Ready(Some(value));
                }
                Some(at) => at,
                // Lost: test the link again once the backoff is over.
                None => match inner.retry {
                    None => {
                        let backoff = Duration::from_millis(1);
                        inner.retry = Some((now + backoff, backoff));
                        now + backoff
                    }
                    Some((at, backoff)) if at <= now => {
                        let next = (backoff * 2).min(Duration::from_secs(10));
                        drop(inner);
                        let state = (this.retry)();
                        inner = this.inner.lock();
                        inner.retry = Some((now + next, next));
                        if let Some(front) = inner.queue.front_mut() {
                            front.1 = state;
                        }
                        continue;
                    }
                    Some((at, _)) => at,
                },
            };
            if inner.armed != Some(wake_at) {
                inner.armed = Some(wake_at);
                drop(inner);
                this.time.add_waker_at(wake_at, cx.waker().clone());
            }
            return Poll::Pending;
        }
    }
}
