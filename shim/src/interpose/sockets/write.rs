//! Writes: `write`, `writev`, `send*`.

use crate::sys::real;
use std::ffi::{c_int, c_uint, c_void};
use std::os::fd::RawFd;

use crate::fd::io::{hook_io, hook_write_all};
use crate::fd::table::Interest;
use crate::interpose::{Family, int_result, managed_fd, ret_int, ret_size, size_result};

/// One blocking-mode write of `len()` bytes: `call(done)` writes from offset `done`. The length
/// is computed only for a managed fd, after the kernel accepted the first write (a vector
/// write's length reads the caller's iovecs; see `hook_write_all`).
fn send_all(
    fd: RawFd,
    len: impl FnOnce() -> usize,
    flags: c_int,
    call: impl FnMut(usize) -> isize,
) -> isize {
    let mut call = call;
    if flags & libc::MSG_DONTWAIT != 0 || !managed_fd(Family::Sockets, fd) {
        return call(0);
    }
    ret_size(hook_write_all(fd, len, |done| size_result(call(done))))
}

/// greenshim's `write`.
///
/// # Safety
/// The C contract of `write(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, n: usize) -> isize {
    if let Some(w) = crate::park::wakeups::worker_of(fd)
        && n == 8
        && crate::park::wakeups::skip_write(w)
    {
        return 8; // a wake-up of that may worker is already on its way
    }
    // SAFETY: the caller's arguments.
    if let Some(r) = unsafe { crate::interpose::files::write(fd, buf, n) } {
        return r;
    }
    send_all(
        fd,
        || n,
        0,
        |done| {
            // SAFETY: the caller's buffer, advanced past what is already written.
            unsafe { real::write(fd, buf.cast::<u8>().add(done).cast(), n - done) }
        },
    )
}

/// greenshim's `send`.
///
/// # Safety
/// The C contract of `send(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, n: usize, flags: c_int) -> isize {
    send_all(
        fd,
        || n,
        flags,
        |done| {
            // SAFETY: as in `write`.
            unsafe { real::send(fd, buf.cast::<u8>().add(done).cast(), n - done, flags) }
        },
    )
}

/// greenshim's `sendto`.
///
/// # Safety
/// The C contract of `sendto(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    n: usize,
    flags: c_int,
    addr: *const libc::sockaddr,
    len: libc::socklen_t,
) -> isize {
    send_all(
        fd,
        || n,
        flags,
        |done| {
            // SAFETY: as in `write`; the address passes through.
            unsafe {
                real::sendto(
                    fd,
                    buf.cast::<u8>().add(done).cast(),
                    n - done,
                    flags,
                    addr,
                    len,
                )
            }
        },
    )
}

/// The iovecs of `iov` with the first `skip` bytes dropped.
///
/// # Safety
/// `iov` points at `count` valid iovecs.
unsafe fn advanced(iov: *const libc::iovec, count: usize, mut skip: usize) -> Vec<libc::iovec> {
    let mut out = Vec::with_capacity(count);
    // SAFETY: the caller's contract.
    for v in unsafe { std::slice::from_raw_parts(iov, count) } {
        if skip >= v.iov_len {
            skip -= v.iov_len;
            continue;
        }
        out.push(libc::iovec {
            // SAFETY: `skip < iov_len`, so the pointer stays inside the caller's buffer.
            iov_base: unsafe { v.iov_base.cast::<u8>().add(skip) }.cast(),
            iov_len: v.iov_len - skip,
        });
        skip = 0;
    }
    out
}

/// Total bytes of `count` iovecs.
///
/// # Safety
/// `iov` points at `count` valid iovecs (or `count` is 0).
unsafe fn total(iov: *const libc::iovec, count: usize) -> usize {
    if count == 0 {
        return 0;
    }
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts(iov, count) }
        .iter()
        .map(|v| v.iov_len)
        .fold(0usize, usize::saturating_add)
}

/// greenshim's `writev`.
///
/// # Safety
/// The C contract of `writev(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const libc::iovec, count: c_int) -> isize {
    let Ok(n) = usize::try_from(count) else {
        // SAFETY: libc reports the invalid count.
        return unsafe { real::writev(fd, iov, count) };
    };
    // SAFETY: asked only after the kernel read the caller's `count` iovecs.
    let len = || unsafe { total(iov, n) };
    send_all(fd, len, 0, |done| {
        if done == 0 {
            // SAFETY: the caller's iovecs, unchanged.
            return unsafe { real::writev(fd, iov, count) };
        }
        // SAFETY: as above.
        let rest = unsafe { advanced(iov, n, done) };
        // SAFETY: `rest` is a live array of iovecs into the caller's buffers.
        unsafe { real::writev(fd, rest.as_ptr(), rest.len() as c_int) }
    })
}

/// greenshim's `sendmsg`. Ancillary data goes with the first bytes only.
///
/// # Safety
/// The C contract of `sendmsg(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const libc::msghdr, flags: c_int) -> isize {
    // The message is read only once the kernel has accepted its first bytes (so it was
    // readable); until then a bad pointer is the kernel's `EFAULT`, as with libc's call.
    let iovecs = || {
        // SAFETY: the kernel has read this msghdr without fault.
        let m = unsafe { *msg };
        #[allow(clippy::unnecessary_cast)] // `msg_iovlen`'s type differs between libcs
        (m, m.msg_iovlen as usize)
    };
    let len = || {
        let (m, n) = iovecs();
        // SAFETY: the kernel has read these iovecs without fault.
        unsafe { total(m.msg_iov, n) }
    };
    send_all(fd, len, flags, |done| {
        if done == 0 {
            // SAFETY: the caller's message, unchanged.
            return unsafe { real::sendmsg(fd, msg, flags) };
        }
        let (m, n) = iovecs();
        // SAFETY: as above.
        let mut rest = unsafe { advanced(m.msg_iov, n, done) };
        let mut next = m;
        next.msg_iov = rest.as_mut_ptr();
        next.msg_iovlen = rest.len() as _;
        next.msg_control = std::ptr::null_mut();
        next.msg_controllen = 0;
        // SAFETY: `next` points into the caller's buffers through `rest`, both live.
        unsafe { real::sendmsg(fd, &raw const next, flags) }
    })
}

/// greenshim's `sendmmsg`: waits until at least one message can be queued.
///
/// # Safety
/// The C contract of `sendmmsg(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendmmsg(
    fd: c_int,
    msgs: *mut libc::mmsghdr,
    vlen: c_uint,
    flags: c_int,
) -> c_int {
    if flags & libc::MSG_DONTWAIT != 0 || !managed_fd(Family::Sockets, fd) {
        // SAFETY: the caller's arguments pass through unchanged.
        return unsafe { real::sendmmsg(fd, msgs, vlen, flags) };
    }
    ret_int(hook_io(fd, Interest::Write, || {
        // SAFETY: as above, on a non-blocking kernel fd.
        int_result(unsafe { real::sendmmsg(fd, msgs, vlen, flags) })
    }))
}
