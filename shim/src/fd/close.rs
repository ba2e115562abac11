//! The close protocol: how greenshim forgets an fd before it is closed or handed back.
//!
//! Closing ([`release`]) follows the order the reactor needs, so that a waiter never sleeps on
//! a dead fd and a reused fd number is never confused with the old one:
//!
//! ```text
//!  closer                                   waiter (parked on fd, generation g)
//!  ------                                   ------
//!  generation = g + 1
//!  epoll DEL (before the real close)
//!  wake every waiter  --------------------> wakes, sees generation != g -> EBADF
//!  drop the Desc reference
//!  (caller) close(fd)
//! ```
//!
//! It sits above both the table and the reactor, which therefore never call each other's way
//! back.

use std::os::fd::RawFd;

use crate::fd::reactor;
use crate::fd::table::{self as fdtable, Origin};
use crate::sys;

/// Forgets `fd` before it is closed (or handed back to code that knows nothing of greenshim):
/// removes it from the reactor, wakes its waiters (they fail with `EBADF`) and drops its
/// description reference. With `restore_blocking`, a description whose last reference this was
/// gets the user's blocking mode back in the kernel.
pub fn release(fd: RawFd, restore_blocking: bool) {
    let Some(e) = fdtable::lookup(fd) else { return };
    let Some(was_registered) = e.begin_release() else {
        return;
    };
    if was_registered {
        reactor::deregister(fd);
    }
    if let Some(released) = e.end_release()
        && restore_blocking
        && !released.nonblocking
    {
        // Best effort: the fd is being handed over, and an error here (a closed fd) leaves
        // nothing to restore.
        sys::set_nonblocking(fd, false).ok();
    }
}

/// A hooked call just created `fd`: whatever an earlier fd of that number left in the table
/// (it was closed behind the hooks' back) is released first, then `origin` is recorded.
pub fn note_created(fd: RawFd, origin: Origin) {
    release(fd, false);
    if let Ok(e) = fdtable::entry(fd) {
        e.set_origin(origin);
    }
}

/// Releases every adopted fd of `origin`, giving it back its user's blocking mode (the monkey
/// patch is being turned off: code that then calls libc directly must find the kernel mode it
/// asked for).
pub fn release_all(origin: Origin) {
    fdtable::for_each_entry(|fd, e| {
        if e.origin() == origin && e.desc().is_some() {
            release(fd, true);
        }
    });
}

/// `fd` is about to be closed by a hooked `close`: releases it and forgets its origin.
pub fn forget(fd: RawFd) {
    release(fd, false);
    if let Some(e) = fdtable::lookup(fd) {
        e.set_origin(Origin::Unknown);
    }
}
