//! Connection set-up: `connect`, `accept`, `accept4`.

use crate::sys::real;
use std::ffi::c_int;
use std::io;
use std::os::fd::RawFd;
use std::time::Instant;

use crate::fd::io::{OnInterrupt, Waited, hook_io, wait_ready_unadopted};
use crate::fd::table::{self as fdtable, Interest};
use crate::interpose::{Family, int_result, managed_fd, ret_int};

use super::created;

/// greenshim's `connect`: on a blocking managed socket, starts the connection and parks until
/// it completes; `SO_SNDTIMEO` bounds the wait (then `EINPROGRESS`, as socket(7) says).
///
/// # Safety
/// The C contract of `connect(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn connect(
    fd: c_int,
    addr: *const libc::sockaddr,
    len: libc::socklen_t,
) -> c_int {
    if !managed_fd(Family::Sockets, fd) {
        // SAFETY: the caller's arguments pass through unchanged.
        return unsafe { real::connect(fd, addr, len) };
    }
    ret_int(connect_managed(fd, || {
        // SAFETY: as above, on a non-blocking kernel fd.
        unsafe { real::connect(fd, addr, len) }
    }))
}

fn connect_managed(fd: RawFd, mut call: impl FnMut() -> c_int) -> io::Result<c_int> {
    let (_, d) = fdtable::adopt(fd)?;
    let mut deadline: Option<Option<Instant>> = None;
    loop {
        let err = match int_result(call()) {
            Ok(r) => return Ok(r),
            Err(err) => err,
        };
        let code = err.raw_os_error();
        // A Unix socket whose listener's backlog is full says EAGAIN; retry once writable.
        let retry = code == Some(libc::EAGAIN);
        if d.nonblocking() || !(retry || code == Some(libc::EINPROGRESS)) {
            return Err(err);
        }
        let at =
            *deadline.get_or_insert_with(|| d.timeout(Interest::Write).map(|t| Instant::now() + t));
        if wait_ready_unadopted(fd, Interest::Write, at, OnInterrupt::Deliver)? == Waited::TimedOut
        {
            return Err(io::Error::from_raw_os_error(libc::EINPROGRESS));
        }
        if retry {
            continue;
        }
        return match crate::sys::socket::take_error(fd)? {
            None => Ok(0),
            Some(e) => Err(e),
        };
    }
}

/// Shared by `accept` and `accept4`.
fn accept_with(fd: RawFd, mut call: impl FnMut() -> c_int) -> c_int {
    let r = if managed_fd(Family::Sockets, fd) {
        ret_int(hook_io(fd, Interest::Read, || int_result(call())))
    } else {
        call()
    };
    if r >= 0 {
        created(&[r]);
    }
    r
}

/// greenshim's `accept`.
///
/// # Safety
/// The C contract of `accept(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept(
    fd: c_int,
    addr: *mut libc::sockaddr,
    len: *mut libc::socklen_t,
) -> c_int {
    // SAFETY: the caller's arguments pass through unchanged.
    accept_with(fd, || unsafe { real::accept(fd, addr, len) })
}

/// greenshim's `accept4` (std's `accept`). `SOCK_NONBLOCK` is the new fd's user intent.
///
/// # Safety
/// The C contract of `accept4(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut libc::sockaddr,
    len: *mut libc::socklen_t,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's arguments pass through unchanged.
    accept_with(fd, || unsafe { real::accept4(fd, addr, len, flags) })
}
