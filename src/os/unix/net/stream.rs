//! [`UnixStream`], the mirror of [`std::os::unix::net::UnixStream`].

use std::io;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use greenshim_shim::fd::table as fdtable;
use greenshim_shim::park;
use greenshim_shim::sys::socket::{self as sock, RawAddr};

use super::{SocketAddr, raw_addr};
use crate::net::{Managed, socket_impls};

/// A Unix stream socket; mirrors [`std::os::unix::net::UnixStream`].
///
/// `Read` and `Write` are implemented for `UnixStream` and `&UnixStream`.
pub struct UnixStream(pub(crate) Managed<std::os::unix::net::UnixStream>);

socket_impls!(UnixStream, std::os::unix::net::UnixStream);

impl UnixStream {
    /// Connects to the socket at `path`; mirrors
    /// [`std::os::unix::net::UnixStream::connect`]. If the listener's backlog is full, a green
    /// thread retries after short sleeps where std would block.
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        connect_raw(&RawAddr::from_unix(
            path.as_ref().as_os_str().as_bytes(),
            false,
        )?)
    }

    /// Connects to `addr`; mirrors [`std::os::unix::net::UnixStream::connect_addr`].
    pub fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        connect_raw(&raw_addr(addr)?)
    }

    /// A connected pair; mirrors [`std::os::unix::net::UnixStream::pair`].
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        Ok((a.into(), b.into()))
    }

    /// A second handle to the same connection; mirrors
    /// [`std::os::unix::net::UnixStream::try_clone`].
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        self.0
            .try_clone(std::os::unix::net::UnixStream::try_clone)
            .map(UnixStream)
    }

    /// The local address; mirrors [`std::os::unix::net::UnixStream::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().local_addr()
    }

    /// The peer's address; mirrors [`std::os::unix::net::UnixStream::peer_addr`].
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().peer_addr()
    }

    /// Shuts down one or both halves; mirrors [`std::os::unix::net::UnixStream::shutdown`].
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.0.get().shutdown(how)
    }

    crate::net::managed::socket_state_methods!("std::os::unix::net::UnixStream");
    crate::net::managed::timeout_methods!("std::os::unix::net::UnixStream");
}

/// The longest pause between connect attempts while a listener's backlog is full.
const MAX_BACKOFF: Duration = Duration::from_millis(20);

fn connect_raw(addr: &RawAddr) -> io::Result<UnixStream> {
    let fd = sock::unix_stream_socket()?;
    let raw = fd.as_raw_fd();
    let stream = UnixStream::from(std::os::unix::net::UnixStream::from(fd));
    fdtable::adopt_new(raw, false, None, None)?;
    let mut pause = Duration::from_micros(500);
    loop {
        match sock::connect(raw, addr) {
            Ok(_) => return Ok(stream),
            // A full backlog: a Unix connect cannot be waited for with poll, so retry.
            Err(e) if sock::is_backlog_full(&e) => {
                if let Err(i) = park::sleep_until(Instant::now() + pause) {
                    return Err(greenshim_shim::fd::io::interrupted(i));
                }
                pause = (pause * 2).min(MAX_BACKOFF);
            }
            Err(e) => return Err(e),
        }
    }
}

impl io::Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        self.0.recv_vectored(bufs)
    }
}

/// Writes queue every byte before returning in blocking mode, as the kernel's blocking `send`
/// does.
impl io::Write for &UnixStream {
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

impl io::Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        self.0.recv_vectored(bufs)
    }
}

impl io::Write for UnixStream {
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
