//! The `Files` family: regular-file I/O that the kernel cannot make non-blocking (epoll refuses
//! regular files) kept off the worker.
//!
//! - `open`, `open64`, `openat`, `openat64` (a slow or remote file system), `fsync`,
//!   `fdatasync` and a blocking `flock` run on the offload pool while the green thread parks.
//! - `read`, `write`, `pread`, `pread64`, `pwrite`, `pwrite64` on a regular file opened by a
//!   hooked `open` first try the page cache without waiting (`preadv2`/`pwritev2` with
//!   `RWF_NOWAIT`): a cached read costs one syscall, inline. Only what would wait for the disk
//!   (or a file system that cannot tell) goes to the offload pool.
//!
//! Files opened before the patch, and all calls on plain threads, reach libc unchanged.

use crate::sys::real;
use std::ffi::{c_char, c_int, c_uint, c_void};
use std::os::fd::RawFd;

use super::{Family, SendPtr, cooperative, is_patched, offload_call};
use crate::fd::table::{self as fdtable, Origin};

/// Whether a call on `fd` takes the file path: the family is patched, the fd is a regular file
/// a hooked `open` opened, and the caller is a green thread.
fn file_fd(fd: RawFd) -> bool {
    is_patched(Family::Files)
        && fdtable::lookup(fd).is_some_and(|e| e.origin() == Origin::File)
        && cooperative(Family::Files)
}

/// Whether a `RWF_NOWAIT` attempt failed only because it would have waited (or cannot tell).
fn would_wait(r: isize) -> bool {
    r < 0
        && matches!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::EAGAIN | libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS)
        )
}

/// One `RWF_NOWAIT` transfer at `offset` (-1: the file position).
///
/// # Safety
/// `buf` is valid for `n` bytes (writable for a read).
unsafe fn nowait(fd: RawFd, buf: *mut c_void, n: usize, offset: i64, write: bool) -> isize {
    let iov = libc::iovec {
        iov_base: buf,
        iov_len: n,
    };
    // SAFETY: one iovec describing the caller's buffer.
    unsafe {
        if write {
            libc::pwritev2(fd, &raw const iov, 1, offset, libc::RWF_NOWAIT)
        } else {
            libc::preadv2(fd, &raw const iov, 1, offset, libc::RWF_NOWAIT)
        }
    }
}

/// A read or write on a file fd: inline from the page cache, else `slow` on the offload pool
/// (for a write, the part the inline attempt did not take).
///
/// # Safety
/// `buf` is valid for `n` bytes (writable for a read); `slow(done)` transfers from `done` on.
unsafe fn transfer(
    fd: RawFd,
    buf: *mut c_void,
    n: usize,
    offset: i64,
    write: bool,
    slow: impl FnOnce(usize) -> isize + Send,
) -> isize {
    // SAFETY: the caller's contract.
    let r = unsafe { nowait(fd, buf, n, offset, write) };
    if r < 0 && !would_wait(r) {
        return r;
    }
    let done = usize::try_from(r).unwrap_or(0);
    if r >= 0 && (!write || done >= n) {
        return r;
    }
    match offload_call(move || slow(done)) {
        rest if rest < 0 && done > 0 => done as isize,
        rest if rest < 0 => rest,
        rest => done as isize + rest,
    }
}

/// The file path of `read`, if `fd` takes it.
///
/// # Safety
/// The C contract of `read(2)`.
pub(crate) unsafe fn read(fd: RawFd, buf: *mut c_void, n: usize) -> Option<isize> {
    if !file_fd(fd) {
        return None;
    }
    let p = SendPtr(buf);
    // SAFETY: the caller's buffer; see `SendPtr` for the offloaded part.
    Some(unsafe {
        transfer(fd, buf, n, -1, false, move |_| {
            let p = p;
            real::read(fd, p.0, n)
        })
    })
}

/// The file path of `write`, if `fd` takes it.
///
/// # Safety
/// The C contract of `write(2)`.
pub(crate) unsafe fn write(fd: RawFd, buf: *const c_void, n: usize) -> Option<isize> {
    if !file_fd(fd) {
        return None;
    }
    let p = SendPtr(buf.cast_mut());
    // SAFETY: the caller's buffer; see `SendPtr` for the offloaded part.
    Some(unsafe {
        transfer(fd, buf.cast_mut(), n, -1, true, move |done| {
            let p = p;
            real::write(fd, p.0.cast::<u8>().add(done).cast(), n - done)
        })
    })
}

/// greenshim's `pread64` (and `pread`, the same on 64-bit Linux).
///
/// # Safety
/// The C contract of `pread(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pread64(
    fd: c_int,
    buf: *mut c_void,
    n: usize,
    off: libc::off64_t,
) -> isize {
    if off < 0 || !file_fd(fd) {
        // SAFETY: the caller's arguments pass through unchanged.
        return unsafe { real::pread64(fd, buf, n, off) };
    }
    let p = SendPtr(buf);
    // SAFETY: as in `read`.
    unsafe {
        transfer(fd, buf, n, off, false, move |_| {
            let p = p;
            real::pread64(fd, p.0, n, off)
        })
    }
}

/// greenshim's `pread`.
///
/// # Safety
/// The C contract of `pread(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pread(fd: c_int, buf: *mut c_void, n: usize, off: libc::off_t) -> isize {
    // SAFETY: the same call; off_t is 64 bits on the targets greenshim supports.
    unsafe { pread64(fd, buf, n, off) }
}

