//! Test fixture: legacy blocking C code (built with `-O2 -D_FORTIFY_SOURCE=2`) for greenshim's
//! monkey-patch tests.

use std::ffi::{c_char, c_int, c_uint};
use std::io;

unsafe extern "C" {
    fn legacy_exchange(
        port: u16,
        part: usize,
        nfds: c_uint,
        out: *mut c_char,
        out_len: usize,
    ) -> c_int;
}

/// Runs the C client against `127.0.0.1:port`: connect, a 20 ms `nanosleep`, send `ping`,
/// `select`, `read(part)`, `poll(nfds)`, `recv(part)`. Returns what it read.
///
/// # Errors
/// The errno the C code failed with.
pub fn exchange(port: u16, part: usize, nfds: u32) -> io::Result<Vec<u8>> {
    let mut out = vec![0u8; 256];
    // SAFETY: `out` is writable for its length, which is passed along.
    let n = unsafe { legacy_exchange(port, part, nfds, out.as_mut_ptr().cast(), out.len()) };
    if n < 0 {
        return Err(io::Error::from_raw_os_error(-n));
    }
    out.truncate(n as usize);
    Ok(out)
}
