//! Socket calls that std does not expose in the shape greenshim needs: creating sockets
//! already non-blocking, a connect that may return `EINPROGRESS`, `accept4` with
//! `SOCK_NONBLOCK`, and the socket options behind timeouts and pending errors.

use std::io;
use std::mem::{self, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{cvt, cvt_r, cvt_size, real};

/// What a Unix socket address names (see [`RawAddr::unix_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnixName<'a> {
    /// No name: an unbound socket, or a socket from `socketpair`.
    Unnamed,
    /// A name in Linux's abstract namespace, without its leading NUL.
    Abstract(&'a [u8]),
    /// A filesystem path, without its terminating NUL.
    Pathname(&'a [u8]),
}

/// A socket address in the kernel's layout.
pub struct RawAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl RawAddr {
    /// The kernel layout of an IP socket address.
    pub fn from_ip(addr: &SocketAddr) -> RawAddr {
        // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
        let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
        let len = match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                unsafe { (&raw mut storage).cast::<libc::sockaddr_in>().write(sin) };
                mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                unsafe { (&raw mut storage).cast::<libc::sockaddr_in6>().write(sin6) };
                mem::size_of::<libc::sockaddr_in6>()
            }
        };
        RawAddr {
            storage,
            len: len as libc::socklen_t,
        }
    }

    /// The kernel layout of a Unix socket address: a path, or (with `abstract_name`) a name in
    /// Linux's abstract namespace.
    pub fn from_unix(bytes: &[u8], abstract_name: bool) -> io::Result<RawAddr> {
        // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
        let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
        // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_un.
        let sun = unsafe { &mut *(&raw mut storage).cast::<libc::sockaddr_un>() };
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let offset = mem::offset_of!(libc::sockaddr_un, sun_path);
        let start = usize::from(abstract_name);
        if !abstract_name && bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "paths must not contain interior null bytes",
            ));
        }
        // A path needs room for its terminating NUL; an abstract name has a leading NUL instead.
        if start + bytes.len() >= sun.sun_path.len() + usize::from(abstract_name) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "path must be shorter than SUN_LEN",
            ));
        }
        for (dst, &b) in sun.sun_path[start..].iter_mut().zip(bytes) {
            *dst = b as libc::c_char;
        }
        let len = if abstract_name {
            offset + 1 + bytes.len()
        } else if bytes.is_empty() {
            offset
        } else {
            offset + bytes.len() + 1
        };
        Ok(RawAddr {
            storage,
            len: len as libc::socklen_t,
        })
    }

    /// What a Unix socket address names, read as std reads the kernel's answer (a length of
    /// zero or of the family alone is unnamed; a leading NUL starts an abstract name; a path's
    /// last byte is its terminating NUL).
    ///
    /// # Errors
    /// `InvalidInput` when the address is not of family `AF_UNIX`.
    pub fn unix_name(&self) -> io::Result<UnixName<'_>> {
        let offset = mem::offset_of!(libc::sockaddr_un, sun_path);
        let len = self.len as usize;
        if len == 0 || len <= offset {
            return Ok(UnixName::Unnamed);
        }
        if libc::c_int::from(self.storage.ss_family) != libc::AF_UNIX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "file descriptor did not correspond to a Unix socket",
            ));
        }
        // SAFETY: the family says the storage holds a sockaddr_un.
        let sun = unsafe { &*(&raw const self.storage).cast::<libc::sockaddr_un>() };
        // SAFETY: sun_path is an array of c_char, the same size and layout as u8.
        let path: &[u8] =
            unsafe { std::slice::from_raw_parts(sun.sun_path.as_ptr().cast(), sun.sun_path.len()) };
        let len = (len - offset).min(path.len());
        Ok(if path[0] == 0 {
            UnixName::Abstract(&path[1..len])
        } else {
            UnixName::Pathname(&path[..len - 1])
        })
    }

    fn as_ptr(&self) -> *const libc::sockaddr {
        (&raw const self.storage).cast()
    }
}

/// Converts a kernel socket address of family `AF_INET`/`AF_INET6` to std's type.
fn to_ip(storage: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Ok(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "invalid argument: not an IP socket address",
        )),
    }
}

