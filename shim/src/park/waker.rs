//! Waking: [`Waker`], what wakes one parked green thread or OS thread, and the dispatcher.
//!
//! **Dispatch.** `Coroutine::unpark` from a thread that is not a may worker pushes the coroutine onto a
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

use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use super::which::on_green_thread;
use crate::sys::EventFd;

/// Wakes one parked green thread or OS thread. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Waker {
    /// A green thread.
    Green(may::coroutine::Coroutine),
    /// A plain OS thread.
    Thread(Arc<ThreadWaker>),
}

/// What wakes a plain OS thread: `Thread::unpark` for the park primitive, plus an eventfd for a thread
/// blocked in `poll(2)` on an fd (created the first time the thread waits on an fd).
#[derive(Debug)]
pub struct ThreadWaker {
    thread: std::thread::Thread,
    poll_wake: OnceLock<EventFd>,
}

impl ThreadWaker {
    /// The eventfd that [`Waker::wake`] signals, for a `poll(2)` that must also return when the
    /// thread is woken (an interrupt, or the fd being closed by greenshim).
    pub fn poll_wake_fd(&self) -> io::Result<&EventFd> {
        if let Some(fd) = self.poll_wake.get() {
            return Ok(fd);
        }
        let fd = EventFd::new()?;
        Ok(self.poll_wake.get_or_init(|| fd))
    }
}

crate::os_local_ref! {
    static THREAD_WAKER: Arc<ThreadWaker> = Arc::new(ThreadWaker {
        thread: std::thread::current(),
        poll_wake: OnceLock::new(),
    });
}

impl Waker {
    /// The waker of the running code.
    pub fn current() -> Waker {
        if on_green_thread() {
            Self::current_green()
        } else {
            Self::current_thread()
        }
    }

    pub(crate) fn current_green() -> Waker {
        Waker::Green(may::coroutine::current())
    }

    pub(crate) fn current_thread() -> Waker {
        Waker::Thread(THREAD_WAKER.with(Arc::clone))
    }

    /// Wakes the target. Waking a target that is not parked makes its next park return at once.
    /// From a green thread, the woken green thread joins that worker's queue; from any other
    /// thread it goes through the dispatcher, which hands it to the first idle worker (it never
    /// runs on the caller's thread).
    pub fn wake(&self) {
        match self {
            Waker::Green(co) if on_green_thread() => co.unpark(),
            Waker::Green(co) => wake_green(co.clone()),
            Waker::Thread(t) => t.wake(),
        }
    }
}

impl ThreadWaker {
    fn wake(&self) {
        self.thread.unpark();
        if let Some(fd) = self.poll_wake.get() {
            fd.notify();
        }
    }
}

static READY: Mutex<Vec<Waker>> = Mutex::new(Vec::new());

/// Moves the pending batch into `out` (called by a reactor on its worker).
pub fn take_ready(out: &mut Vec<Waker>) {
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

/// What signals every worker's reactor (pushed down by the runtime at start-up); returns false
/// when there are no reactors.
static KICK: OnceLock<fn() -> bool> = OnceLock::new();

/// Installs the function that kicks every worker's reactor (the runtime does, once).
pub fn set_kicker(kick_all: fn() -> bool) {
    let _ = KICK.set(kick_all);
}

/// Tells the reactors that `READY` has work; without reactors (start-up failed), falls back to
/// may's round robin.
fn kick() {
    if KICK.get().is_some_and(|kick_all| kick_all()) {
        return;
    }
    let batch = std::mem::take(&mut *READY.lock().unwrap_or_else(|e| e.into_inner()));
    for w in batch {
        if let Waker::Green(co) = w {
            co.unpark();
        }
    }
}
