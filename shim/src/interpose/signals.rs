//! Signal handlers see libc, not greenshim: `sigaction` and `signal` are interposed so that a
//! handler the program installs runs inside a trampoline that marks its OS thread as "in a
//! handler" ([`crate::sys::pass::in_signal_handler`]); every hook called from the handler then
//! passes straight to libc. Without it, a handler that interrupted a green thread and called
//! a hooked async-signal-safe function (`write` to a self-pipe, `close`, `dup2`) on an fd
//! greenshim manages could take locks the interrupted code holds, allocate, or park the green
//! thread inside the signal frame.
//!
//! What `sigaction` reports back (`oldact`) is the program's own handler, never the
//! trampoline. Left alone: the synchronous fault signals (`SIGSEGV`, `SIGBUS`, `SIGILL`,
//! `SIGFPE`, `SIGTRAP`), whose handlers (std's and may's stack-overflow guards among them) may
//! never return (once the stack arena is in force, a `SIGSEGV` or `SIGBUS` handler is filed
//! behind greenshim's overflow report instead, see [`crate::stacks::overflow`]); `SIG_DFL` and
//! `SIG_IGN`; handlers installed before greenshim was loaded or
//! through the raw system call. A handler that leaves by `siglongjmp` leaves its thread marked:
//! the hooks on that thread then pass through (they block like libc's) from there on.
//!
//! Active from load time, patched or not: the marking costs one thread-local store on entry
//! and exit of a handler.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use crate::sys::pass::HandlerGuard;
use crate::sys::real;

/// Signal numbers the kernel knows (1..=64 on Linux).
const NSIG: usize = 65;

/// The program's handler for each signal, while the trampoline stands in for it.
static HANDLERS: [AtomicUsize; NSIG] = [const { AtomicUsize::new(0) }; NSIG];
/// The program's `sa_flags` for each signal (to call the handler with the right arguments).
static FLAGS: [AtomicI32; NSIG] = [const { AtomicI32::new(0) }; NSIG];

fn wrappable(sig: c_int) -> bool {
    usize::try_from(sig).is_ok_and(|s| s > 0 && s < NSIG)
        && !matches!(
            sig,
            libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP
        )
}

extern "C" fn trampoline(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    let _in_handler = HandlerGuard::enter();
    let i = sig as usize;
    let h = HANDLERS[i].load(Ordering::Acquire);
    if h == libc::SIG_DFL || h == libc::SIG_IGN {
        return; // replaced meanwhile by a disposition the kernel now handles itself
    }
    // SAFETY: the program installed `h` for `sig` with these flags; the kernel's arguments.
    unsafe { crate::sys::pass::call_handler(h, FLAGS[i].load(Ordering::Acquire), sig, info, ctx) };
}

/// greenshim's `sigaction`: a handler is installed behind the trampoline; `old` reports the
/// program's handler.
///
/// # Safety
/// The C contract of `sigaction(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    // SAFETY: the caller's pointers, valid per the contract.
    if unsafe { crate::stacks::overflow::file_behind(sig, act, old) } {
        return 0;
    }
    if !wrappable(sig) || crate::sys::in_forked_child() {
        // SAFETY: the caller's arguments pass through unchanged.
        return unsafe { real::sigaction(sig, act, old) };
    }
    let i = sig as usize;
    let mut new = None;
    if !act.is_null() {
        // SAFETY: a non-null `act` points at a sigaction, per the contract.
        let mut a = unsafe { *act };
        let (h, flags) = (a.sa_sigaction, a.sa_flags);
        if h != libc::SIG_DFL && h != libc::SIG_IGN {
            a.sa_sigaction = trampoline as *const () as usize;
            a.sa_flags |= libc::SA_SIGINFO;
        }
        new = Some((a, h, flags));
    }
    let previous = (
        HANDLERS[i].load(Ordering::Acquire),
        FLAGS[i].load(Ordering::Acquire),
    );
    if let Some((_, h, flags)) = new {
        // Published before the kernel can call the trampoline with it.
        FLAGS[i].store(flags, Ordering::Release);
        HANDLERS[i].store(h, Ordering::Release);
    }
    let r = match &new {
        // SAFETY: `a` is a valid sigaction; `old` is the caller's.
        Some((a, _, _)) => unsafe { real::sigaction(sig, a, old) },
        // SAFETY: the caller's arguments.
        None => unsafe { real::sigaction(sig, act, old) },
    };
    if r != 0 {
        if new.is_some() {
            HANDLERS[i].store(previous.0, Ordering::Release);
            FLAGS[i].store(previous.1, Ordering::Release);
        }
        return r;
    }
    if !old.is_null() {
        // SAFETY: the kernel filled `*old`.
        let o = unsafe { &mut *old };
        if o.sa_sigaction == trampoline as *const () as usize {
            o.sa_sigaction = previous.0;
            o.sa_flags = previous.1;
        }
    }
    r
}

/// greenshim's `signal`: glibc's BSD semantics (`SA_RESTART`), through [`sigaction`].
///
/// # Safety
/// The C contract of `signal(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signal(sig: c_int, handler: libc::sighandler_t) -> libc::sighandler_t {
    // SAFETY: all-zero is a valid sigaction (empty mask, no flags).
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = handler;
    act.sa_flags = libc::SA_RESTART;
    // SAFETY: initializes the mask of a live local.
    unsafe { libc::sigemptyset(&raw mut act.sa_mask) };
    // SAFETY: as above.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: pointers to live locals.
    if unsafe { sigaction(sig, &raw const act, &raw mut old) } != 0 {
        return libc::SIG_ERR;
    }
    old.sa_sigaction
}

/// References the interposers, so that a binary that patches links them.
pub(crate) fn keep_linked() {
    std::hint::black_box([sigaction as *const (), signal as *const ()]);
}
