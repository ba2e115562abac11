//! [`UnixListener`], the mirror of [`std::os::unix::net::UnixListener`].

use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use greenshim_shim::fd::table::Interest;
use greenshim_shim::sys::socket as sock;

use super::{SocketAddr, UnixStream};
use crate::net::{Managed, socket_impls};

/// A Unix listening socket; mirrors [`std::os::unix::net::UnixListener`].
pub struct UnixListener(Managed<std::os::unix::net::UnixListener>);

socket_impls!(UnixListener, std::os::unix::net::UnixListener);

impl UnixListener {
    /// Binds to `path`; mirrors [`std::os::unix::net::UnixListener::bind`].
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        std::os::unix::net::UnixListener::bind(path).map(UnixListener::from)
    }

    /// Binds to `addr`; mirrors [`std::os::unix::net::UnixListener::bind_addr`].
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        std::os::unix::net::UnixListener::bind_addr(addr).map(UnixListener::from)
    }

    /// Accepts a connection, parking until one arrives; mirrors
    /// [`std::os::unix::net::UnixListener::accept`].
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let new = self.0.io_fd(Interest::Read, sock::accept_unix)?;
        let raw = new.as_raw_fd();
        let s = std::os::unix::net::UnixStream::from(new);
        // The peer's address, as std's accept reports it (one getpeername, not interposed).
        let addr = s.peer_addr()?;
        let stream = UnixStream::from(s);
        self.0.adopt_accepted(raw)?;
        Ok((stream, addr))
    }

    /// A second handle to the listener; mirrors
    /// [`std::os::unix::net::UnixListener::try_clone`].
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        self.0
            .try_clone(std::os::unix::net::UnixListener::try_clone)
            .map(UnixListener)
    }

    /// The local address; mirrors [`std::os::unix::net::UnixListener::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().local_addr()
    }

    /// An endless iterator of accepted connections; mirrors
    /// [`std::os::unix::net::UnixListener::incoming`].
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    crate::net::managed::socket_state_methods!("std::os::unix::net::UnixListener");
}

/// Iterator over accepted connections; mirrors [`std::os::unix::net::Incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a UnixListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<UnixStream>;

    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl std::iter::FusedIterator for Incoming<'_> {}

impl<'a> IntoIterator for &'a UnixListener {
    type Item = io::Result<UnixStream>;
    type IntoIter = Incoming<'a>;

    fn into_iter(self) -> Incoming<'a> {
        self.incoming()
    }
}
