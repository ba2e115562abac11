//! Waking green threads from outside the workers without stranding them behind a busy worker.
//!
//! `Coroutine::unpark` from a thread that is not a may worker pushes the coroutine onto a
//! worker's *global* queue, round robin. A worker only drains its global queue between green
//! threads, and work stealing only takes from *local* queues, so a green thread woken onto the
//! queue of a worker that is computing waits for that computation to end (300 ms of CPU after
//! a sleep delayed half of all other timers by up to 300 ms in the timer-fairness test).
//!
//! The dispatcher avoids the round robin. Wake-ups from non-worker threads (the timer, the
//! offload pool, plain threads) go into one shared batch, and every worker's reactor is kicked
//! through an eventfd in its epoll. The first idle worker's reactor takes the whole batch and
//! unparks it from inside the worker: woken green threads land on its local queue, where the
//! other idle workers can steal them. A busy worker's reactor runs later and finds the batch
//! empty.
//!
//! ```text
//!  timer thread                    worker j (idle)                  worker k (busy)
//!  ------------                    ---------------                  ---------------
//!  READY.extend(wakers)
//!  kick[j].notify() ------------> epoll: reactor j runnable
//!  kick[k].notify() ----------------------------------------------> (not polling)
//!                                  reactor j: take READY,
//!                                  unpark each -> local queue j
//!                                  (other idle workers steal)
//! ```

use std::sync::Mutex;

use crate::park::Waker;
use crate::reactor;

static READY: Mutex<Vec<Waker>> = Mutex::new(Vec::new());

/// Moves the pending batch into `out` (called by a reactor on its worker).
pub(crate) fn take_ready(out: &mut Vec<Waker>) {
    out.append(&mut READY.lock().unwrap_or_else(|e| e.into_inner()));
}

/// Wakes a batch of waiters: plain threads directly, green threads through the reactors.
pub fn wake_batch(wakers: &mut Vec<Waker>) {
    let mut any_green = false;
    {
        let mut ready = READY.lock().unwrap_or_else(|e| e.into_inner());
        for w in wakers.drain(..) {
            match w {
                Waker::Thread(_) => w.wake(),
                green => {
                    ready.push(green);
                    any_green = true;
                }
            }
        }
    }
    if any_green {
        kick();
    }
}

/// Wakes one green thread from a thread that is not a worker.
pub(crate) fn wake_green(co: may::coroutine::Coroutine) {
    READY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Waker::Green(co));
    kick();
}

/// Tells the reactors that `READY` has work; without reactors (start-up failed), falls back to
/// may's round robin.
fn kick() {
    if reactor::kick_all() {
        return;
    }
    let batch = std::mem::take(&mut *READY.lock().unwrap_or_else(|e| e.into_inner()));
    for w in batch {
        if let Waker::Green(co) = w {
            co.unpark();
        }
    }
}
