//! A thin, safe wrapper of one epoll instance.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use super::cvt;

/// Readiness bits as epoll reports them.
pub const IN: u32 = libc::EPOLLIN as u32;
/// Writable.
pub const OUT: u32 = libc::EPOLLOUT as u32;
/// Error condition (always reported).
pub const ERR: u32 = libc::EPOLLERR as u32;
/// Hang-up (always reported).
pub const HUP: u32 = libc::EPOLLHUP as u32;
/// The peer shut down its writing half.
pub const RDHUP: u32 = libc::EPOLLRDHUP as u32;
/// Edge-triggered mode.
pub const ET: u32 = libc::EPOLLET as u32;

/// One epoll event: readiness bits and the registration's user data.
pub type Event = libc::epoll_event;

/// An owned epoll instance (close-on-exec).
#[derive(Debug)]
pub struct Epoll(OwnedFd);

impl Epoll {
    /// Creates an epoll instance.
    pub fn new() -> io::Result<Self> {
        // SAFETY: epoll_create1 takes no pointers. The real one: the interposer would take
        // greenshim's own epolls for may's (see `park::wakeups`).
        let fd = cvt(unsafe { super::real::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `fd` was just returned by epoll_create1 and belongs to nobody else.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, data: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: data };
        // SAFETY: `ev` is a live epoll_event; the kernel only reads it.
        cvt(unsafe { libc::epoll_ctl(self.0.as_raw_fd(), op, fd, &raw mut ev) }).map(drop)
    }

    /// Adds `fd` with `events`, or updates it if it is already registered.
    pub fn add_or_modify(&self, fd: RawFd, events: u32, data: u64) -> io::Result<()> {
        match self.ctl(libc::EPOLL_CTL_ADD, fd, events, data) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                self.ctl(libc::EPOLL_CTL_MOD, fd, events, data)
            }
            other => other,
        }
    }

    /// Removes `fd`. An fd that is not registered (or already closed) is not an error.
    pub fn delete(&self, fd: RawFd) {
        // Failure means the fd was not registered here (ENOENT) or is already closed (EBADF):
        // either way nothing is left to remove.
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0).ok();
    }

    /// Collects ready events into `events` without blocking. Returns how many were written.
    pub fn poll_now(&self, events: &mut [Event]) -> io::Result<usize> {
        let max = libc::c_int::try_from(events.len()).unwrap_or(libc::c_int::MAX);
        loop {
            // SAFETY: `events` is a live, writable buffer of at least `max` entries.
            let n = unsafe {
                crate::sys::real::epoll_wait(self.0.as_raw_fd(), events.as_mut_ptr(), max, 0)
            };
            match cvt(n) {
                Ok(n) => return Ok(n as usize),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl AsRawFd for Epoll {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}
