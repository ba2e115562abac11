//! [`TcpListener`], the mirror of [`std::net::TcpListener`].

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;

use greenshim_shim::fd::table::Interest;
use greenshim_shim::sys::socket as sock;

use crate::net::resolve::resolve;
use crate::net::{Managed, TcpStream, socket_impls};

/// A TCP listening socket; mirrors [`std::net::TcpListener`].
///
/// Any number of green threads may `accept` on one listener at once.
pub struct TcpListener(Managed<std::net::TcpListener>);

socket_impls!(TcpListener, std::net::TcpListener);

impl TcpListener {
    /// Binds to `addr` (each resolved address in turn, as std); mirrors
    /// [`std::net::TcpListener::bind`]. A busy port fails with `AddrInUse`; `SO_REUSEPORT` is
    /// not set.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let addrs = resolve(addr)?;
        std::net::TcpListener::bind(&addrs[..]).map(TcpListener::from)
    }

    /// The local address; mirrors [`std::net::TcpListener::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().local_addr()
    }

    /// A second handle to the listener; mirrors [`std::net::TcpListener::try_clone`].
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        self.0
            .try_clone(std::net::TcpListener::try_clone)
            .map(TcpListener)
    }

    /// Accepts a connection, parking the green thread until one arrives; mirrors
    /// [`std::net::TcpListener::accept`]. Running out of fds (`EMFILE`) is returned as std
    /// returns it, and the listener keeps working once fds are free again.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (new, peer) = self.0.io_fd(Interest::Read, sock::accept_ip)?;
        let raw = new.as_raw_fd();
        let stream = TcpStream::from(std::net::TcpStream::from(new));
        self.0.adopt_accepted(raw)?;
        Ok((stream, peer))
    }

    /// An endless iterator of accepted connections; mirrors
    /// [`std::net::TcpListener::incoming`].
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// Sets `IP_TTL`; mirrors [`std::net::TcpListener::set_ttl`].
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.0.get().set_ttl(ttl)
    }

    /// Reads `IP_TTL`; mirrors [`std::net::TcpListener::ttl`].
    pub fn ttl(&self) -> io::Result<u32> {
        self.0.get().ttl()
    }

    crate::net::managed::socket_state_methods!("std::net::TcpListener");
}

/// Iterator over accepted connections; mirrors [`std::net::Incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl std::iter::FusedIterator for Incoming<'_> {}
