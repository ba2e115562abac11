//! The `Locks` family: futex waits that park the green thread instead of its worker.
//!
//! std's `Mutex`, `RwLock`, `Condvar`, `Once` (and so `OnceLock`, `LazyLock`, `Barrier`) wait
//! with `syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, …)` on a word inside
//! the lock object, and wake with `FUTEX_WAKE`; parking_lot and other crates do the same
//! through the same `syscall` symbol. Any number of waiters per word is part of that protocol,
//! so a green thread can wait on greenshim's *futex table* instead of in the kernel:
//!
//! ```text
//!  green waiter G (FUTEX_WAIT word, v)        waker W (any thread: FUTEX_WAKE word, n)
//!  -----------------------------------        ---------------------------------------
//!  GREEN_WAITERS += 1; fence
//!  lock bucket(word)
//!  *word != v ? -> unlock, EAGAIN             *word = new value        (user code)
//!  queue node(word) ; unlock                  fence; GREEN_WAITERS == 0 ? -> kernel only
//!  park . . . . . . . . . . . . . . . . . .   lock bucket(word); pop up to n nodes of word
//!        <---------------------------------   wake them; unlock
//!  notified -> 0 ; deadline -> ETIMEDOUT      fewer than n? -> kernel FUTEX_WAKE for the rest
//! ```
//!
//! The value check and the queueing happen under the bucket lock, and a waker takes that lock
//! after changing the word, so a wake is never lost (the kernel's own argument). Green waiters
//! and kernel waiters (plain threads) of one word coexist: a wake serves green waiters first
//! and hands what is left to the kernel.
//!
//! **Waits on per-OS-thread state are never parked here.** `std::thread::park` (and with it
//! `std::sync::mpsc` and `crossbeam-channel`) waits on the parker inside the worker's own std
//! `Thread`, and parking_lot on a word inside its thread-local `ThreadData`; every green thread
//! on a worker shares both, so parking two of them cooperatively would corrupt the protocol.
//! Such a wait is recognised by its word — inside the calling OS thread's own stack block
//! (its stack, static TLS and thread descriptor) or equal to its std parker (found once per
//! OS thread by a probe) — and goes to the kernel: the worker blocks.
//!
//! A futex shared with another process (no `FUTEX_PRIVATE_FLAG`) and every other futex
//! operation (requeue, PI, wake-op) are the kernel's.
//!
//! Kills and timeouts cannot unwind through `syscall`, and std's lock loops retry a wait that
//! returns early, so a green thread in a hooked futex wait is not interrupted: the kill or
//! timeout stays pending and is raised at its next park point after the wait ends (for a
//! lock: once the lock is taken and the code parks again).

use std::ffi::c_long;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{Family, decide, set_errno};
use crate::park::context;
use crate::park::waitqueue::{self, Wait, WaitQueue, Woken};

const FUTEX_WAIT: i32 = libc::FUTEX_WAIT;
const FUTEX_WAKE: i32 = libc::FUTEX_WAKE;
const FUTEX_WAIT_BITSET: i32 = libc::FUTEX_WAIT_BITSET;
const FUTEX_WAKE_BITSET: i32 = libc::FUTEX_WAKE_BITSET;
/// The wake mask that meets every wait.
pub(super) const BITSET_ALL: u32 = u32::MAX;

/// What a hooked futex call decided.
enum Route {
    /// Done here, with this `syscall` result (`-1` with `errno` set on failure).
    Done(c_long),
    /// The kernel's: pass the call through unchanged.
    Kernel,
    /// A wait on per-OS-thread state by a green thread: the kernel's, the other workers woken.
    ThreadBound,
    /// The same on this OS thread's std parker, in a parked state: the kernel's, in slices
    /// (see [`parker_wait`]).
    Parker {
        word: usize,
        deadline: Option<Instant>,
    },
}

/// The decoded arguments of a futex call greenshim handles.
#[derive(Debug, Clone, Copy)]
enum Op {
    Wait {
        word: usize,
        expected: u32,
        deadline: Option<Instant>,
        bitset: u32,
    },
    Wake {
        word: usize,
        count: i32,
        bitset: u32,
    },
}

