//! Where async and sync code meet: [`block_on`] runs a future on the calling green thread (or
//! plain thread), and a [`Greenlet`] can be awaited from async code.
//!
//! ```
//! // A future, driven to completion by a green thread that parks while it is pending.
//! let g = greenshim::spawn(|| greenshim::block_on(async { 40 + 2 }));
//! assert_eq!(g.join().unwrap(), 42);
//!
//! // A green thread, awaited from async code.
//! let out = greenshim::block_on(async { greenshim::spawn(|| "done").await });
//! assert_eq!(out.unwrap(), "done");
//! ```
//!
//! # Futures that need a runtime's reactor
//! `block_on` is an executor only: it polls the future and parks until the future's waker is
//! called. A future that registers with a specific runtime's reactor (tokio's sockets and
//! timers) must be driven by that runtime: from a green thread, call that runtime's own
//! `block_on` (tokio's current-thread runtime works there; see the crate's tests), or spawn it
//! on that runtime and `block_on` the `JoinHandle`, which only needs a waker.

use std::future::{Future, IntoFuture};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context as TaskContext, Poll, Wake, Waker as TaskWaker};

use greenshim_shim::park::context;
use greenshim_shim::park::{self, Waker};

use crate::greenlet::{Greenlet, JoinError};

/// A task waker that wakes a parked green thread or plain thread.
struct ParkWaker(Waker);

impl Wake for ParkWaker {
    fn wake(self: Arc<Self>) {
        self.0.wake();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.wake();
    }
}

/// Runs `future` to completion on the calling thread, as `futures::executor::block_on` does: a
/// green thread parks while the future is pending (its worker runs other green threads), a plain
/// thread blocks. The future's waker may be called from any thread.
///
/// # Panics
/// Unwinds with the kill or timeout that reaches a green thread while it waits (the future is
/// dropped), and with the future's own panic.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let ctx = context::current();
    let waker = TaskWaker::from(Arc::new(ParkWaker(match ctx.waker() {
        Some(w) => w.clone(),
        None => Waker::current(),
    })));
    let mut cx = TaskContext::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        // A wake between the poll and the park leaves a token: the park returns at once.
        if let Err(interrupt) = park::park_in(&ctx, None) {
            interrupt.raise();
        }
    }
}

/// A [`Greenlet`] awaited from async code: resolves to what [`Greenlet::join`] returns, and
/// wakes the awaiting task when the green thread finishes (no thread blocks meanwhile).
#[must_use = "futures do nothing unless polled"]
pub struct Join<T> {
    greenlet: Option<Greenlet<T>>,
    /// The waker of the last poll, called by the green thread's completion.
    waker: Arc<Mutex<Option<TaskWaker>>>,
    registered: bool,
}

impl<T> Future for Join<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let greenlet = this
            .greenlet
            .as_ref()
            .expect("a Join future polled after it returned Ready");
        if !greenlet.is_finished() {
            // Stored before the check below: a completion after it wakes this waker.
            *this.waker.lock().unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
            if !this.registered {
                this.registered = true;
                let slot = this.waker.clone();
                greenlet.on_finish(move || {
                    let waker = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
                    if let Some(w) = waker {
                        w.wake();
                    }
                });
            }
            if !greenlet.is_finished() {
                return Poll::Pending;
            }
        }
        let greenlet = this.greenlet.take().expect("checked above");
        Poll::Ready(greenlet.into_result())
    }
}

impl<T> IntoFuture for Greenlet<T> {
    type Output = Result<T, JoinError>;
    type IntoFuture = Join<T>;

    /// Awaits the green thread's end from async code.
    fn into_future(self) -> Join<T> {
        Join {
            greenlet: Some(self),
            waker: Arc::new(Mutex::new(None)),
            registered: false,
        }
    }
}