/// greenshim's `pwrite64` (and `pwrite`).
///
/// # Safety
/// The C contract of `pwrite(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pwrite64(
    fd: c_int,
    buf: *const c_void,
    n: usize,
    off: libc::off64_t,
) -> isize {
    if off < 0 || !file_fd(fd) {
        // SAFETY: the caller's arguments pass through unchanged.
        return unsafe { real::pwrite64(fd, buf, n, off) };
    }
    let p = SendPtr(buf.cast_mut());
    // SAFETY: as in `write`.
    unsafe {
        transfer(fd, buf.cast_mut(), n, off, true, move |done| {
            let p = p;
            real::pwrite64(
                fd,
                p.0.cast::<u8>().add(done).cast(),
                n - done,
                off + done as i64,
            )
        })
    }
}

/// greenshim's `pwrite`.
///
/// # Safety
/// The C contract of `pwrite(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pwrite(
    fd: c_int,
    buf: *const c_void,
    n: usize,
    off: libc::off_t,
) -> isize {
    // SAFETY: the same call.
    unsafe { pwrite64(fd, buf, n, off) }
}

/// Runs an fd call that may wait for the disk on the offload pool (any fd: `fsync` of a
/// socket fails at once either way).
fn offloaded(call: impl FnOnce() -> c_int + Send) -> c_int {
    if cooperative(Family::Files) {
        offload_call(call)
    } else {
        call()
    }
}

/// greenshim's `fsync`.
///
/// # Safety
/// None beyond `fsync(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fsync(fd: c_int) -> c_int {
    // SAFETY: plain value argument.
    offloaded(move || unsafe { real::fsync(fd) })
}

/// greenshim's `fdatasync`.
///
/// # Safety
/// None beyond `fdatasync(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fdatasync(fd: c_int) -> c_int {
    // SAFETY: plain value argument.
    offloaded(move || unsafe { real::fdatasync(fd) })
}

/// greenshim's `flock`: a blocking lock waits off the worker.
///
/// # Safety
/// None beyond `flock(2)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flock(fd: c_int, op: c_int) -> c_int {
    if op & libc::LOCK_NB != 0 {
        // SAFETY: plain value arguments.
        return unsafe { real::flock(fd, op) };
    }
    // SAFETY: plain value arguments.
    offloaded(move || unsafe { real::flock(fd, op) })
}

/// Shared by the `open` family: offloaded on a green thread; a regular file it opens is
/// recorded for the file path of `read`/`write`.
fn open_with(call: impl FnOnce() -> c_int + Send) -> c_int {
    if !is_patched(Family::Files) || crate::sys::pass::in_child() {
        return call();
    }
    let fd = offloaded(call);
    if fd >= 0 {
        let regular = crate::sys::file::is_regular_file(fd).unwrap_or(false);
        let origin = if regular {
            Origin::File
        } else {
            Origin::Unknown
        };
        crate::fd::close::note_created(fd, origin);
    }
    fd
}

/// Offloads an `open` call of `path` (see [`open_with`]).
fn open_path(path: *const c_char, call: impl FnOnce(*const c_char) -> c_int + Send) -> c_int {
    let p = SendPtr(path.cast_mut());
    open_with(move || {
        let p = p;
        call(p.0)
    })
}

/// greenshim's `open` (variadic in C: `mode` is read as one register).
///
/// # Safety
/// The C contract of `open(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn open(path: *const c_char, flags: c_int, mode: c_uint) -> c_int {
    // SAFETY: the caller's NUL-terminated path, alive while the caller is parked.
    open_path(path, move |p| unsafe { real::open(p, flags, mode) })
}

/// greenshim's `open64` (what std's `File::open` calls).
///
/// # Safety
/// The C contract of `open(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn open64(path: *const c_char, flags: c_int, mode: c_uint) -> c_int {
    // SAFETY: the caller's NUL-terminated path, alive while the caller is parked.
    open_path(path, move |p| unsafe { real::open64(p, flags, mode) })
}

/// greenshim's `openat`.
///
/// # Safety
/// The C contract of `openat(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn openat(
    dir: c_int,
    path: *const c_char,
    flags: c_int,
    mode: c_uint,
) -> c_int {
    // SAFETY: the caller's NUL-terminated path, alive while the caller is parked.
    open_path(path, move |p| unsafe { real::openat(dir, p, flags, mode) })
}

/// greenshim's `openat64`.
///
/// # Safety
/// The C contract of `openat(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn openat64(
    dir: c_int,
    path: *const c_char,
    flags: c_int,
    mode: c_uint,
) -> c_int {
    // SAFETY: the caller's NUL-terminated path, alive while the caller is parked.
    open_path(path, move |p| unsafe {
        real::openat64(dir, p, flags, mode)
    })
}

/// References every interposer of the family, so that a binary that patches links them.
pub(crate) fn keep_linked() {
    std::hint::black_box([
        pread64 as *const (),
        pread as *const (),
        pwrite64 as *const (),
        pwrite as *const (),
        fsync as *const (),
        fdatasync as *const (),
        flock as *const (),
        open as *const (),
        open64 as *const (),
        openat as *const (),
        openat64 as *const (),
    ]);
}
