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

use greenshim_shim::sys::socket::{RawAddr, UnixName};

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

/// std's address for `raw`, a Unix socket address the kernel gave back (a datagram's sender).
fn std_addr(raw: &RawAddr) -> io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    match raw.unix_name()? {
        UnixName::Unnamed => unnamed(),
        UnixName::Abstract(name) => SocketAddr::from_abstract_name(name),
        UnixName::Pathname(path) => {
            SocketAddr::from_pathname(std::path::Path::new(std::ffi::OsStr::from_bytes(path)))
        }
    }
}

/// std's unnamed address. std has no constructor for it; an unbound socket's own address is
/// one, made once.
fn unnamed() -> io::Result<SocketAddr> {
    static UNNAMED: std::sync::OnceLock<SocketAddr> = std::sync::OnceLock::new();
    if let Some(a) = UNNAMED.get() {
        return Ok(a.clone());
    }
    let a = std::os::unix::net::UnixDatagram::unbound()?.local_addr()?;
    Ok(UNNAMED.get_or_init(|| a).clone())
}
