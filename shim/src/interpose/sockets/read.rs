//! Reads: `read`, `readv`, `recv*` and their FORTIFY forms.

use crate::sys::real;
use std::ffi::{c_int, c_uint, c_void};
use std::os::fd::RawFd;

use crate::fd::io::{OnInterrupt, hook_io, read_stream_with};
use crate::fd::table::Interest;
use crate::interpose::{Family, int_result, managed_fd, ret_int, ret_size, size_result};

use super::adopted_desc;

/// greenshim's `read`.
///
/// # Safety
/// The C contract of `read(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, n: usize) -> isize {
    if let Some(w) = crate::park::wakeups::worker_of(fd) {
        // A may worker drains its wake-up fd, then collects its queue: the next wake-up must
        // be written again. Cleared after the drain, not before: a wake-up written in between
        // would be drained with the flag left set, and every later one skipped.
        // SAFETY: the caller's arguments pass through unchanged.
        let r = unsafe { real::read(fd, buf, n) };
        crate::park::wakeups::consumed(w);
        return r;
    }
    // SAFETY: the caller's arguments.
    if let Some(r) = unsafe { crate::interpose::files::read(fd, buf, n) } {
        return r;
    }
    if !managed_fd(Family::Sockets, fd) {
        // SAFETY: the caller's arguments pass through unchanged.
        return unsafe { real::read(fd, buf, n) };
    }
    // On a stream socket or pipe a short read drained it: the next read waits for readiness
    // first instead of paying for a syscall that would fail with `EAGAIN`.
    ret_size(read_stream_with(fd, n, OnInterrupt::Deliver, || {
        // SAFETY: as above, on a non-blocking kernel fd.
        size_result(unsafe { real::read(fd, buf, n) })
    }))
}

/// FORTIFY's `read` (`-D_FORTIFY_SOURCE` builds call it when the buffer size is known).
///
/// # Safety
/// The C contract of `__read_chk`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __read_chk(fd: c_int, buf: *mut c_void, n: usize, buflen: usize) -> isize {
    crate::interpose::count_fortified();
    if n > buflen {
        // SAFETY: libc's own check fails and aborts the process, as the caller expects.
        return unsafe { real::__read_chk(fd, buf, n, buflen) };
    }
    // SAFETY: the length was checked against the buffer, as libc would.
    unsafe { read(fd, buf, n) }
}

/// greenshim's `readv`.
///
/// # Safety
/// The C contract of `readv(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const libc::iovec, count: c_int) -> isize {
    if !managed_fd(Family::Sockets, fd) {
        // SAFETY: the caller's arguments pass through unchanged.
        return unsafe { real::readv(fd, iov, count) };
    }
    ret_size(hook_io(fd, Interest::Read, || {
        // SAFETY: as above, on a non-blocking kernel fd.
        size_result(unsafe { real::readv(fd, iov, count) })
    }))
}

/// Runs one receive call, the green-thread way when the fd is managed and the call may block
/// (`MSG_DONTWAIT` asks for a non-blocking call: that is what the kernel fd gives anyway).
/// `MSG_WAITALL` on a blocking fd collects `len` bytes (or stops at EOF, an error or the
/// timeout, returning what arrived), as the kernel's blocking receive does.
fn receive(fd: RawFd, len: usize, flags: c_int, mut call: impl FnMut(usize) -> isize) -> isize {
    if flags & libc::MSG_DONTWAIT != 0 || !managed_fd(Family::Sockets, fd) {
        return call(0);
    }
    let wait_all =
        flags & libc::MSG_WAITALL != 0 && adopted_desc(fd).is_none_or(|d| !d.nonblocking());
    if !wait_all {
        if flags == 0 {
            return ret_size(read_stream_with(fd, len, OnInterrupt::Deliver, || {
                size_result(call(0))
            }));
        }
        return ret_size(hook_io(fd, Interest::Read, || size_result(call(0))));
    }
    let mut done = 0;
    while done < len {
        match hook_io(fd, Interest::Read, || size_result(call(done))) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(_) if done > 0 => break,
            Err(e) => return ret_size(Err(e)),
        }
    }
    done as isize
}

