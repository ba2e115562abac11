//! may's worker wake-ups: written only to a worker that sleeps, and only once.
//!
//! may wakes a worker by writing its eventfd on every coroutine it queues from outside the
//! workers (a spawn from a plain thread, a sleep that expires on may's timer thread): one
//! `write` system call each, and a sleeping worker woken each time. The `write`, `read` and
//! `epoll_wait` interposers route those calls through here:
//!
//! ```text
//!  producer (has queued a coroutine, writes)       worker (in may's select loop)
//!    pending[w].swap(true) was true -> skip           about to sleep in epoll_wait:
//!    sleeping[w] is false           -> skip             sleeping[w] = true
//!    otherwise                      -> write            pending[w]? -> return "eventfd ready"
//!                                                                    at once, do not sleep
//!                                                       otherwise epoll_wait; sleeping[w] = false
//!                                                     reads its eventfd (may does, on that event):
//!                                                       drain, then pending[w].swap(false),
//!                                                       then may collects its queue
//! ```
//!
//! - A producer that skips because `pending` was set relies on the wake-up already on its way:
//!   the worker clears the flag only after draining, with an acquiring swap, so the coroutine
//!   the producer queued before its own swap is visible to the collection that follows.
//! - A producer that skips because the worker is awake relies on the worker's check before it
//!   sleeps: both sides store their flag, then load the other's (sequentially consistent), so
//!   at least one of them sees the other: the producer writes, or the worker does not sleep.
//! - The eventfd is level-triggered, so a wake-up written while the worker runs is still
//!   reported at its next `epoll_wait`.
//!
//! A worker that is busy, or just woke, costs its producers two atomic operations instead of a
//! system call: spawns from a plain thread are batched, one wake-up per sleep of the worker.
//! (Spinning 20 µs before sleeping, as Go's idle workers do, made W1 and W3 slower on this
//! 2-core machine: the spinning workers took the spawning thread's core.)
//!
//! may's eventfds and epolls are recognised by their creation: the runtime starts may's
//! scheduler inside [`recording`], and the `eventfd` and `epoll_create1` interposers report
//! each one made there, worker 0 first (greenshim's own are created with the real functions).

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};

use crate::sys::real;

/// Most workers whose wake-ups are managed (may's own limit is 128 selectors).
const MAX_WORKERS: usize = 128;

/// One kind of recorded fd (the eventfds, or the epolls), worker `i` at index `i`.
struct Fds {
    fds: [AtomicI32; MAX_WORKERS],
    count: AtomicUsize,
    /// Lowest and highest fd: one range check rejects every other fd.
    lo: AtomicI32,
    hi: AtomicI32,
}

impl Fds {
    const fn new() -> Self {
        Fds {
            fds: [const { AtomicI32::new(-1) }; MAX_WORKERS],
            count: AtomicUsize::new(0),
            lo: AtomicI32::new(i32::MAX),
            hi: AtomicI32::new(-1),
        }
    }

    fn note(&self, fd: c_int) {
        let n = self.count.load(Ordering::Relaxed);
        if n < MAX_WORKERS {
            self.fds[n].store(fd, Ordering::Relaxed);
            self.count.store(n + 1, Ordering::Release);
        }
    }

    /// Publishes the range (turning lookups on) if there is one fd per worker.
    fn publish(&self, workers: usize) -> bool {
        let n = self.count.load(Ordering::Acquire);
        if n != workers || n == 0 {
            self.count.store(0, Ordering::Release);
            return false;
        }
        let fds = self.fds[..n].iter().map(|f| f.load(Ordering::Relaxed));
        let (lo, hi) = fds.fold((i32::MAX, -1), |(lo, hi), f| (lo.min(f), hi.max(f)));
        self.lo.store(lo, Ordering::Release);
        self.hi.store(hi, Ordering::Release);
        true
    }

    #[inline]
    fn worker_of(&self, fd: c_int) -> Option<usize> {
        if fd < self.lo.load(Ordering::Relaxed) || fd > self.hi.load(Ordering::Relaxed) {
            return None;
        }
        let n = self.count.load(Ordering::Acquire);
        self.fds[..n]
            .iter()
            .position(|f| f.load(Ordering::Relaxed) == fd)
    }
}

static EVENTFDS: Fds = Fds::new();
static EPOLLS: Fds = Fds::new();
/// A wake-up of the worker is on its way (written, or to be seen before it sleeps).
static PENDING: [AtomicBool; MAX_WORKERS] = [const { AtomicBool::new(false) }; MAX_WORKERS];
/// The worker is in (or about to enter) a sleeping `epoll_wait`.
static SLEEPING: [AtomicBool; MAX_WORKERS] = [const { AtomicBool::new(false) }; MAX_WORKERS];
/// Whether the worker's sleeps are known (its epoll was recognised): only then may a producer
/// skip the write because the worker is awake.
static SLEEPS_KNOWN: AtomicBool = AtomicBool::new(false);
static WRITTEN: AtomicU64 = AtomicU64::new(0);
static SKIPPED: AtomicU64 = AtomicU64::new(0);

