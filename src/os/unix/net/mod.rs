//! A mirror of [`std::os::unix::net`]: Unix-domain sockets whose blocking calls park the green
//! thread. Same rules as [`crate::net`] (see its module docs).

mod datagram;
mod listener;
mod stream;

pub use std::os::unix::net::SocketAddr;

pub use datagram::UnixDatagram;
pub use listener::{Incoming, UnixListener};
pub use stream::UnixStream;

use std::io;
use std::os::unix::ffi::OsStrExt;

use greenshim_shim::sys::socket::RawAddr;

/// The kernel layout of a Unix socket address (path, abstract name, or unnamed).
fn raw_addr(addr: &SocketAddr) -> io::Result<RawAddr> {
    use std::os::linux::net::SocketAddrExt;
    if let Some(path) = addr.as_pathname() {
        RawAddr::from_unix(path.as_os_str().as_bytes(), false)
    } else if let Some(name) = addr.as_abstract_name() {
        RawAddr::from_unix(name, true)
    } else {
        RawAddr::from_unix(&[], false)
    }
}
