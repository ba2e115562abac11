//! The libc interposition layer behind `greenshim::monkey`: `extern "C"` definitions of libc
//! symbols that, once their *family* is patched, make a call from a green thread cooperative.
//!
//! The symbols are exported by any binary that links this module (the `greenshim::monkey`
//! entry points reference it, so calling them links it). Every call of the symbol in the
//! process then lands here: std's, other crates', C libraries'. Each interposer decides with
//! [`cooperative`] in a few loads whether to take the cooperative path:
//!
//! ```text
//!  hook(args)
//!   family patched?            no  -> real libc (pointer resolved once at load time)
//!   post-fork child?           yes -> real libc   (no locks, no allocation in the child)
//!   inside greenshim itself?   yes -> real libc   (greenshim's own calls pass through)
//!   on a green thread?         no  -> real libc   (plain threads are never changed)
//!   else: the cooperative path (park instead of blocking), counted per family
//! ```
//!
//! Interposers cannot unwind: their callers (std included) declare libc functions
//! `extern "C"`, so an unwind through them aborts the process. A kill or `Timeout` that
//! reaches a green thread parked in a hook is therefore *delivered as a result*: the call
//! returns early (a sleep returns, an I/O call fails), the interrupt is recorded as delivered
//! in the green thread's context, and `Timeout::run` and the greenlet's completion read it.

pub mod real;
pub mod sleep;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::context;

/// A group of libc symbols patched together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// `sleep`, `usleep`, `nanosleep`, `clock_nanosleep` (std's `thread::sleep`): the green
    /// thread sleeps on greenshim's timer.
    Sleep,
    /// `getaddrinfo`: every lookup made on a green thread runs on the offload pool.
    Dns,
}

impl Family {
    /// Every family this release can patch.
    pub const ALL: [Family; 2] = [Family::Sleep, Family::Dns];

    fn bit(self) -> u32 {
        1 << self as u32
    }

    fn index(self) -> usize {
        self as usize
    }
}

static PATCHED: AtomicU32 = AtomicU32::new(0);
static IN_FORKED_CHILD: AtomicBool = AtomicBool::new(false);

/// Per-family counters.
struct Counters {
    cooperative: AtomicU64,
    passed: AtomicU64,
}

static COUNTERS: [Counters; Family::ALL.len()] = [const {
    Counters {
        cooperative: AtomicU64::new(0),
        passed: AtomicU64::new(0),
    }
}; Family::ALL.len()];

/// Counts of one family since start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FamilyStats {
    /// Calls that took the cooperative path (parked, or ran off the worker).
    pub cooperative: u64,
    /// Calls made while the family was patched that went straight to libc (plain threads,
    /// greenshim's own calls, a forked child).
    pub passed_through: u64,
}

/// The counters of `family`.
pub fn stats(family: Family) -> FamilyStats {
    let c = &COUNTERS[family.index()];
    FamilyStats {
        cooperative: c.cooperative.load(Ordering::Relaxed),
        passed_through: c.passed.load(Ordering::Relaxed),
    }
}

/// Turns the cooperative path of `family` on. Resolves the real libc symbols first and
/// installs the fork handler (once).
pub fn patch(family: Family) {
    sleep::keep_linked();
    std::hint::black_box(crate::dns::getaddrinfo as *const ());
    real::resolve_all();
    install_fork_handler();
    PATCHED.fetch_or(family.bit(), Ordering::SeqCst);
}

/// Turns the cooperative path of `family` off; calls pass straight to libc again.
pub fn unpatch(family: Family) {
    PATCHED.fetch_and(!family.bit(), Ordering::SeqCst);
}

/// Whether `family` is patched.
pub fn is_patched(family: Family) -> bool {
    PATCHED.load(Ordering::Relaxed) & family.bit() != 0
}

/// The interposers' decision: true if this call of a `family` symbol takes the cooperative
/// path. Cheap when the family is not patched (one relaxed load).
#[inline]
pub fn cooperative(family: Family) -> bool {
    if PATCHED.load(Ordering::Relaxed) & family.bit() == 0 {
        return false;
    }
    let c = &COUNTERS[family.index()];
    if IN_FORKED_CHILD.load(Ordering::Relaxed) || !context::on_green_thread() {
        c.passed.fetch_add(1, Ordering::Relaxed);
        return false;
    }
    c.cooperative.fetch_add(1, Ordering::Relaxed);
    true
}

fn install_fork_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        extern "C" fn in_child() {
            IN_FORKED_CHILD.store(true, Ordering::Relaxed);
        }
        // SAFETY: registers a plain function that only stores to a static; no preconditions.
        unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
    });
}

/// Sets `errno` (for an interposer that fails with `-1`).
pub fn set_errno(code: i32) {
    // SAFETY: `__errno_location` returns the calling thread's errno slot, always valid.
    unsafe { *libc::__errno_location() = code };
}
