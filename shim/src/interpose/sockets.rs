//! The `Sockets` family: socket and pipe I/O, connection set-up, and the fd-state calls that
//! keep greenshim's fd table in step with the kernel.
//!
//! A hooked call on an fd that [`managed_fd`] accepts runs greenshim's retry loop: the kernel
//! fd is non-blocking, the user's blocking intent and `SO_RCVTIMEO`/`SO_SNDTIMEO` live in the
//! fd table, and a call that would block parks the green thread (or polls, on a plain thread)
//! until the fd is ready, the timeout passes (`EAGAIN`, as socket(7) says) or the fd is closed
//! (`EBADF`). Blocking-mode writes and sends loop until every byte is queued, as the kernel's
//! do. Everything else reaches libc unchanged.
//!
//! State calls:
//!
//! - `socket`, `socketpair`, `pipe`, `pipe2`, `accept`, `accept4` record their new fds as
//!   created under the patch: only those are adopted by the hooks on their own (never fds
//!   0/1/2 or inherited ones, whose open file description other processes may share).
//! - `close` releases the fd first (its waiters wake with `EBADF`, it leaves the reactor), then
//!   closes it; `dup`, `dup2`, `dup3` and `fcntl(F_DUPFD*)` share the description's state with
//!   the copy (and release a `dup2` target first).
//! - `fcntl(F_GETFL)` reports the user's `O_NONBLOCK`, not the kernel's; `F_SETFL` and
//!   `ioctl(FIONBIO)` record the user's choice and keep the kernel fd non-blocking;
//!   `setsockopt(SO_RCVTIMEO/SO_SNDTIMEO)` sets the kernel option (so `getsockopt` reads it
//!   back) and the park deadline.
//!
//! These state calls act on adopted fds whether or not the family is patched (the `net`
//! mirror adopts fds too), except in a forked child, where every call passes straight through.

use std::ffi::{c_int, c_uint, c_ulong, c_void};
use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use super::{
    Family, in_forked_child, int_result, is_patched, managed_fd, real, ret_int, ret_size,
    size_result,
};
use crate::fdtable::{self, Desc, Interest, Origin};
use crate::io::{
    OnInterrupt, Waited, hook_io, hook_write_all, read_stream_with, wait_ready_unadopted,
};

/// The description state of `fd`, if greenshim adopted it.
fn adopted_desc(fd: RawFd) -> Option<&'static Desc> {
    fdtable::lookup(fd).and_then(|e| e.desc())
}

/// Records fds a hooked call created (when the family is patched).
fn created(fds: &[RawFd]) {
    if is_patched(Family::Sockets) && !in_forked_child() {
        for &fd in fds {
            fdtable::note_created(fd, Origin::Pollable);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reads.

/// greenshim's `read`.
///
/// # Safety
/// The C contract of `read(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, n: usize) -> isize {
    // SAFETY: the caller's arguments.
    if let Some(r) = unsafe { super::files::read(fd, buf, n) } {
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
    super::count_fortified();
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
    super::count_fortified();
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
    super::count_fortified();
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

// ---------------------------------------------------------------------------------------------
// Writes.

/// One blocking-mode write of `len` bytes: `call(done)` writes from offset `done`.
fn send_all(fd: RawFd, len: usize, flags: c_int, call: impl FnMut(usize) -> isize) -> isize {
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
    // SAFETY: the caller's arguments.
    if let Some(r) = unsafe { super::files::write(fd, buf, n) } {
        return r;
    }
    send_all(fd, n, 0, |done| {
        // SAFETY: the caller's buffer, advanced past what is already written.
        unsafe { real::write(fd, buf.cast::<u8>().add(done).cast(), n - done) }
    })
}

/// greenshim's `send`.
///
/// # Safety
/// The C contract of `send(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, n: usize, flags: c_int) -> isize {
    send_all(fd, n, flags, |done| {
        // SAFETY: as in `write`.
        unsafe { real::send(fd, buf.cast::<u8>().add(done).cast(), n - done, flags) }
    })
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
    send_all(fd, n, flags, |done| {
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
    })
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
    // SAFETY: the caller passes `count` valid iovecs.
    let len = unsafe { total(iov, n) };
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
    if msg.is_null() {
        // SAFETY: libc reports the bad pointer.
        return unsafe { real::sendmsg(fd, msg, flags) };
    }
    // SAFETY: the caller passes a valid msghdr.
    let m = unsafe { *msg };
    #[allow(clippy::unnecessary_cast)] // `msg_iovlen`'s type differs between libcs
    let n = m.msg_iovlen as usize;
    // SAFETY: the msghdr's iovecs are valid.
    let len = unsafe { total(m.msg_iov, n) };
    send_all(fd, len, flags, |done| {
        if done == 0 {
            // SAFETY: the caller's message, unchanged.
            return unsafe { real::sendmsg(fd, msg, flags) };
        }
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

// ---------------------------------------------------------------------------------------------
// Connection set-up.

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

// ---------------------------------------------------------------------------------------------
// fd state.

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
    if !in_forked_child() {
        fdtable::forget(fd);
    }
    // SAFETY: plain value argument.
    unsafe { real::close(fd) }
}

/// `new` is a copy of `old` (same open file description): it shares `old`'s state.
fn duplicated(old: RawFd, new: RawFd) {
    if in_forked_child() {
        return;
    }
    match fdtable::lookup(old) {
        Some(e) if e.desc().is_some() => {
            fdtable::release(new, false);
            fdtable::share(old, new).ok();
        }
        Some(e) if e.origin() == Origin::Pollable => created(&[new]),
        Some(e) if e.origin() == Origin::File => fdtable::note_created(new, Origin::File),
        _ => fdtable::forget(new),
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
    if fd != new_fd && !in_forked_child() {
        fdtable::forget(new_fd);
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
    if fd != new_fd && !in_forked_child() {
        fdtable::forget(new_fd);
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
    if in_forked_child() {
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
        && !in_forked_child()
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
        && !in_forked_child()
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

/// References every interposer of the family, so that a binary that patches links them.
pub(crate) fn keep_linked() {
    std::hint::black_box([
        read as *const (),
        __read_chk as *const (),
        readv as *const (),
        recv as *const (),
        __recv_chk as *const (),
        recvfrom as *const (),
        __recvfrom_chk as *const (),
        recvmsg as *const (),
        recvmmsg as *const (),
        write as *const (),
        send as *const (),
        sendto as *const (),
        writev as *const (),
        sendmsg as *const (),
        sendmmsg as *const (),
        connect as *const (),
        accept as *const (),
        accept4 as *const (),
        socket as *const (),
        socketpair as *const (),
        pipe as *const (),
        pipe2 as *const (),
        close as *const (),
        dup as *const (),
        dup2 as *const (),
        dup3 as *const (),
        fcntl as *const (),
        fcntl64 as *const (),
        ioctl as *const (),
        setsockopt as *const (),
    ]);
}
