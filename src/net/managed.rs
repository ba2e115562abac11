//! The wrapper every socket mirror is built on: a std socket whose fd greenshim may adopt,
//! released from the fd table before it is closed or handed back to std.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use greenshim_shim::fd::io as fdio;
use greenshim_shim::fd::table::{self as fdtable, Interest};
use greenshim_shim::sys;
use greenshim_shim::sys::socket as sock;

/// A std socket plus greenshim's bookkeeping. `Drop` releases the fd from the fd table (waking
/// any waiter and leaving the reactor) before std's `Drop` closes it.
pub(crate) struct Managed<T: AsRawFd> {
    inner: Option<T>,
}

impl<T: AsRawFd> Managed<T> {
    pub(crate) fn new(inner: T) -> Self {
        Managed { inner: Some(inner) }
    }

    pub(crate) fn get(&self) -> &T {
        self.inner
            .as_ref()
            .expect("present until into_inner consumes the wrapper")
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.get().as_raw_fd()
    }

    /// Hands the socket back to code that knows nothing of greenshim, in the blocking mode the
    /// user chose.
    pub(crate) fn into_inner(mut self) -> T {
        let inner = self
            .inner
            .take()
            .expect("present until into_inner consumes the wrapper");
        greenshim_shim::fd::close::release(inner.as_raw_fd(), true);
        inner
    }

    /// Runs `op`, one system call of `sys` on the fd, with greenshim's retry loop: waits for
    /// `interest` whenever it would block (mio's shape: nothing passes through std or an
    /// interposer on the way).
    pub(crate) fn io_fd<R>(
        &self,
        interest: Interest,
        mut op: impl FnMut(RawFd) -> io::Result<R>,
    ) -> io::Result<R> {
        let fd = self.fd();
        fdio::do_io(fd, interest, || op(fd))
    }

    /// Records `raw`, a socket this listener accepted (`accept4` made it non-blocking), with
    /// the mode std's accept gives: blocking for the user, with the listener's socket timeouts,
    /// which Linux copies to the new socket.
    pub(crate) fn adopt_accepted(&self, raw: RawFd) -> io::Result<()> {
        let (read, write) = fdtable::lookup(self.fd())
            .and_then(|e| e.desc())
            .map_or((None, None), |d| {
                (d.timeout(Interest::Read), d.timeout(Interest::Write))
            });
        fdtable::adopt_new(raw, false, read, write)?;
        Ok(())
    }

    /// A stream socket's `read`: one `recv(2)` on the fd through the retry loop, as std's
    /// `read` makes it (no std, no interposer on the way).
    pub(crate) fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let fd = self.fd();
        fdio::read_stream(fd, buf.len(), || sock::recv(fd, buf, 0))
    }

    /// A stream socket's `read_vectored`: `readv(2)`, as std's.
    pub(crate) fn recv_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        let fd = self.fd();
        let len = bufs.iter().map(|b| b.len()).sum();
        fdio::read_stream(fd, len, || sock::readv(fd, bufs))
    }

    /// A stream socket's `write`: `send(2)` with `MSG_NOSIGNAL`, as std's; in blocking mode
    /// until every byte is queued, as the kernel's blocking `send` does.
    pub(crate) fn send(&self, buf: &[u8]) -> io::Result<usize> {
        let fd = self.fd();
        fdio::write_all(fd, buf.len(), |off| sock::send_stream(fd, &buf[off..]))
    }

    /// A stream socket's `write_vectored`: `writev(2)`, as std's, until every byte is queued
    /// in blocking mode.
    pub(crate) fn send_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let fd = self.fd();
        let len = bufs.iter().map(|b| b.len()).sum();
        let mut rest: Vec<io::IoSlice<'_>> = bufs.to_vec();
        let mut advanced = 0;
        fdio::write_all(fd, len, |off| {
            let mut view = &mut rest[..];
            io::IoSlice::advance_slices(&mut view, off - advanced);
            advanced = off;
            let n = view.len();
            let start = rest.len() - n;
            rest.drain(..start);
            sock::writev(fd, &rest)
        })
    }

    /// [`Managed::read_stream`] for types that read only through `&mut` (pipes).
    pub(crate) fn read_stream_mut(
        &mut self,
        len: usize,
        mut op: impl FnMut(&mut T) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let fd = self.fd();
        let inner = self
            .inner
            .as_mut()
            .expect("present until into_inner consumes the wrapper");
        fdio::read_stream(fd, len, || sys::inside(|| op(inner)))
    }

    /// A blocking-mode write of `len` bytes: `op(offset)` until every byte is queued.
    pub(crate) fn write_all(
        &self,
        len: usize,
        mut op: impl FnMut(&T, usize) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let inner = self.get();
        fdio::write_all(inner.as_raw_fd(), len, |off| sys::inside(|| op(inner, off)))
    }

    /// The user's `set_nonblocking`: recorded in the fd table (the kernel fd of an adopted
    /// socket stays non-blocking).
    pub(crate) fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        let (_, desc) = fdtable::adopt(self.fd())?;
        desc.set_nonblocking(on);
        Ok(())
    }

    /// Records a timeout that std's setter has already validated and stored in the kernel.
    pub(crate) fn note_timeout(&self, interest: Interest, timeout: Option<std::time::Duration>) {
        if let Some(desc) = fdtable::lookup(self.fd()).and_then(|e| e.desc()) {
            desc.set_timeout(interest, timeout);
        }
    }

    /// Clones the socket (`dup`) with std's `try_clone`; the clone shares the blocking mode and
    /// timeouts, as std documents.
    pub(crate) fn try_clone(&self, clone: impl FnOnce(&T) -> io::Result<T>) -> io::Result<Self> {
        fdtable::adopt(self.fd())?;
        let new = Managed::new(clone(self.get())?);
        fdtable::share(self.fd(), new.fd())?;
        Ok(new)
    }
}

