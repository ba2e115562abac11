//! Lingering: a reactor that keeps looking at the dispatcher's batch for a while instead of
//! going back to `epoll_wait`, the way Go's idle threads spin before they sleep.
//!
//! Wake-ups from plain threads come in bursts: a thread spawning green threads in a loop, the
//! timer waking a crowd of sleepers. Each one is handed to the reactors through the dispatcher
//! ([`crate::park::waker`]) and a kick: an eventfd write for the waker, a wake-up from
//! `epoll_wait` for the worker. A worker that had run its small batch went back to sleep
//! before the next wake-up came, so a burst paid a kick every few wake-ups. W1 spawn-join from
//! the main thread, 100 000 spawns, 3 runs each of `perf stat -e
//! syscalls:sys_enter_write,context-switches` on the release build: 11 899 to 30 896 eventfd
//! writes and 7 130 to 20 551 context switches before lingering, 1 802 to 5 992 and 1 706 to
//! 6 886 with it.
//!
//! A reactor that takes two batches less than `AFTER` (200 µs) apart lingers: between every
//! two green threads of its worker (it yields) it looks at the batch and wakes what it finds
//! onto its worker, and every `FD_EVERY` (50 µs) it also collects fd events. It stops when no
//! work has come for `IDLE` (30 µs), or after `MAX` (500 µs) in all, so that may's own loop
//! (its global queue, its epoll) gets its turn. At most one reactor lingers at a time, so that
//! the other cores stay with the threads doing the waking. Meanwhile wakers skip the kick
//! (`counted_on`).
//!
//! ```text
//!  waker (plain thread)                 lingering reactor
//!  --------------------                 -----------------
//!  push onto the batch                  UNTIL = now + TRUST   (renewed at every look)
//!  fence                                look at the batch: take it, wake it
//!  UNTIL fresh? skip the kick           ...
//!                                       UNTIL = 0
//!                                       fence
//!                                       look at the batch once more
//! ```
//!
//! Either the waker's load sees the lingerer (which looks at the batch again after that
//! load), or the lingerer's last look sees the pushed work. A lingerer whose worker is held up
//! (a green thread computing without a park, the OS preempting the worker) stops renewing
//! `UNTIL`, and after `TRUST` (50 µs) wakers signal as usual.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::time::{Duration, Instant};

use crate::park::waker::{self as dispatch, Waker};

/// A reactor that took a dispatcher batch less than this long after its previous one lingers.
pub(crate) const AFTER: Duration = Duration::from_micros(200);
/// A lingering reactor goes back to its wait once no work has come for this long...
const IDLE: Duration = Duration::from_micros(30);
/// ... or after this long in all, so that may's own loop (its global queue, its epoll) runs.
const MAX: Duration = Duration::from_micros(500);
/// How often a lingering reactor also collects fd events.
const FD_EVERY: Duration = Duration::from_micros(50);
/// How long a lingerer's last look is counted on.
const TRUST: Duration = Duration::from_micros(50);

/// While a reactor lingers: until when wakers may count on it, on [`clock`]; 0 otherwise.
static UNTIL: AtomicU64 = AtomicU64::new(0);
/// Wake-ups that skipped their kick because a reactor lingered.
static SKIPS: AtomicU64 = AtomicU64::new(0);

/// Wake-ups from plain threads that found a lingering reactor and so cost no eventfd write
/// and no worker wake-up.
pub fn skips() -> u64 {
    SKIPS.load(Ordering::Relaxed)
}

/// `at` in nanoseconds since the first call, plus one (never 0), for [`UNTIL`].
fn clock(at: Instant) -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(|| at);
    u64::try_from(at.saturating_duration_since(base).as_nanos()).unwrap_or(u64::MAX - 1) + 1
}

/// Called by a waker after it pushed onto the dispatcher's batch: whether a lingering reactor
/// will take it, so that no kick is needed.
pub(crate) fn counted_on() -> bool {
    // Pairs with the fence in `linger` (see the module docs).
    fence(Ordering::SeqCst);
    let until = UNTIL.load(Ordering::SeqCst);
    if until != 0 && clock(Instant::now()) < until {
        SKIPS.fetch_add(1, Ordering::Relaxed);
        return true;
    }
    false
}

/// Lingers on the calling reactor (a green thread on its worker), unless another reactor
/// already does. `fd_round` collects the reactor's fd events and wakes their green threads.
pub(crate) fn linger(woken: &mut Vec<Waker>, mut fd_round: impl FnMut(&mut Vec<Waker>)) {
    let trust = u64::try_from(TRUST.as_nanos()).unwrap_or(u64::MAX);
    let start = Instant::now();
    if UNTIL
        .compare_exchange(0, clock(start) + trust, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return;
    }
    let (mut last_work, mut last_fds) = (start, start);
    loop {
        may::coroutine::yield_now();
        let now = Instant::now();
        UNTIL.store(clock(now) + trust, Ordering::SeqCst);
        if now - last_fds >= FD_EVERY {
            last_fds = now;
            crate::sys::inside(|| fd_round(woken));
        }
        if dispatch::has_ready() {
            last_work = now;
            crate::sys::inside(|| take_batch(woken));
        }
        if now - last_work >= IDLE || now - start >= MAX {
            break;
        }
    }
    UNTIL.store(0, Ordering::SeqCst);
    // A waker that counted on this reactor skipped its kick: look once more.
    fence(Ordering::SeqCst);
    if dispatch::has_ready() {
        crate::sys::inside(|| take_batch(woken));
    }
}

/// Wakes the dispatcher's batch onto this worker.
fn take_batch(woken: &mut Vec<Waker>) {
    dispatch::take_ready(woken);
    for w in woken.drain(..) {
        w.wake();
    }
}