/// A new socket of `family` and `ty`, already non-blocking and close-on-exec.
pub fn socket(family: libc::c_int, ty: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket takes no pointers.
    let fd = cvt(unsafe {
        crate::sys::real::socket(family, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0)
    })?;
    // SAFETY: `fd` was just returned by socket and belongs to nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The address family of an IP socket address.
pub fn family_of(addr: &SocketAddr) -> libc::c_int {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}

/// Starts a connect on a non-blocking socket. `Ok(true)`: connected; `Ok(false)`: in progress
/// (`EINPROGRESS`, TCP), wait for writability. A full Unix listener backlog is an `EAGAIN`
/// error (see [`is_backlog_full`]).
pub fn connect(fd: RawFd, addr: &RawAddr) -> io::Result<bool> {
    // SAFETY: `addr` holds `len` initialized bytes of a socket address.
    match cvt_r(|| unsafe { crate::sys::real::connect(fd, addr.as_ptr(), addr.len) }) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether a Unix-socket connect failed because the listener's backlog is full (`EAGAIN`).
pub fn is_backlog_full(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EAGAIN)
}

/// A new non-blocking TCP socket for connecting to `addr`.
pub fn tcp_socket_for(addr: &SocketAddr) -> io::Result<OwnedFd> {
    socket(family_of(addr), libc::SOCK_STREAM)
}

/// A new non-blocking Unix stream socket.
pub fn unix_stream_socket() -> io::Result<OwnedFd> {
    socket(libc::AF_UNIX, libc::SOCK_STREAM)
}

/// Accepts one connection on a listening Unix socket; the new socket is non-blocking and
/// close-on-exec (the peer's address is the accepted socket's `peer_addr`).
pub fn accept_unix(fd: RawFd) -> io::Result<OwnedFd> {
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: null address and length pointers ask for no address.
    let new = cvt_r(|| unsafe {
        crate::sys::real::accept4(fd, std::ptr::null_mut(), std::ptr::null_mut(), flags)
    })?;
    // SAFETY: `new` was just returned by accept4 and belongs to nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Accepts one connection on a listening IP socket; the new socket is non-blocking and
/// close-on-exec.
pub fn accept_ip(fd: RawFd) -> io::Result<(OwnedFd, SocketAddr)> {
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: `storage` is writable for `len` bytes and `len` is a live socklen_t.
    let new = cvt_r(|| unsafe {
        crate::sys::real::accept4(fd, storage.as_mut_ptr().cast(), &raw mut len, flags)
    })?;
    // SAFETY: `new` was just returned by accept4 and belongs to nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(new) };
    // SAFETY: zero-initialized, then filled by the kernel; every bit pattern is valid.
    let storage = unsafe { storage.assume_init() };
    Ok((owned, to_ip(&storage)?))
}

fn getsockopt<T: Copy>(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<T> {
    let mut value = MaybeUninit::<T>::zeroed();
    let mut len = mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is writable for `len` bytes; `len` is a live socklen_t.
    cvt(unsafe { libc::getsockopt(fd, level, name, value.as_mut_ptr().cast(), &raw mut len) })?;
    // SAFETY: zero-initialized and then (partly) written by the kernel; `T` is a plain C type.
    Ok(unsafe { value.assume_init() })
}

/// The socket type (`SOCK_STREAM`, `SOCK_DGRAM`, …); `ENOTSOCK` for other fds.
pub fn socket_type(fd: RawFd) -> io::Result<libc::c_int> {
    getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE)
}

/// The pending socket error (`SO_ERROR`), cleared by reading it.
pub fn take_error(fd: RawFd) -> io::Result<Option<io::Error>> {
    let e: libc::c_int = getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR)?;
    Ok((e != 0).then(|| io::Error::from_raw_os_error(e)))
}

/// Which kernel timeout to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutOpt {
    /// `SO_RCVTIMEO`.
    Receive,
    /// `SO_SNDTIMEO`.
    Send,
}