impl<T: AsRawFd> Drop for Managed<T> {
    fn drop(&mut self) {
        if let Some(inner) = &self.inner {
            greenshim_shim::fd::close::release(inner.as_raw_fd(), false);
        }
    }
}

/// The trait impls every fd wrapper (sockets, child pipes) shares with its std counterpart:
/// `AsRawFd`, `AsFd`, `IntoRawFd`, `From` both ways and into `OwnedFd`, `Debug`. Handing the
/// fd back out releases it from the fd table and restores the user's blocking mode.
macro_rules! fd_impls {
    ($ty:ident, $std:path) => {
        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.0.fd()
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.0.get().as_fd()
            }
        }

        impl std::os::fd::IntoRawFd for $ty {
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                self.0.into_inner().into_raw_fd()
            }
        }

        impl From<$ty> for std::os::fd::OwnedFd {
            fn from(s: $ty) -> Self {
                s.0.into_inner().into()
            }
        }

        impl From<$std> for $ty {
            /// Wraps the std value. Nothing changes in the kernel until a green thread waits on
            /// it; its blocking mode and timeouts are read then.
            fn from(s: $std) -> Self {
                $ty(crate::net::managed::Managed::new(s))
            }
        }

        impl From<$ty> for $std {
            /// Hands the fd back to std, in the blocking mode the user chose.
            fn from(s: $ty) -> Self {
                s.0.into_inner()
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(self.0.get(), f)
            }
        }
    };
}

/// [`fd_impls`] plus what sockets add: `FromRawFd` and `From<OwnedFd>`.
macro_rules! socket_impls {
    ($ty:ident, $std:path) => {
        crate::net::managed::fd_impls!($ty, $std);

        impl std::os::fd::FromRawFd for $ty {
            unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> Self {
                // SAFETY: the caller hands over ownership of an open socket fd, as
                // `FromRawFd` requires.
                Self::from(unsafe { <$std>::from_raw_fd(fd) })
            }
        }

        impl From<std::os::fd::OwnedFd> for $ty {
            fn from(fd: std::os::fd::OwnedFd) -> Self {
                Self::from(<$std>::from(fd))
            }
        }
    };
}

/// `take_error` and `set_nonblocking`, which every socket mirror has; `$std` names the std
/// type for the docs.
macro_rules! socket_state_methods {
    ($std:literal) => {
        #[doc = concat!("Takes the pending socket error; mirrors [`", $std, "::take_error`].")]
        pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
            self.0.get().take_error()
        }

        #[doc = concat!(
            "Chooses non-blocking mode; mirrors [`", $std, "::set_nonblocking`]: in ",
            "non-blocking mode an operation that would block fails with `WouldBlock` instead ",
            "of parking."
        )]
        pub fn set_nonblocking(&self, nonblocking: bool) -> std::io::Result<()> {
            self.0.set_nonblocking(nonblocking)
        }
    };
}

/// The read and write timeout setters and getters of a connected-style socket mirror. The
/// setters let std validate and store the value in the kernel, then record it in the fd table,
/// where the waits read it. An expired timeout fails with `WouldBlock`, as std's does on Linux.
macro_rules! timeout_methods {
    ($std:literal) => {
        #[doc = concat!("Sets the read timeout; mirrors [`", $std, "::set_read_timeout`].")]
        pub fn set_read_timeout(&self, dur: Option<std::time::Duration>) -> std::io::Result<()> {
            self.0.get().set_read_timeout(dur)?;
            self.0
                .note_timeout(greenshim_shim::fd::table::Interest::Read, dur);
            Ok(())
        }

        #[doc = concat!("Sets the write timeout; mirrors [`", $std, "::set_write_timeout`].")]
        pub fn set_write_timeout(&self, dur: Option<std::time::Duration>) -> std::io::Result<()> {
            self.0.get().set_write_timeout(dur)?;
            self.0
                .note_timeout(greenshim_shim::fd::table::Interest::Write, dur);
            Ok(())
        }

        #[doc = concat!("The read timeout; mirrors [`", $std, "::read_timeout`].")]
        pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
            self.0.get().read_timeout()
        }

        #[doc = concat!("The write timeout; mirrors [`", $std, "::write_timeout`].")]
        pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
            self.0.get().write_timeout()
        }
    };
}

pub(crate) use {fd_impls, socket_impls, socket_state_methods, timeout_methods};
