//! Wait annotations: what a parked green thread waits for ([`WaitOn`]), published in its
//! context (`WaitCell`) for the diagnostics to read without a lock.

use std::fmt;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// What a parked green thread waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOn {
    /// An fd to become readable (`write: false`) or writable.
    Fd {
        /// The fd.
        fd: RawFd,
        /// Waiting to write rather than read.
        write: bool,
    },
    /// Any of several fds (an interposed `poll`/`select`/`epoll_wait`).
    Poll {
        /// How many fds.
        fds: usize,
    },
    /// A deadline only (a sleep).
    Sleep,
    /// A job running on the offload pool.
    Offload,
    /// Another green thread to finish.
    Join {
        /// The id of the green thread joined.
        id: u64,
    },
    /// `thread::park`'s token.
    Park,
    /// A greenshim lock, channel, queue or event (`what` names it; `addr` tells instances apart).
    Object {
        /// The kind of object and operation, e.g. `"Mutex::lock"` or `"Receiver::recv"`.
        what: &'static str,
        /// The object's address.
        addr: usize,
    },
}

impl WaitOn {
    /// Whether only another green thread or plain thread could end this wait (no fd, timer,
    /// pool job or kernel event can).
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            WaitOn::Join { .. } | WaitOn::Park | WaitOn::Object { .. }
        )
    }
}

impl fmt::Display for WaitOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitOn::Fd { fd, write: false } => write!(f, "fd {fd} to become readable"),
            WaitOn::Fd { fd, write: true } => write!(f, "fd {fd} to become writable"),
            WaitOn::Poll { fds } => write!(f, "poll on {fds} fd(s)"),
            WaitOn::Sleep => f.write_str("a sleep"),
            WaitOn::Offload => f.write_str("a job on the offload pool"),
            WaitOn::Join { id } => write!(f, "green thread #{id} to finish"),
            WaitOn::Park => f.write_str("thread::park"),
            WaitOn::Object { what, addr } => write!(f, "{what} on {addr:#x}"),
        }
    }
}

/// A context's [`WaitOn`], published with a sequence lock: written only by the context's own
/// thread (green or plain), read by diagnostics on any thread, with no lock on either side.
#[derive(Debug, Default)]
pub(crate) struct WaitCell {
    /// Odd while a write is in progress.
    seq: AtomicU64,
    /// 0: nothing; otherwise the variant (see `encode`).
    kind: AtomicU64,
    /// fd, fd count, green-thread id or object address.
    arg: AtomicU64,
    /// The `what` of an `Object`: pointer and length of a `&'static str`.
    what_ptr: AtomicUsize,
    what_len: AtomicUsize,
}

impl WaitCell {
    pub(crate) fn set(&self, on: Option<WaitOn>) {
        let (kind, arg, what) = match on {
            None => (0, 0, ""),
            Some(WaitOn::Fd { fd, write }) => (1 + u64::from(write), fd as u64, ""),
            Some(WaitOn::Poll { fds }) => (3, fds as u64, ""),
            Some(WaitOn::Sleep) => (4, 0, ""),
            Some(WaitOn::Offload) => (5, 0, ""),
            Some(WaitOn::Join { id }) => (6, id, ""),
            Some(WaitOn::Park) => (7, 0, ""),
            Some(WaitOn::Object { what, addr }) => (8, addr as u64, what),
        };
        // One writer: a plain load and stores, no read-modify-write.
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s + 1, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::Release);
        self.kind.store(kind, Ordering::Relaxed);
        self.arg.store(arg, Ordering::Relaxed);
        self.what_ptr
            .store(what.as_ptr().expose_provenance(), Ordering::Relaxed);
        self.what_len.store(what.len(), Ordering::Relaxed);
        self.seq.store(s + 2, Ordering::Release);
    }

    pub(crate) fn get(&self) -> Option<WaitOn> {
        loop {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let kind = self.kind.load(Ordering::Relaxed);
            let arg = self.arg.load(Ordering::Relaxed);
            let ptr = self.what_ptr.load(Ordering::Relaxed);
            let len = self.what_len.load(Ordering::Relaxed);
            std::sync::atomic::fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) != s1 {
                continue;
            }
            return match kind {
                1 | 2 => Some(WaitOn::Fd {
                    fd: arg as RawFd,
                    write: kind == 2,
                }),
                3 => Some(WaitOn::Poll { fds: arg as usize }),
                4 => Some(WaitOn::Sleep),
                5 => Some(WaitOn::Offload),
                6 => Some(WaitOn::Join { id: arg }),
                7 => Some(WaitOn::Park),
                8 => Some(WaitOn::Object {
                    // SAFETY: the sequence did not move, so pointer and length are the halves
                    // of one `&'static str` that `set` stored.
                    what: unsafe {
                        std::str::from_utf8_unchecked(std::slice::from_raw_parts(
                            std::ptr::with_exposed_provenance::<u8>(ptr),
                            len,
                        ))
                    },
                    addr: arg as usize,
                }),
                _ => None,
            };
        }
    }
}
