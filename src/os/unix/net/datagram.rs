//! [`UnixDatagram`], the mirror of [`std::os::unix::net::UnixDatagram`].

use std::io;
use std::net::Shutdown;
use std::path::Path;

use greenshim_shim::fd::table::Interest;
use greenshim_shim::sys::socket::{self as sock, RawAddr};

use super::SocketAddr;
use crate::net::{Managed, socket_impls};

/// A Unix datagram socket; mirrors [`std::os::unix::net::UnixDatagram`].
pub struct UnixDatagram(Managed<std::os::unix::net::UnixDatagram>);

socket_impls!(UnixDatagram, std::os::unix::net::UnixDatagram);

impl UnixDatagram {
    /// Binds to `path`; mirrors [`std::os::unix::net::UnixDatagram::bind`].
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        std::os::unix::net::UnixDatagram::bind(path).map(UnixDatagram::from)
    }

    /// Binds to `addr`; mirrors [`std::os::unix::net::UnixDatagram::bind_addr`].
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        std::os::unix::net::UnixDatagram::bind_addr(addr).map(UnixDatagram::from)
    }

    /// An unbound socket; mirrors [`std::os::unix::net::UnixDatagram::unbound`].
    pub fn unbound() -> io::Result<UnixDatagram> {
        std::os::unix::net::UnixDatagram::unbound().map(UnixDatagram::from)
    }

    /// A connected pair; mirrors [`std::os::unix::net::UnixDatagram::pair`].
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
        Ok((a.into(), b.into()))
    }

    /// Connects to `path`; mirrors [`std::os::unix::net::UnixDatagram::connect`].
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.0.get().connect(path)
    }

    /// Connects to `addr`; mirrors [`std::os::unix::net::UnixDatagram::connect_addr`].
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.0.get().connect_addr(addr)
    }

    /// A second handle to the socket; mirrors [`std::os::unix::net::UnixDatagram::try_clone`].
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        self.0
            .try_clone(std::os::unix::net::UnixDatagram::try_clone)
            .map(UnixDatagram)
    }

    /// The local address; mirrors [`std::os::unix::net::UnixDatagram::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().local_addr()
    }

    /// The connected peer; mirrors [`std::os::unix::net::UnixDatagram::peer_addr`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().peer_addr()
    }

    /// Receives a datagram and its sender, parking until one arrives; mirrors
    /// [`std::os::unix::net::UnixDatagram::recv_from`].
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, from) = self
            .0
            .io_fd(Interest::Read, |fd| sock::recv_from_raw(fd, buf, false))?;
        Ok((n, super::std_addr(&from)?))
    }

    /// Receives a datagram; mirrors [`std::os::unix::net::UnixDatagram::recv`].
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .io_fd(Interest::Read, |fd| sock::recv_or_peek(fd, buf, false))
    }

    /// Sends a datagram to `path`; mirrors [`std::os::unix::net::UnixDatagram::send_to`].
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        use std::os::unix::ffi::OsStrExt;
        let to = RawAddr::from_unix(path.as_ref().as_os_str().as_bytes(), false)?;
        self.0
            .io_fd(Interest::Write, |fd| sock::send_to(fd, buf, &to))
    }

    /// Sends a datagram to `addr`; mirrors
    /// [`std::os::unix::net::UnixDatagram::send_to_addr`].
    pub fn send_to_addr(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        let to = super::raw_addr(addr)?;
        self.0
            .io_fd(Interest::Write, |fd| sock::send_to(fd, buf, &to))
    }

    /// Sends to the connected peer; mirrors [`std::os::unix::net::UnixDatagram::send`].
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .io_fd(Interest::Write, |fd| sock::send_stream(fd, buf))
    }

    /// Shuts down one or both halves; mirrors
    /// [`std::os::unix::net::UnixDatagram::shutdown`].
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.0.get().shutdown(how)
    }

    crate::net::managed::socket_state_methods!("std::os::unix::net::UnixDatagram");
    crate::net::managed::timeout_methods!("std::os::unix::net::UnixDatagram");
}
