//! The pass-through flags every interposer and every greenshim libc call consult: whether this
//! process is a forked child (hooks go straight to libc there: no locks, no allocation), and
//! whether the calling OS thread is inside greenshim's own code (its libc calls are not the
//! user's and pass through). Plus `errno`, which both the hooks and the offload pool set.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static IN_FORKED_CHILD: AtomicBool = AtomicBool::new(false);

/// Whether this is a child forked from a process that loaded greenshim (hooks pass through
/// there: no locks, no allocation).
#[inline]
pub fn in_forked_child() -> bool {
    IN_FORKED_CHILD.load(Ordering::Relaxed)
}

/// The pid of the process greenshim was loaded into (set at load time).
static LOADER_PID: AtomicI32 = AtomicI32::new(0);

/// Records the process id at load time (before `main`), for [`in_child`].
pub(crate) fn note_pid() {
    // SAFETY: getpid has no preconditions.
    LOADER_PID.store(unsafe { libc::getpid() }, Ordering::Relaxed);
}

/// Whether this code runs in a child of the process greenshim was loaded into: a forked child
/// ([`in_forked_child`]), or a child that shares the parent's memory — `vfork`, or `clone`
/// with `CLONE_VM` but without `CLONE_THREAD` (glibc's `posix_spawn`) — which no fork handler
/// sees, and whose writes to greenshim's tables would land in the parent's memory. The second
/// half asks the kernel for the pid (one system call), so the hooks ask it only where a child
/// could do harm: before they change the fd table or the reactors' epoll (`close`, `dup*`,
/// `fcntl`, `ioctl`, `setsockopt`, and fd creation under the patch).
pub fn in_child() -> bool {
    if in_forked_child() {
        return true;
    }
    let loader = LOADER_PID.load(Ordering::Relaxed);
    // SAFETY: getpid has no preconditions; glibc does not cache it, so a vfork child sees its
    // own pid.
    loader != 0 && unsafe { libc::getpid() } != loader
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

crate::os_local! {
    static INSIDE: bool = false;
    /// Signal handlers running on this OS thread (see [`in_signal_handler`]).
    static IN_HANDLER: u32 = 0;
    /// Open no-park sections on this OS thread (see [`may_park`]).
    static NO_PARK: u32 = 0;
}

/// Whether a signal handler installed through the interposed `sigaction`/`signal` runs on
/// this OS thread now: the hooks then pass every call straight to libc (no lock, no
/// allocation, no park: a handler may have interrupted greenshim itself, and a green thread
/// must not switch inside a signal frame).
#[inline]
pub fn in_signal_handler() -> bool {
    IN_HANDLER.get() != 0
}

/// A signal handler runs on this OS thread until the guard is dropped.
#[derive(Debug)]
pub struct HandlerGuard(());

impl HandlerGuard {
    /// Marks the start of a handler (async-signal-safe: one thread-local store).
    #[inline]
    pub fn enter() -> HandlerGuard {
        IN_HANDLER.increment();
        HandlerGuard(())
    }
}

impl Drop for HandlerGuard {
    #[inline]
    fn drop(&mut self) {
        IN_HANDLER.decrement();
    }
}

/// Opens a section in which the calling green thread must not park: state it keeps in its OS
/// thread's thread-locals would otherwise be seen by the next green thread on that worker.
/// Every [`enter_no_park`] is matched by one [`leave_no_park`] on the same OS thread.
#[inline]
pub fn enter_no_park() {
    NO_PARK.increment();
}

/// Closes a section opened by [`enter_no_park`].
#[inline]
pub fn leave_no_park() {
    NO_PARK.decrement();
}

/// Whether the calling thread may park: it is neither inside greenshim's own code
/// ([`inside`]) nor in a no-park section. The park primitive asserts it in debug builds, which
/// turns the "must not park" contracts (the inside flag, silenced spawn panics, the DNS
/// hand-off) from prose into checks.
#[inline]
pub fn may_park() -> bool {
    !is_inside() && NO_PARK.get() == 0 && !in_signal_handler()
}

/// Whether the calling OS thread runs greenshim's own code (see [`inside`]).
#[inline]
pub fn is_inside() -> bool {
    INSIDE.get()
}

/// Runs `f` as greenshim's own code: the interposers pass the libc calls it makes straight
/// through. `f` must not park (the flag belongs to the OS thread).
pub fn inside<R>(f: impl FnOnce() -> R) -> R {
    INSIDE.scoped(f)
}

/// Sets `errno` (for an interposer that fails with `-1`).
pub fn set_errno(code: i32) {
    // SAFETY: `__errno_location` returns the calling thread's errno slot, always valid.
    unsafe { *libc::__errno_location() = code };
}

/// Calls the signal handler `h` installed with `flags` (`SA_SIGINFO` picks the three-argument
/// form) for `sig`, as the kernel would have.
///
/// # Safety
/// `h` is a handler (not `SIG_DFL`/`SIG_IGN`) installed for `sig` with `flags`; `info` and
/// `ctx` are what the kernel passed for this signal.
pub unsafe fn call_handler(
    h: usize,
    flags: i32,
    sig: i32,
    info: *mut libc::siginfo_t,
    ctx: *mut std::ffi::c_void,
) {
    if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: per the contract, `h` is an `sa_sigaction` handler.
        let f: extern "C" fn(i32, *mut libc::siginfo_t, *mut std::ffi::c_void) =
            unsafe { std::mem::transmute(h) };
        f(sig, info, ctx);
    } else {
        // SAFETY: per the contract, `h` is an `sa_handler` handler.
        let f: extern "C" fn(i32) = unsafe { std::mem::transmute(h) };
        f(sig);
    }
}
