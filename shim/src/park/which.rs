//! Which kind of thread the caller is: a green thread that may park, or anything else.
//! Answered without allocating, on any thread (a hook's first question).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Whether the caller runs on a green thread that may park.
///
/// A green thread that is unwinding (a panic, a kill, a `Timeout`) or inside the panic hook
/// counts as a plain thread: every wait it makes blocks its worker instead of parking. std
/// keeps the panic count and the "inside the panic hook" flag per OS thread, so a green thread
/// that parked mid-unwind would leave its worker "panicking" for the next green thread there,
/// whose own panic would then be a double panic and abort the process. `panicking()` costs one
/// relaxed load of std's global panic count while nothing panics anywhere.
///
/// In a forked child nothing is green: the runtime's threads were not copied, so even the
/// green thread that called `fork` continues there as a plain thread (its waits block).
///
/// Only may's own threads are asked whether they run a coroutine: may's answer sets up a
/// per-thread context with an allocation on a thread's first call, and a hooked call on any
/// other thread (std's allocation-failure hook writing to stderr on a thread whose memory ran
/// out, for one) must not allocate.
#[inline]
pub fn on_green_thread() -> bool {
    !crate::sys::in_forked_child()
        && on_may_thread()
        && may::coroutine::is_coroutine()
        && !std::thread::panicking()
}

/// The probe of [`set_foreign_state_probe`].
static FOREIGN_STATE: OnceLock<fn() -> bool> = OnceLock::new();

/// Registers `probe`, which says whether the calling OS thread is inside state of another
/// runtime that lives in its thread-locals (tokio's "runtime entered" and current handle,
/// which `block_on` sets until it returns), where a green thread must not park: the next green
/// thread on the worker would find that state, or the parked one would resume on another
/// worker without it. The interposers ask it ([`inside_foreign_state`]) before they let a
/// green thread's libc call park; while it says yes, the green thread's calls wait as a plain
/// thread's would, blocking the worker. `probe` runs on may's workers only, must not park,
/// and must be cheap when it says no. The first probe registered stays.
pub fn set_foreign_state_probe(probe: fn() -> bool) {
    let _ = FOREIGN_STATE.set(probe);
}

/// Whether the calling green thread's OS thread is inside another runtime's state now (the
/// probe of [`set_foreign_state_probe`]). Asked by the interposers, on green threads only:
/// code inside such a runtime reaches greenshim through the libc calls it makes before it
/// waits (greenshim's own API used inside `block_on` is not asked, which keeps its hot paths
/// free of the probe).
#[inline]
pub fn inside_foreign_state() -> bool {
    FOREIGN_STATE.get().is_some_and(|probe| probe())
}

/// Whether a wait the caller is about to make belongs to a green thread inside another
/// runtime's state: it must block the worker (see [`inside_foreign_state`]).
pub fn green_inside_foreign_state() -> bool {
    on_green_thread() && inside_foreign_state()
}

static FOREIGN_WAITS: AtomicU64 = AtomicU64::new(0);

/// Counts a wait left to the kernel because its green thread was inside another runtime's
/// state or event loop.
pub fn note_foreign_wait() {
    FOREIGN_WAITS.fetch_add(1, Ordering::Relaxed);
}

/// Waits of green threads left to the kernel, blocking their worker, because they were made
/// inside another runtime's state or event loop.
pub fn foreign_waits() -> u64 {
    FOREIGN_WAITS.load(Ordering::Relaxed)
}

/// may's threads (its timer and workers), recorded once the runtime has started; `None` inside
/// when they could not be told apart (may was started before greenshim's runtime): then every
/// thread counts as one of may's.
static MAY_THREADS: OnceLock<Option<Box<[i32]>>> = OnceLock::new();

crate::os_local! {
    /// Whether this OS thread is one of may's: [`UNKNOWN`], [`MAY`] or [`OTHER`].
    static ON_MAY_THREAD: u8 = UNKNOWN;
}

const UNKNOWN: u8 = 0;
const MAY: u8 = 1;
const OTHER: u8 = 2;

/// Records may's threads (at runtime start-up): the threads that appeared while it started,
/// which must be at least its `workers` and its timer.
pub fn note_may_threads(tids: &[i32], workers: usize) {
    let known = (tids.len() > workers).then(|| tids.into());
    let _ = MAY_THREADS.set(known);
}

/// Whether the calling OS thread is one of may's, without allocating.
#[inline]
fn on_may_thread() -> bool {
    match ON_MAY_THREAD.get() {
        MAY => true,
        OTHER => false,
        _ => {
            // Before start-up nothing runs green; don't remember that (a worker may ask while
            // the runtime starts).
            let Some(known) = MAY_THREADS.get() else {
                return false;
            };
            let yes = known
                .as_ref()
                .is_none_or(|tids| tids.contains(&crate::sys::gettid()));
            ON_MAY_THREAD.set(if yes { MAY } else { OTHER });
            yes
        }
    }
}
