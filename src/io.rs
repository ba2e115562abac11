//! A mirror of [`std::io`]: everything is std's, except [`stdin`], whose reads park the green
//! thread while standard input has nothing to read.
//!
//! `use greenshim::io` can replace `use std::io`. Standard input is usually a pipe or a
//! terminal shared with other processes, so greenshim never switches fd 0 to non-blocking
//! mode: it waits for readability on the reactor and then reads only as many bytes as are
//! ready (`FIONREAD`), which never blocks. A regular file or `/dev/null` is read directly (on
//! the offload pool when readiness cannot be asked).
//!
//! # Differences from std
//! - [`Stdin`] keeps its own buffer, separate from `std::io::stdin()`'s: do not read standard
//!   input through both in one program.
//! - If another process reads the same pipe between the readiness check and the read, the
//!   read can block the worker (greenshim cannot take fd 0 over without changing it for
//!   everyone who shares it).

pub use std::io::*;

use std::io;
use std::sync::{OnceLock, PoisonError};

use crate::sync::{Mutex, MutexGuard};

use greenshim_shim::fd::io as fdio;
use greenshim_shim::fd::table::Interest;
use greenshim_shim::offload;
use greenshim_shim::park::context::on_green_thread;
use greenshim_shim::sys::file::{bytes_ready, read};
use greenshim_shim::sys::{self, PollFor};

const STDIN_FD: i32 = 0;

/// Reads fd 0 without blocking the worker (see the module docs).
struct RawStdin;

impl io::Read for RawStdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !on_green_thread() || buf.is_empty() {
            return read(STDIN_FD, buf);
        }
        loop {
            match bytes_ready(STDIN_FD) {
                Ok(0) => {}
                Ok(n) => {
                    let len = n.min(buf.len());
                    return read(STDIN_FD, &mut buf[..len]);
                }
                // Readiness cannot be asked (a character device such as /dev/null).
                Err(_) => return offload::run(|| read(STDIN_FD, buf)),
            }
            // Nothing buffered: end of input (readable with 0 bytes) or no data yet.
            if sys::poll(
                STDIN_FD,
                PollFor::Read,
                None,
                Some(std::time::Duration::ZERO),
            )? != 0
            {
                return read(STDIN_FD, buf);
            }
            fdio::wait_ready_unadopted(STDIN_FD, Interest::Read, None, fdio::OnInterrupt::Raise)?;
        }
    }
}

type Shared = Mutex<io::BufReader<RawStdin>>;

fn shared() -> &'static Shared {
    static STDIN: OnceLock<Shared> = OnceLock::new();
    STDIN.get_or_init(|| Mutex::new(io::BufReader::new(RawStdin)))
}

/// A handle to standard input; mirrors [`std::io::Stdin`].
#[derive(Debug, Clone, Copy)]
pub struct Stdin {
    _private: (),
}

/// Standard input; mirrors [`std::io::stdin`]. Reads park the green thread while nothing is
/// ready.
pub fn stdin() -> Stdin {
    Stdin { _private: () }
}

/// A locked handle to standard input; mirrors [`std::io::StdinLock`]. Other green threads that
/// lock it meanwhile park.
pub struct StdinLock<'a> {
    guard: MutexGuard<'a, io::BufReader<RawStdin>>,
}

impl Stdin {
    /// Locks standard input for buffered reading; mirrors [`std::io::Stdin::lock`].
    pub fn lock(&self) -> StdinLock<'static> {
        // Nothing panics while holding it in a way that leaves the buffer inconsistent.
        let guard = shared().lock().unwrap_or_else(PoisonError::into_inner);
        StdinLock { guard }
    }

    /// Reads a line into `buf`, newline included; mirrors [`std::io::Stdin::read_line`].
    pub fn read_line(&self, buf: &mut String) -> io::Result<usize> {
        io::BufRead::read_line(&mut self.lock(), buf)
    }

    /// An iterator over lines; mirrors [`std::io::Stdin::lines`].
    pub fn lines(self) -> io::Lines<StdinLock<'static>> {
        io::BufRead::lines(self.lock())
    }
}

impl io::Read for Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock().read(buf)
    }
}

impl io::Read for &Stdin {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.lock().read(buf)
    }
}

impl io::Read for StdinLock<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.guard.read(buf)
    }
}

impl io::BufRead for StdinLock<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.guard.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.guard.consume(amt);
    }
}

impl std::fmt::Debug for StdinLock<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdinLock").finish_non_exhaustive()
    }
}
