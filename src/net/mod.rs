//! A mirror of [`std::net`] whose blocking calls park the green thread instead of the worker.
//!
//! Every type wraps its std counterpart and has std's methods, signatures, trait impls and
//! error kinds. On a green thread, an operation that would block parks the green thread on
//! greenshim's reactor; on a plain OS thread it blocks the thread, as std does. Kill and
//! [`Timeout`](crate::Timeout) interrupt a parked operation on either.
//!
//! ```
//! use std::io::{Read, Write};
//! use greenshim::net::{TcpListener, TcpStream};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let server = greenshim::spawn(move || -> std::io::Result<()> {
//!     let (mut s, _) = listener.accept()?;
//!     let mut buf = [0; 5];
//!     s.read_exact(&mut buf)?;
//!     s.write_all(&buf)
//! });
//! let client = greenshim::spawn(move || -> std::io::Result<Vec<u8>> {
//!     let mut s = TcpStream::connect(addr)?;
//!     s.write_all(b"hello")?;
//!     let mut back = vec![0; 5];
//!     s.read_exact(&mut back)?;
//!     Ok(back)
//! });
//! server.join().unwrap()?;
//! assert_eq!(client.join().unwrap()?, b"hello");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # How it works
//! A socket is *adopted* the first time greenshim has to wait on it (or when greenshim creates
//! it): its fd is made non-blocking in the kernel, and the user's blocking mode and timeouts
//! move into greenshim's fd table, shared by clones as the kernel shares them. Converting back
//! to the std type (`From`, `into_raw_fd`) restores the blocking mode.
//!
//! Host names are resolved on greenshim's offload pool while the green thread parks (glibc's
//! resolver cannot be made cooperative), for every [`ToSocketAddrs`] implementation.
//!
//! # Differences from std
//! - While a socket is adopted its kernel fd is non-blocking. Code that reaches the fd behind
//!   the mirror's back (`libc::read` on `as_raw_fd()`, a `dup` made with libc) sees
//!   `EAGAIN` where std would block; go through the mirror or convert back first.
//! - A blocking-mode `write` queues all of its buffer before returning (as the kernel does for
//!   a blocking socket), unless a write timeout passes first.

pub(crate) mod managed;
mod resolve;
mod tcp;
mod udp;

pub use std::net::{
    AddrParseError, IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6,
    ToSocketAddrs,
};

pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;

pub(crate) use managed::{Managed, socket_impls};