/// Decodes `futex(word, op, val, timeout, _, val3)`; `None` for what the kernel keeps (shared
/// futexes, other operations), `Err` for an argument the kernel would reject.
fn decode(word: usize, op: i32, val: u32, timeout: usize, val3: u32) -> Option<Result<Op, i32>> {
    if op & libc::FUTEX_PRIVATE_FLAG == 0 {
        return None;
    }
    let realtime = op & libc::FUTEX_CLOCK_REALTIME != 0;
    let cmd = op & !(libc::FUTEX_PRIVATE_FLAG | libc::FUTEX_CLOCK_REALTIME);
    let bitset = match cmd {
        FUTEX_WAIT | FUTEX_WAKE => BITSET_ALL,
        FUTEX_WAIT_BITSET | FUTEX_WAKE_BITSET if val3 == 0 => return Some(Err(libc::EINVAL)),
        FUTEX_WAIT_BITSET | FUTEX_WAKE_BITSET => val3,
        _ => return None,
    };
    if !word.is_multiple_of(4) {
        return Some(Err(libc::EINVAL));
    }
    Some(match cmd {
        FUTEX_WAKE | FUTEX_WAKE_BITSET => Ok(Op::Wake {
            word,
            count: val as i32,
            bitset,
        }),
        _ => deadline(cmd, realtime, timeout).map(|deadline| Op::Wait {
            word,
            expected: val,
            deadline,
            bitset,
        }),
    })
}

/// The deadline of a wait: `FUTEX_WAIT`'s timeout is relative, `FUTEX_WAIT_BITSET`'s absolute
/// on the monotonic clock (the realtime clock with `FUTEX_CLOCK_REALTIME`); null is none.
fn deadline(cmd: i32, realtime: bool, timeout: usize) -> Result<Option<Instant>, i32> {
    if timeout == 0 {
        return Ok(None);
    }
    // SAFETY: a non-null timeout of a futex wait points at a timespec (the futex(2) contract).
    let ts = unsafe { &*(timeout as *const libc::timespec) };
    let (clock, flags) = match (cmd, realtime) {
        (FUTEX_WAIT, _) => (libc::CLOCK_MONOTONIC, 0),
        (_, false) => (libc::CLOCK_MONOTONIC, libc::TIMER_ABSTIME),
        (_, true) => (libc::CLOCK_REALTIME, libc::TIMER_ABSTIME),
    };
    super::sleep::deadline_of(clock, flags, ts)
}

/// greenshim's side of `syscall(SYS_futex, …)`.
fn hook(args: [c_long; 6]) -> Route {
    let word = args[0] as usize;
    if PROBE.get() {
        // The parker probe below: remember the word, fail the wait at once.
        PARKER.set(word);
        set_errno(libc::ETIMEDOUT);
        return Route::Done(-1);
    }
    let op = decode(
        word,
        args[1] as i32,
        args[2] as u32,
        args[3] as usize,
        args[5] as u32,
    );
    match op {
        None => Route::Kernel,
        Some(Err(code)) => {
            set_errno(code);
            Route::Done(-1)
        }
        Some(Ok(op)) => route(op),
    }
}

fn route(op: Op) -> Route {
    match op {
        Op::Wake {
            word,
            count,
            bitset,
        } => wake(word, count, bitset),
        Op::Wait {
            word,
            expected,
            deadline,
            bitset,
        } => {
            let mut thread_bound = false;
            let green = decide(Family::Locks, |green| {
                thread_bound = green && is_thread_bound(word);
                green && !thread_bound
            });
            if green {
                Route::Done(wait(word, expected, deadline, bitset))
            } else if thread_bound && expected == STD_PARKED && word == parker_word() {
                Route::Parker { word, deadline }
            } else if thread_bound || foreign_wait() {
                // A green thread inside another runtime's state waits as a plain thread,
                // blocking the worker: the same as a wait on per-OS-thread state.
                Route::ThreadBound
            } else {
                Route::Kernel
            }
        }
    }
}