/// greenshim's `recv`.
///
/// # Safety
/// The C contract of `recv(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, n: usize, flags: c_int) -> isize {
    receive(fd, n, flags, |done| {
        // SAFETY: the caller's buffer, advanced by what `MSG_WAITALL` already collected.
        unsafe { real::recv(fd, buf.cast::<u8>().add(done).cast(), n - done, flags) }
    })
}

/// FORTIFY's `recv`.
///
/// # Safety
/// The C contract of `__recv_chk`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __recv_chk(
    fd: c_int,
    buf: *mut c_void,
    n: usize,
    buflen: usize,
    flags: c_int,
) -> isize {
    crate::interpose::count_fortified();
    if n > buflen {
        // SAFETY: libc's own check fails and aborts the process.
        return unsafe { real::__recv_chk(fd, buf, n, buflen, flags) };
    }
    // SAFETY: the length was checked against the buffer.
    unsafe { recv(fd, buf, n, flags) }
}

/// greenshim's `recvfrom`.
///
/// # Safety
/// The C contract of `recvfrom(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    n: usize,
    flags: c_int,
    addr: *mut libc::sockaddr,
    len: *mut libc::socklen_t,
) -> isize {
    receive(fd, n, flags, |done| {
        // SAFETY: the caller's buffer (advanced as in `recv`) and address out-parameters.
        unsafe {
            real::recvfrom(
                fd,
                buf.cast::<u8>().add(done).cast(),
                n - done,
                flags,
                addr,
                len,
            )
        }
    })
}

/// FORTIFY's `recvfrom`.
///
/// # Safety
/// The C contract of `__recvfrom_chk`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __recvfrom_chk(
    fd: c_int,
    buf: *mut c_void,
    n: usize,
    buflen: usize,
    flags: c_int,
    addr: *mut libc::sockaddr,
    len: *mut libc::socklen_t,
) -> isize {
    crate::interpose::count_fortified();
    if n > buflen {
        // SAFETY: libc's own check fails and aborts the process.
        return unsafe { real::__recvfrom_chk(fd, buf, n, buflen, flags, addr, len) };
    }
    // SAFETY: the length was checked against the buffer.
    unsafe { recvfrom(fd, buf, n, flags, addr, len) }
}

/// greenshim's `recvmsg`.
///
/// # Safety
/// The C contract of `recvmsg(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut libc::msghdr, flags: c_int) -> isize {
    if flags & libc::MSG_DONTWAIT != 0 || !managed_fd(Family::Sockets, fd) {
        // SAFETY: the caller's arguments pass through unchanged.
        return unsafe { real::recvmsg(fd, msg, flags) };
    }
    ret_size(hook_io(fd, Interest::Read, || {
        // SAFETY: as above, on a non-blocking kernel fd.
        size_result(unsafe { real::recvmsg(fd, msg, flags) })
    }))
}

/// greenshim's `recvmmsg`: waits until at least one message is there (a blocking
/// `recvmmsg` without a timeout also waits for the rest; this one returns what the first
/// readiness brought).
///
/// # Safety
/// The C contract of `recvmmsg(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn recvmmsg(
    fd: c_int,
    msgs: *mut libc::mmsghdr,
    vlen: c_uint,
    flags: c_int,
    timeout: *mut libc::timespec,
) -> c_int {
    if flags & libc::MSG_DONTWAIT != 0 || !managed_fd(Family::Sockets, fd) {
        // SAFETY: the caller's arguments pass through unchanged.
        return unsafe { real::recvmmsg(fd, msgs, vlen, flags, timeout) };
    }
    ret_int(hook_io(fd, Interest::Read, || {
        // SAFETY: as above, on a non-blocking kernel fd.
        int_result(unsafe { real::recvmmsg(fd, msgs, vlen, flags, timeout) })
    }))
}
