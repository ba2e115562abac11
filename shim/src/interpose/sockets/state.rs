//! The fd-state calls: `socket`, `socketpair`, `pipe*`, `close`, `dup*`, `fcntl`, `ioctl(FIONBIO)`, `setsockopt(SO_*TIMEO)`.

use crate::sys::real;
use std::ffi::{c_int, c_ulong, c_void};
use std::os::fd::RawFd;
use std::time::Duration;

use crate::fd::table::{self as fdtable, Interest, Origin};

use super::{adopted_desc, created};

/// greenshim's `socket`.
///
/// # Safety
/// None beyond `socket(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    // SAFETY: plain value arguments.
    let fd = unsafe { real::socket(domain, ty, protocol) };
    if fd >= 0 {
        created(&[fd]);
    }
    fd
}

/// greenshim's `socketpair`.
///
/// # Safety
/// The C contract of `socketpair(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn socketpair(
    domain: c_int,
    ty: c_int,
    protocol: c_int,
    sv: *mut c_int,
) -> c_int {
    // SAFETY: the caller's arguments pass through unchanged.
    let r = unsafe { real::socketpair(domain, ty, protocol, sv) };
    if r == 0 {
        // SAFETY: on success the kernel wrote two fds to `sv`.
        created(unsafe { &*sv.cast::<[c_int; 2]>() });
    }
    r
}

/// greenshim's `pipe`.
///
/// # Safety
/// The C contract of `pipe(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipe(fds: *mut c_int) -> c_int {
    // SAFETY: the caller's argument passes through unchanged.
    let r = unsafe { real::pipe(fds) };
    if r == 0 {
        // SAFETY: on success the kernel wrote two fds.
        created(unsafe { &*fds.cast::<[c_int; 2]>() });
    }
    r
}

/// greenshim's `pipe2`.
///
/// # Safety
/// The C contract of `pipe2(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipe2(fds: *mut c_int, flags: c_int) -> c_int {
    // SAFETY: the caller's arguments pass through unchanged.
    let r = unsafe { real::pipe2(fds, flags) };
    if r == 0 {
        // SAFETY: on success the kernel wrote two fds.
        created(unsafe { &*fds.cast::<[c_int; 2]>() });
    }
    r
}

/// greenshim's `close`: releases the fd (waiters wake with `EBADF`, the reactor forgets it),
/// then closes it.
///
/// # Safety
/// None beyond `close(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    if has_state(fd) && !crate::sys::pass::in_child() {
        crate::fd::close::forget(fd);
    }
    // SAFETY: plain value argument.
    unsafe { real::close(fd) }
}

/// Whether the fd table holds anything for `fd` (a description, a registration or an origin;
/// a few loads): only then can a state call change something, and only then is it worth
/// asking the kernel whether this is a child.
fn has_state(fd: RawFd) -> bool {
    // From a signal handler the table is left alone (its release wakes waiters, which takes
    // locks): a fd number reused later is cleaned up when a hooked call creates it again.
    !crate::sys::pass::in_signal_handler()
        && fdtable::lookup(fd).is_some_and(|e| {
            e.desc().is_some() || e.is_registered() || e.origin() != Origin::Unknown
        })
}

/// `new` is a copy of `old` (same open file description): it shares `old`'s state.
fn duplicated(old: RawFd, new: RawFd) {
    if !has_state(old) && !has_state(new) || crate::sys::pass::in_child() {
        return;
    }
    match fdtable::lookup(old) {
        Some(e) if e.desc().is_some() => {
            crate::fd::close::release(new, false);
            fdtable::share(old, new).ok();
        }
        Some(e) if e.origin() == Origin::Pollable => created(&[new]),
        Some(e) if e.origin() == Origin::File => crate::fd::close::note_created(new, Origin::File),
        _ => crate::fd::close::forget(new),
    }
}

/// greenshim's `dup`.
///
/// # Safety
/// None beyond `dup(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    // SAFETY: plain value argument.
    let new = unsafe { real::dup(fd) };
    if new >= 0 {
        duplicated(fd, new);
    }
    new
}

/// greenshim's `dup2`: a live target is released first (it is closed by the call).
///
/// # Safety
/// None beyond `dup2(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup2(fd: c_int, new_fd: c_int) -> c_int {
    if fd != new_fd && has_state(new_fd) && !crate::sys::pass::in_child() {
        crate::fd::close::forget(new_fd);
    }
    // SAFETY: plain value arguments.
    let r = unsafe { real::dup2(fd, new_fd) };
    if r >= 0 && fd != new_fd {
        duplicated(fd, r);
    }
    r
}

