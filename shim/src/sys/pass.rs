//! The pass-through flags every interposer and every greenshim libc call consult: whether this
//! process is a forked child (hooks go straight to libc there: no locks, no allocation), and
//! whether the calling OS thread is inside greenshim's own code (its libc calls are not the
//! user's and pass through). Plus `errno`, which both the hooks and the offload pool set.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

static IN_FORKED_CHILD: AtomicBool = AtomicBool::new(false);

/// Whether this is a child forked from a process that loaded greenshim (hooks pass through
/// there: no locks, no allocation).
#[inline]
pub fn in_forked_child() -> bool {
    IN_FORKED_CHILD.load(Ordering::Relaxed)
}

/// Registers the `pthread_atfork` child handler that sets [`in_forked_child`] (once).
pub fn install_fork_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        extern "C" fn in_child() {
            IN_FORKED_CHILD.store(true, Ordering::Relaxed);
        }
        // SAFETY: registers a plain function that only stores to a static; no preconditions.
        unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
    });
}

thread_local! {
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling OS thread runs greenshim's own code (see [`inside`]).
#[inline]
pub fn is_inside() -> bool {
    INSIDE.with(Cell::get)
}

/// Runs `f` as greenshim's own code: the interposers pass the libc calls it makes straight
/// through. `f` must not park (the flag belongs to the OS thread).
pub fn inside<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            INSIDE.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(INSIDE.with(|c| c.replace(true)));
    f()
}

/// Sets `errno` (for an interposer that fails with `-1`).
pub fn set_errno(code: i32) {
    // SAFETY: `__errno_location` returns the calling thread's errno slot, always valid.
    unsafe { *libc::__errno_location() = code };
}