/// Whether a futex wait that does not park is a green thread's inside another runtime's state
/// (counted).
fn foreign_wait() -> bool {
    let foreign = crate::park::which::green_inside_foreign_state();
    if foreign {
        crate::park::which::note_foreign_wait();
    }
    foreign
}

// ---------------------------------------------------------------------------------------------
// The futex table

/// Waiters of one word; the payload is the wait's bit mask.
struct WordQueue {
    word: usize,
    waiters: WaitQueue<u32>,
}

/// The words of one hash bucket that have green waiters (a handful at most).
struct Bucket {
    words: Vec<WordQueue>,
}

impl Bucket {
    fn queue(&mut self, word: usize) -> &mut WaitQueue<u32> {
        let i = match self.words.iter().position(|q| q.word == word) {
            Some(i) => i,
            None => {
                self.words.retain(|q| !q.waiters.is_empty());
                self.words.push(WordQueue {
                    word,
                    waiters: WaitQueue::new(),
                });
                self.words.len() - 1
            }
        };
        &mut self.words[i].waiters
    }
}

const BUCKETS: usize = 256;
/// The bucket locks are held only for a few loads and pointer moves, never across a park; a
/// contended one waits in the kernel (the table's own futex waits pass through: `inside`).
static TABLE: [Mutex<Bucket>; BUCKETS] =
    [const { Mutex::new(Bucket { words: Vec::new() }) }; BUCKETS];
/// Green threads queued in the table (or about to be): a wake with none goes to the kernel
/// without touching the table.
static GREEN_WAITERS: AtomicUsize = AtomicUsize::new(0);
static THREAD_BOUND: AtomicU64 = AtomicU64::new(0);
static GREEN_WAKES: AtomicU64 = AtomicU64::new(0);

/// Locks `bucket` as greenshim's own code: a contended bucket lock waits in the kernel, never
/// in the table it guards.
fn lock_bucket(bucket: &Mutex<Bucket>) -> MutexGuard<'_, Bucket> {
    crate::sys::inside(|| bucket.lock().unwrap_or_else(PoisonError::into_inner))
}

fn bucket(word: usize) -> &'static Mutex<Bucket> {
    // Fibonacci hashing of the word's address, without its always-zero low bits.
    let h = ((word >> 2) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56;
    &TABLE[h as usize % BUCKETS]
}

/// Parks the green thread on `word` while it holds `expected`. The `syscall` result.
fn wait(word: usize, expected: u32, deadline: Option<Instant>, bitset: u32) -> c_long {
    // SAFETY: the caller's futex word: aligned (checked in `decode`) and valid for reads, as
    // futex(2) requires of it; futex words are only ever accessed atomically.
    let current = unsafe { &*(word as *const AtomicU32) };
    let blocked = || current.load(Ordering::SeqCst) == expected;
    match park_on(word, bitset, "futex wait", deadline, blocked, || {}) {
        Parked::Woken => 0,
        Parked::NotBlocked => {
            set_errno(libc::EAGAIN);
            -1
        }
        Parked::TimedOut => {
            set_errno(libc::ETIMEDOUT);
            -1
        }
    }
}

/// How a [`park_on`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Parked {
    /// The check said there was nothing to wait for; the green thread did not park.
    NotBlocked,
    /// A wake of the key chose this waiter.
    Woken,
    /// The deadline passed first.
    TimedOut,
}