crate::os_local! {
    static RECORDING: bool = false;
}

/// Runs `f` (the start of may's scheduler) recording the eventfds and epolls it creates as the
/// workers'; wake-ups are managed afterwards only if there is one of each per worker.
pub fn recording<R>(workers: usize, f: impl FnOnce() -> R) -> R {
    let r = RECORDING.scoped(f);
    if EVENTFDS.publish(workers) {
        SLEEPS_KNOWN.store(EPOLLS.publish(workers), Ordering::Release);
    }
    r
}

/// Called by the `eventfd` interposer with each eventfd it created.
pub fn note_eventfd(fd: c_int, flags: c_int) {
    if fd >= 0 && RECORDING.get() && flags & libc::EFD_SEMAPHORE == 0 {
        EVENTFDS.note(fd);
    }
}

/// Called by the `epoll_create1` interposer with each epoll it created.
pub fn note_epoll(fd: c_int) {
    if fd >= 0 && RECORDING.get() {
        EPOLLS.note(fd);
    }
}

/// The worker whose wake-up eventfd `fd` is.
#[inline]
pub fn worker_of(fd: c_int) -> Option<usize> {
    EVENTFDS.worker_of(fd)
}

/// The worker whose selector epoll `fd` is (only while sleeps are managed).
#[inline]
pub fn worker_of_epoll(fd: c_int) -> Option<usize> {
    EPOLLS.worker_of(fd)
}

/// A producer is about to write worker `w`'s eventfd: true if the write is not needed (a
/// wake-up is already on its way, or the worker is awake and will look before it sleeps).
#[inline]
pub fn skip_write(w: usize) -> bool {
    let skip = PENDING[w].swap(true, Ordering::SeqCst)
        || (SLEEPS_KNOWN.load(Ordering::Relaxed) && !SLEEPING[w].load(Ordering::SeqCst));
    if skip {
        SKIPPED.fetch_add(1, Ordering::Relaxed);
    } else {
        WRITTEN.fetch_add(1, Ordering::Relaxed);
    }
    skip
}

/// Worker `w` has drained its eventfd and is about to collect its queue.
#[inline]
pub fn consumed(w: usize) {
    PENDING[w].swap(false, Ordering::AcqRel);
}

/// Worker `w`'s sleeping `epoll_wait` on its selector: returns at once with its eventfd
/// reported ready when a wake-up is pending, else sleeps.
///
/// # Safety
/// The C contract of `epoll_wait(2)`; `max > 0`.
pub unsafe fn worker_wait(
    w: usize,
    epfd: c_int,
    events: *mut libc::epoll_event,
    max: c_int,
    timeout: c_int,
) -> c_int {
    SLEEPING[w].store(true, Ordering::SeqCst);
    if PENDING[w].load(Ordering::SeqCst) {
        SLEEPING[w].store(false, Ordering::Relaxed);
        // may's selector registers its eventfd with user data 0.
        // SAFETY: `events` has room for `max > 0` entries, per the contract.
        unsafe {
            events.write(libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: 0,
            });
        }
        return 1;
    }
    // SAFETY: the caller's arguments.
    let r = unsafe { real::epoll_wait(epfd, events, max, timeout) };
    SLEEPING[w].store(false, Ordering::Relaxed);
    r
}

/// Whether a wake-up of worker `w` is recorded as on its way. Once the workers are idle and
/// have drained their eventfds, every flag must be clear: a flag left set would make every
/// later wake-up of that worker be skipped while it sleeps.
pub fn pending(w: usize) -> bool {
    PENDING.get(w).is_some_and(|p| p.load(Ordering::Acquire))
}

/// Whether wake-ups are managed (may's eventfds were recognised at start-up).
pub fn active() -> bool {
    EVENTFDS.hi.load(Ordering::Acquire) >= 0
}

/// Whether the workers' sleeps are known too (may's epolls were recognised at start-up).
pub fn sleeps_known() -> bool {
    SLEEPS_KNOWN.load(Ordering::Acquire)
}

/// Wake-ups written and wake-ups skipped because one was already on its way, since start.
pub fn stats() -> (u64, u64) {
    (
        WRITTEN.load(Ordering::Relaxed),
        SKIPPED.load(Ordering::Relaxed),
    )
}