/// greenshim's `dup3`.
///
/// # Safety
/// None beyond `dup3(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup3(fd: c_int, new_fd: c_int, flags: c_int) -> c_int {
    if fd != new_fd && has_state(new_fd) && !crate::sys::pass::in_child() {
        crate::fd::close::forget(new_fd);
    }
    // SAFETY: plain value arguments.
    let r = unsafe { real::dup3(fd, new_fd, flags) };
    if r >= 0 {
        duplicated(fd, r);
    }
    r
}

fn fcntl_with(
    fd: RawFd,
    cmd: c_int,
    arg: c_ulong,
    call: unsafe fn(c_int, c_int, c_ulong) -> c_int,
) -> c_int {
    // (`F_DUPFD*` in a vfork child is caught by `duplicated`.)
    if crate::interpose::in_forked_child() {
        // SAFETY: the caller's arguments pass through unchanged.
        return unsafe { call(fd, cmd, arg) };
    }
    match cmd {
        libc::F_GETFL => {
            // SAFETY: F_GETFL takes no pointer.
            let r = unsafe { call(fd, cmd, arg) };
            match adopted_desc(fd) {
                Some(d) if r >= 0 => {
                    let user = if d.nonblocking() { libc::O_NONBLOCK } else { 0 };
                    (r & !libc::O_NONBLOCK) | user
                }
                _ => r,
            }
        }
        libc::F_SETFL => match adopted_desc(fd) {
            Some(d) => {
                // SAFETY: F_SETFL takes an int; the kernel fd stays non-blocking.
                let r = unsafe { call(fd, cmd, arg | libc::O_NONBLOCK as c_ulong) };
                if r >= 0 {
                    d.set_nonblocking(arg & libc::O_NONBLOCK as c_ulong != 0);
                }
                r
            }
            // SAFETY: the caller's arguments pass through unchanged.
            None => unsafe { call(fd, cmd, arg) },
        },
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            // SAFETY: these take an int.
            let new = unsafe { call(fd, cmd, arg) };
            if new >= 0 {
                duplicated(fd, new);
            }
            new
        }
        // SAFETY: the caller's arguments pass through unchanged.
        _ => unsafe { call(fd, cmd, arg) },
    }
}

/// greenshim's `fcntl` (variadic in C: the third argument is read as one register).
///
/// # Safety
/// The C contract of `fcntl(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    fcntl_with(fd, cmd, arg, real::fcntl)
}

/// greenshim's `fcntl64` (what C built with `_FILE_OFFSET_BITS=64` calls).
///
/// # Safety
/// The C contract of `fcntl(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    fcntl_with(fd, cmd, arg, real::fcntl64)
}

/// greenshim's `ioctl` (variadic in C): `FIONBIO` on an adopted fd records the user's choice.
///
/// # Safety
/// The C contract of `ioctl(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioctl(fd: c_int, request: c_ulong, arg: c_ulong) -> c_int {
    if request == libc::FIONBIO
        && arg != 0
        && !crate::sys::pass::in_child()
        && let Some(d) = adopted_desc(fd)
    {
        // SAFETY: FIONBIO's argument points at an int.
        let on = unsafe { *(arg as *const c_int) } != 0;
        d.set_nonblocking(on);
        return 0;
    }
    // SAFETY: the caller's arguments pass through unchanged.
    unsafe { real::ioctl(fd, request, arg) }
}

/// greenshim's `setsockopt`: `SO_RCVTIMEO`/`SO_SNDTIMEO` on an adopted fd also become its park
/// deadlines.
///
/// # Safety
/// The C contract of `setsockopt(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: libc::socklen_t,
) -> c_int {
    // SAFETY: the caller's arguments pass through unchanged.
    let r = unsafe { real::setsockopt(fd, level, name, value, len) };
    if r == 0
        && level == libc::SOL_SOCKET
        && (name == libc::SO_RCVTIMEO || name == libc::SO_SNDTIMEO)
        && len as usize >= size_of::<libc::timeval>()
        && !crate::sys::pass::in_child()
        && let Some(d) = adopted_desc(fd)
    {
        // SAFETY: the kernel accepted `value` as a timeval.
        let tv = unsafe { *value.cast::<libc::timeval>() };
        let t = Duration::from_secs(tv.tv_sec.max(0) as u64)
            + Duration::from_micros(tv.tv_usec.max(0) as u64);
        let interest = if name == libc::SO_RCVTIMEO {
            Interest::Read
        } else {
            Interest::Write
        };
        d.set_timeout(interest, (!t.is_zero()).then_some(t));
    }
    r
}
