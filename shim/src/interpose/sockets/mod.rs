//! The `Sockets` family: socket and pipe I/O, connection set-up, and the fd-state calls that
//! keep greenshim's fd table in step with the kernel.
//!
//! A hooked call on an fd that [`managed_fd`](crate::interpose::managed_fd) accepts runs greenshim's retry loop: the kernel
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

mod connect;
mod read;
mod state;
mod write;

pub use connect::{accept, accept4, connect};
pub use read::{
    __read_chk, __recv_chk, __recvfrom_chk, read, readv, recv, recvfrom, recvmmsg, recvmsg,
};
pub use state::{
    close, dup, dup2, dup3, fcntl, fcntl64, ioctl, pipe, pipe2, setsockopt, socket, socketpair,
};
pub use write::{send, sendmmsg, sendmsg, sendto, write, writev};

use std::os::fd::RawFd;

use super::{Family, is_patched};
use crate::fd::table::{self as fdtable, Desc, Origin};

/// The description state of `fd`, if greenshim adopted it.
fn adopted_desc(fd: RawFd) -> Option<&'static Desc> {
    fdtable::lookup(fd).and_then(|e| e.desc())
}

/// Records fds a hooked call created (when the family is patched).
fn created(fds: &[RawFd]) {
    if is_patched(Family::Sockets) && !crate::sys::pass::in_child() {
        for &fd in fds {
            crate::fd::close::note_created(fd, Origin::Pollable);
        }
    }
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
