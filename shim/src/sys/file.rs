//! File and process calls the mirrors need beyond std: reads and writes that refuse to wait
//! for the disk, the bytes ready on a pipe or terminal, and process fds.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use super::{cvt, cvt_size};

fn nowait_result(r: io::Result<usize>) -> io::Result<Option<usize>> {
    match r {
        Ok(n) => Ok(Some(n)),
        // EAGAIN: the data is not in the page cache (or the write would wait for writeback);
        // EOPNOTSUPP/EINVAL: this file or kernel cannot tell. Either way: do it off the worker.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EAGAIN | libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS)
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Reads at the file position, but only what the page cache already holds
/// (`preadv2(RWF_NOWAIT)`): `Ok(None)` when that would mean waiting for the disk.
pub fn read_nowait(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: one iovec describing `buf`, which is writable for its length; offset -1 means
    // "at and advancing the file position".
    let r = unsafe { libc::preadv2(fd, &raw const iov, 1, -1, libc::RWF_NOWAIT) };
    nowait_result(cvt_size(r))
}

/// Writes at the file position unless that would wait (`pwritev2(RWF_NOWAIT)`): `Ok(None)`
/// when it would.
pub fn write_nowait(fd: RawFd, buf: &[u8]) -> io::Result<Option<usize>> {
    let iov = libc::iovec {
        iov_base: buf.as_ptr().cast_mut().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: one iovec describing `buf`, which the kernel only reads; offset -1 means "at and
    // advancing the file position".
    let r = unsafe { libc::pwritev2(fd, &raw const iov, 1, -1, libc::RWF_NOWAIT) };
    nowait_result(cvt_size(r))
}

/// One `read(2)` into `buf` (retrying `EINTR`).
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is writable for its whole length.
        let r = unsafe { crate::sys::real::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match cvt_size(r) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Bytes that a read from a pipe, socket or terminal would return now (`FIONREAD`).
pub fn bytes_ready(fd: RawFd) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which points at a live local.
    cvt(unsafe { crate::sys::real::ioctl(fd, libc::FIONREAD, (&raw mut n) as libc::c_ulong) })?;
    Ok(n.max(0) as usize)
}

/// A pollable fd for process `pid` (`pidfd_open`): readable once the process has exited.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = cvt(fd as libc::c_int)?;
    // SAFETY: the kernel just returned this fd and nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The file type bits of `fd` (`S_IFREG`, `S_IFIFO`, …).
pub fn file_type(fd: RawFd) -> io::Result<libc::mode_t> {
    // SAFETY: `stat` is plain old data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes one stat through the pointer, which points at a live local.
    cvt(unsafe { libc::fstat(fd, &raw mut st) })?;
    Ok(st.st_mode & libc::S_IFMT)
}

/// Whether `fd` is a regular file (reads and writes on it cannot be waited for with epoll).
pub fn is_regular_file(fd: RawFd) -> io::Result<bool> {
    Ok(file_type(fd)? == libc::S_IFREG)
}
