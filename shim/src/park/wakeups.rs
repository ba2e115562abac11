//! may's worker wake-ups, coalesced.
//!
//! may wakes a worker by writing its eventfd on every coroutine it queues from outside the
//! workers (a spawn from a plain thread, a sleep that expires on may's timer thread): one
//! `write` system call each, and a sleeping worker woken each time. The `write` and `read`
//! interposers route those two calls through here, so that a wake-up already on its way is
//! not sent again:
//!
//! ```text
//!  producer (queues a coroutine, then writes)     worker (epoll reports its eventfd)
//!    pending[w].swap(true) was true -> skip         read (drain)
//!    otherwise                      -> write        pending[w].swap(false)
//!                                                   then may collects its queue
//! ```
//!
//! A producer that skips saw the flag set by a wake-up the worker has not consumed yet; the
//! worker's swap reads that flag (a release sequence), so the coroutine the producer queued
//! before is visible to the collection that follows. The eventfd is level-triggered, so a
//! wake-up written while the worker runs is still reported at its next `epoll_wait`. While a
//! worker is busy or still waking up, every further wake-up for it costs two atomic
//! operations instead of a system call: spawns from a plain thread are batched, one wake-up
//! per batch.
//!
//! may's eventfds are recognised by their creation: the runtime starts may's scheduler inside
//! [`recording`], and the `eventfd` interposer reports each one made there, worker 0 first.

use std::cell::Cell;
use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};

/// Most workers whose wake-ups are coalesced (may's own limit is 128 selectors).
const MAX_WORKERS: usize = 128;

static FDS: [AtomicI32; MAX_WORKERS] = [const { AtomicI32::new(-1) }; MAX_WORKERS];
static PENDING: [AtomicBool; MAX_WORKERS] = [const { AtomicBool::new(false) }; MAX_WORKERS];
static COUNT: AtomicUsize = AtomicUsize::new(0);
/// Lowest and highest recorded fd: one range check rejects every other fd.
static LO: AtomicI32 = AtomicI32::new(i32::MAX);
static HI: AtomicI32 = AtomicI32::new(-1);
static WRITTEN: AtomicU64 = AtomicU64::new(0);
static SKIPPED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static RECORDING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (the start of may's scheduler) recording the eventfds it creates as the workers'
/// wake-up fds; coalescing is switched on afterwards only if there is one per worker.
pub fn recording<R>(workers: usize, f: impl FnOnce() -> R) -> R {
    RECORDING.with(|c| c.set(true));
    let r = f();
    RECORDING.with(|c| c.set(false));
    let n = COUNT.load(Ordering::Acquire);
    if n == workers && n > 0 {
        let fds = FDS[..n].iter().map(|f| f.load(Ordering::Relaxed));
        let (lo, hi) = fds.fold((i32::MAX, -1), |(lo, hi), f| (lo.min(f), hi.max(f)));
        LO.store(lo, Ordering::Release);
        HI.store(hi, Ordering::Release);
    } else {
        COUNT.store(0, Ordering::Release);
    }
    r
}

/// Called by the `eventfd` interposer with each eventfd it created.
pub fn note_eventfd(fd: c_int, flags: c_int) {
    if fd < 0 || !RECORDING.with(Cell::get) || flags & libc::EFD_SEMAPHORE != 0 {
        return;
    }
    let n = COUNT.load(Ordering::Relaxed);
    if n < MAX_WORKERS {
        FDS[n].store(fd, Ordering::Relaxed);
        COUNT.store(n + 1, Ordering::Release);
    }
}

/// The worker whose wake-up fd `fd` is.
#[inline]
pub fn worker_of(fd: c_int) -> Option<usize> {
    if fd < LO.load(Ordering::Relaxed) || fd > HI.load(Ordering::Relaxed) {
        return None;
    }
    let n = COUNT.load(Ordering::Acquire);
    FDS[..n]
        .iter()
        .position(|f| f.load(Ordering::Relaxed) == fd)
}

/// A producer is about to write worker `w`'s eventfd: true if a wake-up is already on its way
/// (skip the write).
#[inline]
pub fn skip_write(w: usize) -> bool {
    if PENDING[w].swap(true, Ordering::AcqRel) {
        SKIPPED.fetch_add(1, Ordering::Relaxed);
        return true;
    }
    WRITTEN.fetch_add(1, Ordering::Relaxed);
    false
}

/// Worker `w` has drained its eventfd and is about to collect its queue.
#[inline]
pub fn consumed(w: usize) {
    PENDING[w].swap(false, Ordering::AcqRel);
}

/// Whether a wake-up of worker `w` is recorded as on its way. Once the workers are idle and
/// have drained their eventfds, every flag must be clear: a flag left set would make every
/// later wake-up of that worker be skipped while it sleeps.
pub fn pending(w: usize) -> bool {
    PENDING.get(w).is_some_and(|p| p.load(Ordering::Acquire))
}

/// Whether wake-ups are coalesced (may's eventfds were recognised at start-up).
pub fn active() -> bool {
    HI.load(Ordering::Acquire) >= 0
}

/// Wake-ups written and wake-ups skipped because one was already on its way, since start.
pub fn stats() -> (u64, u64) {
    (
        WRITTEN.load(Ordering::Relaxed),
        SKIPPED.load(Ordering::Relaxed),
    )
}