/// The socket's `SO_RCVTIMEO`/`SO_SNDTIMEO` (`None` when unset). `Ok(None)` too for an fd that
/// is not a socket.
pub fn timeout(fd: RawFd, which: TimeoutOpt) -> io::Result<Option<Duration>> {
    let name = match which {
        TimeoutOpt::Receive => libc::SO_RCVTIMEO,
        TimeoutOpt::Send => libc::SO_SNDTIMEO,
    };
    match getsockopt::<libc::timeval>(fd, libc::SOL_SOCKET, name) {
        Ok(tv) if tv.tv_sec == 0 && tv.tv_usec == 0 => Ok(None),
        Ok(tv) => Ok(Some(
            Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64),
        )),
        Err(e) if e.raw_os_error() == Some(libc::ENOTSOCK) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The most iovecs one vector call passes (the kernel's `IOV_MAX`; std clamps the same way).
const IOV_MAX: usize = 1024;

/// One `recv(2)` into `buf` with `flags` (no `EINTR` retry: a non-blocking call does not
/// sleep, so it is not interrupted).
pub fn recv(fd: RawFd, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: `buf` is writable for its whole length.
    cvt_size(unsafe { real::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) })
}

/// One `send(2)` of `buf` with `flags`.
pub fn send(fd: RawFd, buf: &[u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: `buf` is readable for its whole length.
    cvt_size(unsafe { real::send(fd, buf.as_ptr().cast(), buf.len(), flags) })
}

/// `MSG_PEEK` when `peek`, else no flag.
fn peek_flag(peek: bool) -> libc::c_int {
    if peek { libc::MSG_PEEK } else { 0 }
}

/// One `recv(2)` into `buf`, with `peek` leaving the data queued: std's `recv` and `peek` of
/// a datagram socket, and `TcpStream::peek`.
pub fn recv_or_peek(fd: RawFd, buf: &mut [u8], peek: bool) -> io::Result<usize> {
    recv(fd, buf, peek_flag(peek))
}

/// One `recvfrom(2)` into `buf` (with `peek`, leaving the datagram queued): the bytes and the
/// sender's IP address, as std's `UdpSocket::recv_from` and `peek_from` give them.
pub fn recv_from(fd: RawFd, buf: &mut [u8], peek: bool) -> io::Result<(usize, SocketAddr)> {
    let (n, from) = recv_from_raw(fd, buf, peek)?;
    Ok((n, to_ip(&from.storage)?))
}

/// One `recvfrom(2)` into `buf` (with `peek`, leaving the datagram queued): the bytes and the
/// sender's address in the kernel's layout, of any family.
pub fn recv_from_raw(fd: RawFd, buf: &mut [u8], peek: bool) -> io::Result<(usize, RawAddr)> {
    let flags = peek_flag(peek);
    let mut storage = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `buf` is writable for its whole length; `storage` for `len` bytes, and `len` is
    // a live socklen_t.
    let n = cvt_size(unsafe {
        real::recvfrom(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            flags,
            storage.as_mut_ptr().cast(),
            &raw mut len,
        )
    })?;
    // SAFETY: zero-initialized, then filled by the kernel; every bit pattern is valid.
    let storage = unsafe { storage.assume_init() };
    Ok((n, RawAddr { storage, len }))
}

/// One `sendto(2)` of `buf` to `addr`, as std's `UdpSocket::send_to` makes it (`MSG_NOSIGNAL`).
pub fn send_to(fd: RawFd, buf: &[u8], addr: &RawAddr) -> io::Result<usize> {
    // SAFETY: `buf` is readable for its whole length; `addr` holds `len` initialized bytes of
    // a socket address.
    cvt_size(unsafe {
        real::sendto(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_NOSIGNAL,
            addr.as_ptr(),
            addr.len,
        )
    })
}

/// A socket's write as std makes it (a stream's `write`, a datagram socket's `send`): `send(2)`
/// with `MSG_NOSIGNAL` (a closed peer is `EPIPE`, never `SIGPIPE`).
pub fn send_stream(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    send(fd, buf, libc::MSG_NOSIGNAL)
}

/// One `readv(2)` into `bufs` (at most `IOV_MAX` of them).
pub fn readv(fd: RawFd, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
    let n = bufs.len().min(IOV_MAX);
    // SAFETY: `IoSliceMut` is ABI-compatible with `iovec` on Unix; each describes a writable
    // buffer.
    cvt_size(unsafe { real::readv(fd, bufs.as_mut_ptr().cast(), n as libc::c_int) })
}

/// One `writev(2)` of `bufs` (at most `IOV_MAX` of them).
pub fn writev(fd: RawFd, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    let n = bufs.len().min(IOV_MAX);
    // SAFETY: `IoSlice` is ABI-compatible with `iovec` on Unix; the kernel only reads them.
    cvt_size(unsafe { real::writev(fd, bufs.as_ptr().cast(), n as libc::c_int) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_addresses_round_trip_through_the_kernel_layout() {
        for text in ["127.0.0.1:8080", "[::1]:443", "[fe80::1%3]:1"] {
            let addr: SocketAddr = text.parse().unwrap();
            let raw = RawAddr::from_ip(&addr);
            assert_eq!(to_ip(&raw.storage).unwrap(), addr);
        }
    }

    #[test]
    fn unix_paths_are_checked_like_std() {
        assert!(RawAddr::from_unix(b"/tmp/x", false).is_ok());
        let long = vec![b'a'; 108];
        let e = RawAddr::from_unix(&long, false).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = RawAddr::from_unix(b"a\0b", false).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(RawAddr::from_unix(&long[..107], true).is_ok());
    }
}
