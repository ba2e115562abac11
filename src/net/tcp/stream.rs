//! [`TcpStream`], the mirror of [`std::net::TcpStream`].

use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use greenshim_shim::fd::io::{self as fdio, Waited};
use greenshim_shim::fd::table::{self as fdtable, Interest};
use greenshim_shim::sys::socket::{self as sock, RawAddr};

use crate::net::resolve::each_addr;
use crate::net::{Managed, socket_impls};

/// A TCP connection; mirrors [`std::net::TcpStream`].
///
/// `Read` and `Write` are implemented for `TcpStream` and `&TcpStream`, so one green thread can
/// read while another writes through a shared reference (or a [`try_clone`](Self::try_clone)).
///
/// # Differences from std
/// See the [module docs](crate::net#differences-from-std).
pub struct TcpStream(pub(crate) Managed<std::net::TcpStream>);

socket_impls!(TcpStream, std::net::TcpStream);

impl TcpStream {
    /// Opens a TCP connection to `addr`, trying each resolved address in turn; mirrors
    /// [`std::net::TcpStream::connect`]. A green thread parks while the connection is set up
    /// (and while a host name resolves).
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |a| connect_one(a, None))
    }

    /// Opens a TCP connection with a timeout; mirrors [`std::net::TcpStream::connect_timeout`].
    /// A zero timeout is an `InvalidInput` error; expiry is `TimedOut`.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        connect_one(addr, Some(timeout))
    }

    /// The remote address; mirrors [`std::net::TcpStream::peer_addr`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().peer_addr()
    }

    /// The local address; mirrors [`std::net::TcpStream::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().local_addr()
    }

    /// Shuts down one or both halves; mirrors [`std::net::TcpStream::shutdown`]. Green threads
    /// waiting on the stream see EOF (or an error) at once.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.0.get().shutdown(how)
    }

    /// A second handle to the same connection (a `dup`); mirrors
    /// [`std::net::TcpStream::try_clone`]. Options set on either apply to both, as in std.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        self.0
            .try_clone(std::net::TcpStream::try_clone)
            .map(TcpStream)
    }

    /// Reads without consuming; mirrors [`std::net::TcpStream::peek`].
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .io_fd(Interest::Read, |fd| sock::recv_or_peek(fd, buf, true))
    }

    /// Sets `TCP_NODELAY`; mirrors [`std::net::TcpStream::set_nodelay`].
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.0.get().set_nodelay(nodelay)
    }

    /// Reads `TCP_NODELAY`; mirrors [`std::net::TcpStream::nodelay`].
    pub fn nodelay(&self) -> io::Result<bool> {
        self.0.get().nodelay()
    }

    /// Sets `IP_TTL`; mirrors [`std::net::TcpStream::set_ttl`].
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.0.get().set_ttl(ttl)
    }

    /// Reads `IP_TTL`; mirrors [`std::net::TcpStream::ttl`].
    pub fn ttl(&self) -> io::Result<u32> {
        self.0.get().ttl()
    }

    crate::net::managed::socket_state_methods!("std::net::TcpStream");
    crate::net::managed::timeout_methods!("std::net::TcpStream");
}

/// Connects to one address: a non-blocking connect, then a wait for writability.
fn connect_one(addr: &SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let fd = sock::tcp_socket_for(addr)?;
    let raw = fd.as_raw_fd();
    // Wrapped first, so that every early return releases the fd table entry.
    let stream = TcpStream::from(std::net::TcpStream::from(fd));
    fdtable::adopt_new(raw, false, None, None)?;
    if sock::connect(raw, &RawAddr::from_ip(addr))? {
        return Ok(stream);
    }
    match fdio::wait_ready(raw, Interest::Write, deadline)? {
        Waited::TimedOut => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "connection timed out",
        )),
        Waited::Ready => match sock::take_error(raw)? {
            Some(e) => Err(e),
            None => Ok(stream),
        },
    }
}

impl io::Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        self.0.recv_vectored(bufs)
    }
}

/// Writes queue every byte before returning in blocking mode, as the kernel's blocking `send`
/// does.
impl io::Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.send_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        self.0.recv_vectored(bufs)
    }
}

impl io::Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.send_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
