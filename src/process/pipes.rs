//! The child's standard streams: [`ChildStdin`], [`ChildStdout`], [`ChildStderr`].

use std::io::{self, Read, Write};

use crate::net::Managed;

macro_rules! pipe_impls {
    ($ty:ident, $std:path) => {
        crate::net::managed::fd_impls!($ty, $std);

        impl From<$ty> for std::process::Stdio {
            /// Hands the pipe to another child (in the blocking mode the user chose).
            fn from(p: $ty) -> Self {
                <$std>::from(p).into()
            }
        }
    };
}

macro_rules! pipe_read {
    ($ty:ident) => {
        impl Read for $ty {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.0.read_stream_mut(buf.len(), |p| p.read(buf))
            }

            fn read_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
                let len = bufs.iter().map(|b| b.len()).sum();
                self.0.read_stream_mut(len, |p| p.read_vectored(bufs))
            }
        }
    };
}

/// The write end of the child's stdin; mirrors [`std::process::ChildStdin`]. Writes park
/// while the pipe is full.
pub struct ChildStdin(Managed<std::process::ChildStdin>);

/// The read end of the child's stdout; mirrors [`std::process::ChildStdout`]. Reads park
/// while the pipe is empty.
pub struct ChildStdout(Managed<std::process::ChildStdout>);

/// The read end of the child's stderr; mirrors [`std::process::ChildStderr`].
pub struct ChildStderr(Managed<std::process::ChildStderr>);

pipe_impls!(ChildStdin, std::process::ChildStdin);
pipe_impls!(ChildStdout, std::process::ChildStdout);
pipe_impls!(ChildStderr, std::process::ChildStderr);
pipe_read!(ChildStdout);
pipe_read!(ChildStderr);

impl Write for &ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .write_all(buf.len(), |p, off| (&*p).write(&buf[off..]))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
