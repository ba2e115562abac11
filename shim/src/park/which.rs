//! Which kind of thread the caller is: a green thread that may park, or anything else.
//! Answered without allocating, on any thread (a hook's first question).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Whether the caller runs on a green thread that may park.
///
/// A green thread that is unwinding (a panic, a kill, a `Timeout`) or inside the panic hook
/// counts as a plain thread: every wait it makes blocks its worker instead of parking. std
/// keeps the panic count and the "inside the panic hook" flag per OS thread, so a green thread
/// that parked mid-unwind would leave its worker "panicking" for the next green thread there,
/// whose own panic would then be a double panic and abort the process. `panicking()` costs one
/// relaxed load of std's global panic count while nothing panics anywhere.
///
/// A green thread bound to its worker ([`super::context::bind_to_worker`]) counts as a plain
/// thread for the rest of its life.
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

/// The probe of [`set_foreign_state_probe`], as a function address (0: none).
static FOREIGN_STATE: AtomicUsize = AtomicUsize::new(0);

/// Registers `probe`, which says whether the calling OS thread is inside state of another
/// runtime that lives in its thread-locals (tokio's "runtime entered" and current handle,
/// which `block_on` sets), where a green thread must not park: the next green thread on the
/// worker would find that state, or the parked one would resume on another worker without it.
/// The interposers ask it ([`entered_foreign_state`]) before they let a green thread's call
/// park; the first time it says yes, that green thread is bound to its worker
/// ([`super::context::bind_to_worker`]). `probe` runs on may's workers only, must not park, and
/// must be cheap when it says no.
pub fn set_foreign_state_probe(probe: fn() -> bool) {
    FOREIGN_STATE.store(probe as usize, Ordering::Release);
}

/// Whether the running green thread's OS thread is inside another runtime's state (the probe
/// of [`set_foreign_state_probe`]); binds the green thread to its worker if so. Asked by the
/// interposers, on green threads only: code inside such a runtime reaches greenshim through
/// the libc calls it makes before it waits (greenshim's own API used inside `block_on` is not
/// asked, which keeps its hot paths free of the probe).
#[inline]
pub fn entered_foreign_state() -> bool {
    let p = FOREIGN_STATE.load(Ordering::Acquire);
    if p == 0 {
        return false;
    }
    // SAFETY: a non-zero value was stored from a `fn() -> bool` by `set_foreign_state_probe`.
    let probe: fn() -> bool = unsafe { std::mem::transmute::<usize, fn() -> bool>(p) };
    if !probe() {
        return false;
    }
    super::context::bind_green();
    true
}

/// may's threads (its timer and workers), recorded once the runtime has started; `None` inside
/// when they could not be told apart (may was started before greenshim's runtime): then every
/// thread counts as one of may's.
static MAY_THREADS: OnceLock<Option<Box<[i32]>>> = OnceLock::new();

crate::os_local! {
    /// Whether this OS thread is one of may's: [`UNKNOWN`], [`MAY`], [`OTHER`], or [`BOUND`].
    static ON_MAY_THREAD: u8 = UNKNOWN;
}

const UNKNOWN: u8 = 0;
const MAY: u8 = 1;
const OTHER: u8 = 2;
/// One of may's workers, running a green thread bound to it: that green thread counts as a
/// plain thread until it ends (no other green thread runs here meanwhile: it never parks).
const BOUND: u8 = 3;

/// Binds the green thread running on this worker to it until the green thread ends: from now
/// on it counts as a plain thread, so it never parks, yields or moves again, and every wait it
/// makes blocks this worker. For a green thread that has entered state of its OS thread that
/// greenshim cannot see and that must not be shared with other green threads or left behind:
/// an event loop greenshim did not create. Called on a green thread only.
pub(crate) fn bind_running() {
    ON_MAY_THREAD.set(BOUND);
}

/// Whether the green thread running on this OS thread is bound to it ([`super::context::bind_to_worker`]).
pub fn running_bound() -> bool {
    ON_MAY_THREAD.get() == BOUND
}

/// Ends the binding of [`bind_running`] (the bound green thread has ended).
pub(crate) fn unbind() {
    if ON_MAY_THREAD.get() == BOUND {
        ON_MAY_THREAD.set(MAY);
    }
}

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
        OTHER | BOUND => false,
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
