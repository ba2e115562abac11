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
//! function straight away, unless the `Dns` family of the monkey patch is on: then every
//! lookup made on a green thread is offloaded.

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::interpose::{Family, cooperative};
use crate::park::context;

crate::os_local! {
    static OFFLOAD_NEXT_LOOKUP: bool = false;
}

static OFFLOADED: AtomicU64 = AtomicU64::new(0);

/// Lookups that ran on the offload pool since start-up.
pub fn offloaded_lookups() -> u64 {
    OFFLOADED.load(Ordering::Relaxed)
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
            if OFFLOAD_NEXT_LOOKUP.replace(false) {
                crate::sys::pass::leave_no_park();
            }
        }
    }
    // Until the interposer takes the flag, this green thread must not park: another one on
    // this worker would find the flag.
    crate::sys::pass::enter_no_park();
    OFFLOAD_NEXT_LOOKUP.set(true);
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
    let asked = OFFLOAD_NEXT_LOOKUP.replace(false);
    if asked {
        crate::sys::pass::leave_no_park();
    }
    let offload = if asked {
        context::on_green_thread()
    } else {
        cooperative(Family::Dns)
    };
    if !offload {
        // SAFETY: the caller upholds getaddrinfo's contract; the arguments pass through.
        return unsafe { real::getaddrinfo(node, service, hints, res) };
    }
    OFFLOADED.fetch_add(1, Ordering::Relaxed);
    let args = LookupArgs {
        node,
        service,
        hints,
        res,
    };
    // With `errno`: an `EAI_SYSTEM` result means "see errno", set on the pool thread.
    crate::interpose::offload_call(move || {
        let a = args;
        // SAFETY: as above; `LookupArgs`' argument keeps the pointers valid for the call.
        unsafe { real::getaddrinfo(a.node, a.service, a.hints, a.res) }
    })
}

/// Runs a resolver call of the `Dns` family: on the offload pool for a green thread once the
/// family is patched, directly otherwise.
fn lookup_call<R: Send>(call: impl FnOnce() -> R + Send) -> R {
    if cooperative(Family::Dns) {
        OFFLOADED.fetch_add(1, Ordering::Relaxed);
        crate::interpose::offload_call(call)
    } else {
        call()
    }
}
use crate::sys::real;

use crate::interpose::SendPtr;

/// greenshim's `getnameinfo`: offloaded like `getaddrinfo`.
///
/// # Safety
/// The C contract of `getnameinfo(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getnameinfo(
    sa: *const libc::sockaddr,
    salen: libc::socklen_t,
    host: *mut c_char,
    hostlen: libc::socklen_t,
    serv: *mut c_char,
    servlen: libc::socklen_t,
    flags: c_int,
) -> c_int {
    let (sa, host, serv) = (SendPtr(sa.cast_mut()), SendPtr(host), SendPtr(serv));
    lookup_call(move || {
        let (sa, host, serv) = (sa, host, serv);
        // SAFETY: the caller's buffers, alive while it is parked (see `SendPtr`).
        unsafe { real::getnameinfo(sa.0, salen, host.0, hostlen, serv.0, servlen, flags) }
    })
}

/// greenshim's `gethostbyname_r`: offloaded.
///
/// # Safety
/// The C contract of `gethostbyname_r(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gethostbyname_r(
    name: *const c_char,
    ret: *mut libc::hostent,
    buf: *mut c_char,
    buflen: usize,
    result: *mut *mut libc::hostent,
    h_errnop: *mut c_int,
) -> c_int {
    // SAFETY: the caller's arguments.
    unsafe { gethostbyname2_r(name, libc::AF_INET, ret, buf, buflen, result, h_errnop) }
}

/// greenshim's `gethostbyname2_r`: offloaded.
///
/// # Safety
/// The C contract of `gethostbyname2_r(3)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gethostbyname2_r(
    name: *const c_char,
    af: c_int,
    ret: *mut libc::hostent,
    buf: *mut c_char,
    buflen: usize,
    result: *mut *mut libc::hostent,
    h_errnop: *mut c_int,
) -> c_int {
    let p = (
        SendPtr(name.cast_mut()),
        SendPtr(ret),
        SendPtr(buf),
        SendPtr(result),
        SendPtr(h_errnop),
    );
    lookup_call(move || {
        let (name, ret, buf, result, h) = p;
        // SAFETY: the caller's buffers, alive while it is parked (see `SendPtr`).
        unsafe { real::gethostbyname2_r(name.0, af, ret.0, buf.0, buflen, result.0, h.0) }
    })
}

/// greenshim's `gethostbyaddr_r`: offloaded.
///
/// # Safety
/// The C contract of `gethostbyaddr_r(3)`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)] // libc's signature
pub unsafe extern "C" fn gethostbyaddr_r(
    addr: *const c_void,
    len: libc::socklen_t,
    ty: c_int,
    ret: *mut libc::hostent,
    buf: *mut c_char,
    buflen: usize,
    result: *mut *mut libc::hostent,
    h_errnop: *mut c_int,
) -> c_int {
    let p = (
        SendPtr(addr.cast_mut()),
        SendPtr(ret),
        SendPtr(buf),
        SendPtr(result),
        SendPtr(h_errnop),
    );
    lookup_call(move || {
        let (addr, ret, buf, result, h) = p;
        // SAFETY: as above.
        unsafe { real::gethostbyaddr_r(addr.0, len, ty, ret.0, buf.0, buflen, result.0, h.0) }
    })
}

/// References the interposers of this module beyond `getaddrinfo`.
pub(crate) fn keep_linked() {
    std::hint::black_box([
        getaddrinfo as *const (),
        getnameinfo as *const (),
        gethostbyname_r as *const (),
        gethostbyname2_r as *const (),
        gethostbyaddr_r as *const (),
    ]);
}
