//! The `Process` family: `waitpid`, `wait4`, `waitid` (std's `Child::wait`).
//!
//! A green thread waiting for one child's exit parks on a pidfd (`pidfd_open`, Linux 5.3),
//! which becomes readable when the child exits, then reaps it with `WNOHANG`. Waits the pidfd
//! cannot express (any child, a process group, stop and continue events) and kernels without
//! pidfds run the real call on the offload pool. `WNOHANG` calls and plain threads go straight
//! to libc.

use crate::sys::real;
use std::ffi::c_int;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::{Family, SendPtr, cooperative, int_result, offload_call, ret_int};
use crate::fd::io::{OnInterrupt, wait_ready_unadopted};
use crate::fd::table::Interest;

/// Waits for the child behind `pidfd` to exit, then runs `reap` (a `WNOHANG` call that returns
/// 0 while the child is still running).
fn wait_on(pidfd: RawFd, mut reap: impl FnMut() -> io::Result<c_int>) -> io::Result<c_int> {
    loop {
        match reap()? {
            0 => {}
            r => return Ok(r),
        }
        wait_ready_unadopted(pidfd, Interest::Read, None, OnInterrupt::Deliver)?;
    }
}

/// A pidfd for `pid`, or `None` when the kernel cannot give one.
fn pidfd(pid: libc::pid_t) -> Option<OwnedFd> {
    u32::try_from(pid)
        .ok()
        .and_then(|p| crate::sys::file::pidfd_open(p).ok())
}

/// Whether `options` ask for exits only (what a pidfd reports).
fn exits_only(options: c_int) -> bool {
    options & (libc::WUNTRACED | libc::WCONTINUED) == 0
}

/// greenshim's `waitpid`.
///
/// # Safety
/// The C contract of `waitpid(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn waitpid(
    pid: libc::pid_t,
    status: *mut c_int,
    options: c_int,
) -> libc::pid_t {
    // SAFETY: the caller's arguments pass through unchanged.
    unsafe { wait4(pid, status, options, std::ptr::null_mut()) }
}

/// greenshim's `wait4`.
///
/// # Safety
/// The C contract of `wait4(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wait4(
    pid: libc::pid_t,
    status: *mut c_int,
    options: c_int,
    usage: *mut libc::rusage,
) -> libc::pid_t {
    if options & libc::WNOHANG != 0 || !cooperative(Family::Process) {
        // SAFETY: the caller's arguments pass through unchanged.
        return unsafe { real::wait4(pid, status, options, usage) };
    }
    let fd = if pid > 0 && exits_only(options) {
        pidfd(pid)
    } else {
        None
    };
    let Some(fd) = fd else {
        let (status, usage) = (SendPtr(status), SendPtr(usage));
        return offload_call(move || {
            let (status, usage) = (status, usage);
            // SAFETY: see `SendPtr`; the other arguments are values.
            unsafe { real::wait4(pid, status.0, options, usage.0) }
        });
    };
    ret_int(wait_on(fd.as_raw_fd(), || {
        // SAFETY: the caller's out-parameters; WNOHANG makes it return at once.
        int_result(unsafe { real::wait4(pid, status, options | libc::WNOHANG, usage) })
    }))
}

/// greenshim's `waitid`. `P_PIDFD` waits on the caller's pidfd.
///
/// # Safety
/// The C contract of `waitid(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn waitid(
    idtype: libc::idtype_t,
    id: libc::id_t,
    info: *mut libc::siginfo_t,
    options: c_int,
) -> c_int {
    let plain = options & libc::WNOHANG != 0
        || options & libc::WEXITED == 0
        || options & (libc::WSTOPPED | libc::WCONTINUED) != 0
        || info.is_null();
    if plain || !cooperative(Family::Process) {
        // SAFETY: the caller's arguments pass through unchanged.
        return unsafe { real::waitid(idtype, id, info, options) };
    }
    let owned = match idtype {
        libc::P_PID => libc::pid_t::try_from(id).ok().and_then(pidfd),
        _ => None,
    };
    let fd = match (idtype, &owned) {
        (_, Some(fd)) => Some(fd.as_raw_fd()),
        (libc::P_PIDFD, None) => RawFd::try_from(id).ok(),
        _ => None,
    };
    let Some(fd) = fd else {
        let info = SendPtr(info);
        return offload_call(move || {
            let info = info;
            // SAFETY: see `SendPtr`.
            unsafe { real::waitid(idtype, id, info.0, options) }
        });
    };
    let r = wait_on(fd, || {
        // With WNOHANG and no child ready, waitid returns 0 and leaves si_pid 0.
        // SAFETY: `info` is the caller's siginfo_t.
        unsafe { std::ptr::write_bytes(info, 0, 1) };
        // SAFETY: the caller's arguments, with WNOHANG.
        int_result(unsafe { real::waitid(idtype, id, info, options | libc::WNOHANG) })?;
        // SAFETY: just written by the kernel (or zeroed).
        Ok(if unsafe { (*info).si_pid() } == 0 {
            0
        } else {
            1
        })
    });
    ret_int(r.map(|_| 0))
}

/// References every interposer of the family, so that a binary that patches links them.
pub(crate) fn keep_linked() {
    std::hint::black_box([
        waitpid as *const (),
        wait4 as *const (),
        waitid as *const (),
    ]);
}
