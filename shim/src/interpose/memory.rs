//! `mmap`, `mmap64`, `mprotect` and `munmap`: the generator's stack requests made inside a
//! greenshim spawn are served from the stack arena ([`crate::stacks`]); every other call goes
//! straight to libc. `eventfd` and `epoll_create1`: may's worker wake-up fds and selectors are
//! recorded at start-up, so that their wake-ups can be coalesced ([`crate::park::wakeups`]). Not a patch family: in force in every binary that starts the runtime,
//! patched or not (the runtime links these hooks).

use std::ffi::{c_int, c_void};

use crate::stacks;
use crate::sys::real;

/// greenshim's `mmap`.
///
/// # Safety
/// The C contract of `mmap(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mmap(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: libc::off_t,
) -> *mut c_void {
    if let Some(p) = stacks::map(addr, len, prot, flags, fd) {
        return p;
    }
    // SAFETY: the caller's arguments pass through unchanged.
    unsafe { real::mmap(addr, len, prot, flags, fd, off) }
}

/// greenshim's `mmap64` (the same function on 64-bit Linux).
///
/// # Safety
/// The C contract of `mmap(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mmap64(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: libc::off64_t,
) -> *mut c_void {
    // SAFETY: the caller's arguments; `off64_t` is `off_t` on 64-bit Linux.
    unsafe { mmap(addr, len, prot, flags, fd, off) }
}

/// greenshim's `mprotect`.
///
/// # Safety
/// The C contract of `mprotect(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mprotect(addr: *mut c_void, len: usize, prot: c_int) -> c_int {
    if stacks::owns(addr)
        && let Some(r) = stacks::protect(addr, len, prot)
    {
        return r;
    }
    // SAFETY: the caller's arguments pass through unchanged.
    unsafe { real::mprotect(addr, len, prot) }
}

/// greenshim's `munmap`.
///
/// # Safety
/// The C contract of `munmap(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn munmap(addr: *mut c_void, len: usize) -> c_int {
    if stacks::owns(addr) && !crate::sys::in_forked_child() {
        return match stacks::unmap(addr, len) {
            Ok(()) => 0,
            Err(code) => {
                crate::sys::set_errno(code);
                -1
            }
        };
    }
    // SAFETY: the caller's arguments pass through unchanged.
    unsafe { real::munmap(addr, len) }
}

/// greenshim's `eventfd`: reports the eventfds may's scheduler creates at start-up as its
/// workers' wake-up fds ([`crate::park::wakeups`]).
///
/// # Safety
/// The C contract of `eventfd(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eventfd(initval: std::ffi::c_uint, flags: c_int) -> c_int {
    // SAFETY: the caller's arguments pass through unchanged.
    let fd = unsafe { real::eventfd(initval, flags) };
    crate::park::wakeups::note_eventfd(fd, flags);
    fd
}

/// greenshim's `epoll_create1`: reports the epolls may's scheduler creates at start-up as its
/// workers' selectors ([`crate::park::wakeups`]).
///
/// # Safety
/// The C contract of `epoll_create1(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn epoll_create1(flags: c_int) -> c_int {
    // SAFETY: the caller's argument passes through unchanged.
    let fd = unsafe { real::epoll_create1(flags) };
    crate::park::wakeups::note_epoll(fd);
    fd
}

/// References the hooks, so that every binary that starts the runtime links them.
pub fn keep_linked() {
    std::hint::black_box([
        mmap as *const (),
        mmap64 as *const (),
        mprotect as *const (),
        munmap as *const (),
        eventfd as *const (),
        epoll_create1 as *const (),
    ]);
}