/// Parks the calling green thread on the table's queue for `key` (a futex word, or the address
/// of a C lock object) with wake mask `bitset`, unless `blocked` — checked under the key's
/// bucket lock, which every wake of `key` takes after changing what `blocked` reads — says
/// there is nothing to wait for. `then` runs once the waiter is queued and the bucket unlocked,
/// before it parks (a condition variable releases the caller's mutex there). Uninterruptible: a
/// kill or timeout stays pending.
pub(super) fn park_on(
    key: usize,
    bitset: u32,
    what: &'static str,
    deadline: Option<Instant>,
    blocked: impl FnOnce() -> bool,
    then: impl FnOnce(),
) -> Parked {
    GREEN_WAITERS.fetch_add(1, Ordering::SeqCst);
    // Pairs with the fence in `wake_green`: either the waker sees this waiter counted, or this
    // waiter sees the state the waker changed before it woke.
    fence(Ordering::SeqCst);
    let counted = || {
        let lock = bucket(key);
        let guard = lock_bucket(lock);
        if !blocked() {
            return Parked::NotBlocked;
        }
        let ctx = context::current();
        let how = Wait::new(&ctx)
            .on(what)
            .at(key)
            .until(deadline)
            .uninterruptible()
            .reposting_stray_wakes();
        match waitqueue::wait(lock, guard, |b| b.queue(key), bitset, how, then).0 {
            Woken::Notified => Parked::Woken,
            Woken::TimedOut | Woken::Interrupted(_) => Parked::TimedOut,
        }
    };
    let r = counted();
    GREEN_WAITERS.fetch_sub(1, Ordering::SeqCst);
    r
}

/// Wakes up to `count` green threads parked on `key` (by [`park_on`]) whose mask meets
/// `bitset`; how many it woke.
pub(super) fn wake_green(key: usize, count: i32, bitset: u32) -> i32 {
    // Patched or not: a green thread queued before an unpatch is still woken here.
    fence(Ordering::SeqCst);
    if count <= 0 || GREEN_WAITERS.load(Ordering::SeqCst) == 0 {
        return 0;
    }
    let mut woken = 0;
    {
        let mut b = lock_bucket(bucket(key));
        if let Some(q) = b.words.iter_mut().find(|q| q.word == key) {
            while woken < count && q.waiters.notify_first_where(|mask| mask & bitset != 0) {
                woken += 1;
            }
        }
    }
    GREEN_WAKES.fetch_add(woken as u64, Ordering::Relaxed);
    woken
}

/// Wakes up to `count` waiters of `word` whose mask meets `bitset`: green ones from the table
/// first, then the kernel's.
fn wake(word: usize, count: i32, bitset: u32) -> Route {
    let woken = wake_green(word, count, bitset);
    if woken == 0 {
        return Route::Kernel;
    }
    if woken == count {
        return Route::Done(woken.into());
    }
    let rest = kernel_wake(word, count - woken, bitset);
    Route::Done(c_long::from(woken) + rest.max(0))
}

