//! Host-name lookups that do not stall the worker.
//!
//! glibc's resolver blocks inside `getaddrinfo` and cannot be made cooperative from outside, so
//! greenshim interposes the symbol: when asked, the lookup runs on the offload pool while the
//! green thread parks. std's `ToSocketAddrs` calls `getaddrinfo` for host names, so wrapping a
//! `to_socket_addrs()` call in [`resolve_off_worker`] is enough, for every implementation of
//! the trait, including users' own.
//!
//! The interposer is inert unless the calling OS thread has asked for offloading (the `net`
//! mirror does, around each resolution on a green thread); otherwise it calls the real
//! function straight away. The real function is found once with `dlsym(RTLD_NEXT)`.

use std::cell::Cell;
use std::ffi::{c_char, c_int};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::context;
use crate::offload;

type GetAddrInfo = unsafe extern "C" fn(
    *const c_char,
    *const c_char,
    *const libc::addrinfo,
    *mut *mut libc::addrinfo,
) -> c_int;

thread_local! {
    static OFFLOAD_NEXT_LOOKUP: Cell<bool> = const { Cell::new(false) };
}

static REAL: AtomicUsize = AtomicUsize::new(0);
static OFFLOADED: AtomicU64 = AtomicU64::new(0);

/// Lookups that ran on the offload pool since start-up.
pub fn offloaded_lookups() -> u64 {
    OFFLOADED.load(Ordering::Relaxed)
}

/// Resolves libc's `getaddrinfo` (called at runtime start-up, so a first lookup in a forked
/// child does not need the loader).
pub(crate) fn resolve_real() -> Option<GetAddrInfo> {
    let mut p = REAL.load(Ordering::Acquire);
    if p == 0 {
        // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name has no other preconditions.
        p = unsafe { libc::dlsym(libc::RTLD_NEXT, c"getaddrinfo".as_ptr()) } as usize;
        REAL.store(p, Ordering::Release);
    }
    // SAFETY: a non-null result of dlsym for "getaddrinfo" is libc's getaddrinfo, whose C
    // signature is `GetAddrInfo`.
    (p != 0).then(|| unsafe { std::mem::transmute::<usize, GetAddrInfo>(p) })
}

/// Runs `f` (typically `addr.to_socket_addrs()`) so that a host-name lookup it makes on a
/// green thread runs on the offload pool. Outside green threads it just runs `f`.
pub fn resolve_off_worker<R>(f: impl FnOnce() -> R) -> R {
    if !context::on_green_thread() {
        return f();
    }
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            // Possibly another OS thread than the one that set the flag (the lookup parked);
            // the interposer already cleared that one.
            OFFLOAD_NEXT_LOOKUP.with(|c| c.set(false));
        }
    }
    OFFLOAD_NEXT_LOOKUP.with(|c| c.set(true));
    let _reset = Reset;
    f()
}

struct LookupArgs {
    node: *const c_char,
    service: *const c_char,
    hints: *const libc::addrinfo,
    res: *mut *mut libc::addrinfo,
}

// SAFETY: the pointers belong to the caller of `getaddrinfo`, which stays parked (and its
// stack alive) until the offloaded call returns; libc's getaddrinfo is thread-safe.
unsafe impl Send for LookupArgs {}

/// greenshim's `getaddrinfo`: libc's, run on the offload pool when the green thread asked for
/// it through [`resolve_off_worker`].
///
/// # Safety
/// The C contract of `getaddrinfo(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const libc::addrinfo,
    res: *mut *mut libc::addrinfo,
) -> c_int {
    let Some(real) = resolve_real() else {
        return libc::EAI_SYSTEM;
    };
    let offload = OFFLOAD_NEXT_LOOKUP.with(|c| c.replace(false)) && context::on_green_thread();
    if !offload {
        // SAFETY: the caller upholds getaddrinfo's contract; the arguments pass through.
        return unsafe { real(node, service, hints, res) };
    }
    OFFLOADED.fetch_add(1, Ordering::Relaxed);
    let args = LookupArgs {
        node,
        service,
        hints,
        res,
    };
    offload::run(move || {
        let a = args;
        // SAFETY: as above; `LookupArgs`' argument keeps the pointers valid for the call.
        unsafe { real(a.node, a.service, a.hints, a.res) }
    })
}
