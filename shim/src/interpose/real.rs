//! The real libc functions behind the interposers, found with `dlsym(RTLD_NEXT)`.
//!
//! They are resolved by a load-time constructor (before `main`, single-threaded), so an
//! interposer never calls the dynamic loader itself: not in a signal handler, not in a forked
//! child. A pointer that is still unresolved (a call from another constructor that ran first)
//! is resolved on the spot.

use std::ffi::{c_char, c_int, c_uint};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Looks `name` (NUL-terminated) up once; 0 if libc lacks it.
#[inline]
fn resolve(slot: &AtomicUsize, name: &'static str) -> usize {
    let p = slot.load(Ordering::Acquire);
    if p != 0 {
        return p;
    }
    debug_assert!(name.ends_with('\0'));
    // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name has no other preconditions.
    let p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr().cast::<c_char>()) } as usize;
    slot.store(p, Ordering::Release);
    p
}

macro_rules! real_fns {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)+) => {
        mod slots {
            use std::sync::atomic::AtomicUsize;
            $(#[allow(non_upper_case_globals)] pub static $name: AtomicUsize = AtomicUsize::new(0);)+
        }

        /// Resolves every real function now.
        pub fn resolve_all() {
            $(resolve(&slots::$name, concat!(stringify!($name), "\0"));)+
        }

        $(
            /// Calls libc's own function of this name.
            ///
            /// # Safety
            /// The C contract of the libc function.
            pub unsafe fn $name($($arg: $ty),*) -> $ret {
                let p = resolve(&slots::$name, concat!(stringify!($name), "\0"));
                if p == 0 {
                    // Nothing to call: libc always has these, so this is a broken process.
                    std::process::abort();
                }
                // SAFETY: a non-null dlsym result for this name is libc's function, whose C
                // signature is the one declared here.
                let f: unsafe extern "C" fn($($ty),*) -> $ret = unsafe { std::mem::transmute(p) };
                // SAFETY: the caller upholds the C contract.
                unsafe { f($($arg),*) }
            }
        )+
    };
}

real_fns! {
    sleep(seconds: c_uint) -> c_uint;
    usleep(usec: libc::useconds_t) -> c_int;
    nanosleep(req: *const libc::timespec, rem: *mut libc::timespec) -> c_int;
    clock_nanosleep(clock: libc::clockid_t, flags: c_int, req: *const libc::timespec, rem: *mut libc::timespec) -> c_int;
    getaddrinfo(node: *const c_char, service: *const c_char, hints: *const libc::addrinfo, res: *mut *mut libc::addrinfo) -> c_int;
}

/// Resolves every real function before `main` runs.
#[used]
#[unsafe(link_section = ".init_array")]
static RESOLVE_AT_LOAD: extern "C" fn() = {
    extern "C" fn at_load() {
        resolve_all();
    }
    at_load
};