fn kernel_wake(word: usize, count: i32, bitset: u32) -> c_long {
    let (op, val3) = if bitset == BITSET_ALL {
        (FUTEX_WAKE, 0)
    } else {
        (FUTEX_WAKE_BITSET, bitset)
    };
    // SAFETY: a futex wake of the caller's word; the kernel validates everything else.
    unsafe {
        crate::sys::real::syscall(
            libc::SYS_futex,
            [
                word as c_long,
                (op | libc::FUTEX_PRIVATE_FLAG) as c_long,
                count as c_long,
                0,
                0,
                val3 as c_long,
            ],
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Per-OS-thread words

crate::os_local! {
    /// Set while [`parker_word`] probes this thread's std parker.
    static PROBE: bool = false;
    /// The futex word of this OS thread's std parker, once probed (0: not yet, 1: none).
    static PARKER: usize = 0;
    /// This OS thread's stack block `[lo, hi)` (stack, static TLS, thread descriptor), once
    /// known (`(0, 0)`: not yet; `(1, 1)`: unknown).
    static STACK_BLOCK: (usize, usize) = (0, 0);
}

/// Whether `word` is state of the calling OS thread that every green thread on it shares: its
/// std parker, or anything in its own stack block (parking_lot's thread-local `ThreadData`).
/// Reads thread-locals: called before any park, never after.
#[inline(never)]
fn is_thread_bound(word: usize) -> bool {
    let (lo, hi) = stack_block();
    (lo..hi).contains(&word) || word == parker_word()
}

fn stack_block() -> (usize, usize) {
    let known = STACK_BLOCK.get();
    if known != (0, 0) {
        return known;
    }
    let block = crate::sys::inside(crate::sys::thread_stack_block).unwrap_or((1, 1));
    STACK_BLOCK.set(block);
    block
}

/// The word std's `thread::park` waits on for this OS thread, found by letting std park with
/// a zero timeout while [`hook`] records the word instead of waiting.
fn parker_word() -> usize {
    let known = PARKER.get();
    if known != 0 {
        return known;
    }
    PARKER.set(1);
    PROBE.set(true);
    std::thread::park_timeout(Duration::ZERO);
    let mut consumed_token = false;
    if PARKER.get() == 1 {
        // The first call consumed a pending unpark without waiting; the second one waits.
        consumed_token = true;
        std::thread::park_timeout(Duration::ZERO);
    }
    PROBE.set(false);
    if consumed_token {
        std::thread::current().unpark();
    }
    PARKER.get()
}

/// The value of std's futex parker while its thread is parked (`library/std/src/sys/sync/
/// thread_parking/futex.rs`: `PARKED = State::MAX`, `EMPTY = 0`, `NOTIFIED = 1`, a `u32` on
/// Linux). A wait on the parker word for any other value stays unbounded.
const STD_PARKED: u32 = u32::MAX;
const STD_NOTIFIED: u32 = 1;

/// How long a green thread's wait on its worker's std parker lasts at most before it returns as
/// if unparked.
const PARKER_SLICE: Duration = Duration::from_millis(50);

static PARKER_SLICES: AtomicU64 = AtomicU64::new(0);

/// A green thread's futex wait on its worker's std parker (`thread::park`), which blocks the
/// worker. It returns, as if unparked, after [`PARKER_SLICE`] at most: `thread::park` may
/// return spuriously, and every caller checks its condition again.
///
/// The bound turns a lost wake-up into a delay. A green thread can move to another worker
/// inside a per-OS-thread protocol, when it parks on a contended lock that the protocol takes
/// (crossbeam-channel and std's `mpsc` register the waiting thread's handle, then lock a
/// `Mutex` before they park). It then waits on its new worker's parker while the unpark meant
/// for it goes to the parker of the worker it registered on. Without the bound that wait lasted
/// until something else unparked the new worker, possibly for good.
///
/// The slice ends by doing what `unpark` does without a waiter: the word goes from parked to
/// notified, which std's `park` consumes and returns. A real unpark meanwhile only makes the
/// same store.
fn parker_wait(word: usize, deadline: Option<Instant>) -> c_long {
    // SAFETY: the word `parker_word` found for this OS thread: std's parker, which lives as long
    // as its thread and is only accessed atomically.
    let state = unsafe { &*(word as *const AtomicU32) };
    let now = Instant::now();
    let until = deadline.map_or(now + PARKER_SLICE, |d| d.min(now + PARKER_SLICE));
    let _untimed = deadline.is_none().then(UntimedPark::enter).flatten();
    let timeout = duration_timespec(until.saturating_duration_since(now));
    // SAFETY: a futex wait on this thread's parker word (valid for reads, aligned), with a
    // relative timeout that lives across the call.
    let r = unsafe {
        crate::sys::real::syscall(
            libc::SYS_futex,
            [
                word as c_long,
                (FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG) as c_long,
                STD_PARKED as c_long,
                &raw const timeout as c_long,
                0,
                0,
            ],
        )
    };
    if r != -1 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ETIMEDOUT) {
        return r; // woken, or the word had changed (EAGAIN), or a signal (EINTR)
    }
    if deadline.is_some_and(|d| d <= until) {
        return -1; // the caller's own timeout, with errno ETIMEDOUT
    }
    PARKER_SLICES.fetch_add(1, Ordering::Relaxed);
    let _ = state.compare_exchange(
        STD_PARKED,
        STD_NOTIFIED,
        Ordering::Release,
        Ordering::Relaxed,
    );
    0
}

/// Marks the worker's switch record while a wait without deadline runs in slices (the deadlock
/// check reads it: such a worker is stuck unless another thread unparks it).
struct UntimedPark(&'static crate::trace::Slot);

impl UntimedPark {
    fn enter() -> Option<Self> {
        let slot = crate::trace::existing_slot()?;
        slot.untimed_park.store(true, Ordering::Relaxed);
        Some(UntimedPark(slot))
    }
}

impl Drop for UntimedPark {
    fn drop(&mut self) {
        self.0.untimed_park.store(false, Ordering::Relaxed);
    }
}

fn duration_timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().try_into().unwrap_or(libc::time_t::MAX),
        tv_nsec: d.subsec_nanos().into(),
    }
}

/// Counts of the futex table since start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FutexStats {
    /// Green threads woken from the table by a futex wake (from any thread).
    pub green_wakes: u64,
    /// Futex waits of green threads on per-OS-thread state (`thread::park`, parking_lot's
    /// thread data), left to the kernel: each blocks its worker.
    pub thread_bound_waits: u64,
    /// Times such a wait woke the other workers to take the blocked worker's green threads.
    pub other_workers_woken: u64,
    /// Workers blocked in such a wait right now.
    pub workers_blocked_now: usize,
    /// Waits on a worker's std parker that ended after `PARKER_SLICE` (50 ms) as if unparked
    /// (see `parker_wait`).
    pub parker_slices: u64,
    /// Green threads in the table now.
    pub waiting_now: usize,
}

