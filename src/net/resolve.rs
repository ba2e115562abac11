//! Address resolution off the worker, with std's try-each-address rule.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use greenshim_shim::interpose::dns;

/// Resolves `addr`; a host-name lookup made on a green thread runs on the offload pool.
pub(crate) fn resolve<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    dns::resolve_off_worker(|| addr.to_socket_addrs().map(Iterator::collect))
}

/// std's `each_addr`: calls `f` on each resolved address in order until one succeeds;
/// otherwise returns the last error, or std's error for an empty resolution.
pub(crate) fn each_addr<A: ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in resolve(addr)? {
        match f(&a) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(no_addresses))
}

/// std's error for a name that resolved to nothing.
pub(crate) fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any addresses",
    )
}