/// The futex table's counters.
pub fn stats() -> FutexStats {
    FutexStats {
        green_wakes: GREEN_WAKES.load(Ordering::Relaxed),
        thread_bound_waits: THREAD_BOUND.load(Ordering::Relaxed),
        other_workers_woken: crate::fd::reactor::blocking_wakes(),
        workers_blocked_now: crate::fd::reactor::workers_blocked_now(),
        parker_slices: PARKER_SLICES.load(Ordering::Relaxed),
        waiting_now: GREEN_WAITERS.load(Ordering::Relaxed),
    }
}

/// greenshim's `syscall`: futex operations go through the futex table, every other system call
/// straight to the kernel with all six arguments.
///
/// `syscall` is variadic in C. Its arguments are declared here as six `long`s, which is how
/// the 64-bit Linux ABIs pass variadic integer arguments (the same registers, then the same
/// stack slots, as named ones; the interposed `fcntl`, `ioctl` and `open` rely on the same
/// fact). A caller that passes fewer arguments leaves the rest unspecified; they are passed
/// on unread by the kernel, as libc's own `syscall` does.
///
/// # Safety
/// The C contract of `syscall(2)` for the call's number.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn syscall(
    number: c_long,
    a1: c_long,
    a2: c_long,
    a3: c_long,
    a4: c_long,
    a5: c_long,
    a6: c_long,
) -> c_long {
    let args = [a1, a2, a3, a4, a5, a6];
    if number == libc::SYS_futex {
        match hook(args) {
            Route::Done(r) => return r,
            Route::Kernel => {}
            Route::ThreadBound => {
                THREAD_BOUND.fetch_add(1, Ordering::Relaxed);
                // The worker is about to block: the other workers take its queue meanwhile.
                // SAFETY: the caller's call, unchanged.
                return crate::fd::reactor::block_worker(&THREAD_BOUND_WAIT, || unsafe {
                    crate::sys::real::syscall(number, args)
                });
            }
            Route::Parker { word, deadline } => {
                THREAD_BOUND.fetch_add(1, Ordering::Relaxed);
                return crate::fd::reactor::block_worker(&THREAD_BOUND_WAIT, || {
                    parker_wait(word, deadline)
                });
            }
        }
    }
    // SAFETY: the caller's call, unchanged.
    unsafe { crate::sys::real::syscall(number, args) }
}

/// The libc call a thread-bound wait shows as (a `static`: the mark keeps its address).
static THREAD_BOUND_WAIT: &str = crate::trace::THREAD_BOUND_FUTEX_WAIT;

/// References every interposer of the family, so that a binary that patches links them.
pub(crate) fn keep_linked() {
    std::hint::black_box(syscall as *const ());
}
