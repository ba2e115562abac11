//! [`Child`], the mirror of [`std::process::Child`].

use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};

use greenshim_shim::fd::io as fdio;
use greenshim_shim::fd::table::Interest;
use greenshim_shim::offload;
use greenshim_shim::park::context::on_green_thread;
use greenshim_shim::sys::file::pidfd_open;

use super::{ChildStderr, ChildStdin, ChildStdout, ExitStatus, Output};

/// A running or exited child process; mirrors [`std::process::Child`].
///
/// `wait` parks the green thread on a pidfd until the child exits; no SIGCHLD handler is
/// involved.
pub struct Child {
    inner: std::process::Child,
    /// Mirrors [`std::process::Child::stdin`].
    pub stdin: Option<ChildStdin>,
    /// Mirrors [`std::process::Child::stdout`].
    pub stdout: Option<ChildStdout>,
    /// Mirrors [`std::process::Child::stderr`].
    pub stderr: Option<ChildStderr>,
    pidfd: Option<PidFd>,
}

/// A pidfd, released from the fd table before it is closed.
struct PidFd(OwnedFd);

impl Drop for PidFd {
    fn drop(&mut self) {
        greenshim_shim::fd::close::release(self.0.as_raw_fd(), false);
    }
}

impl From<std::process::Child> for Child {
    fn from(mut inner: std::process::Child) -> Self {
        Child {
            stdin: inner.stdin.take().map(ChildStdin::from),
            stdout: inner.stdout.take().map(ChildStdout::from),
            stderr: inner.stderr.take().map(ChildStderr::from),
            inner,
            pidfd: None,
        }
    }
}

impl Child {
    /// Sends SIGKILL; mirrors [`std::process::Child::kill`].
    pub fn kill(&mut self) -> io::Result<()> {
        self.inner.kill()
    }

    /// The OS process id; mirrors [`std::process::Child::id`].
    pub fn id(&self) -> u32 {
        self.inner.id()
    }

    /// Waits for the child to exit, closing its stdin first; mirrors
    /// [`std::process::Child::wait`]. A green thread parks.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        if !on_green_thread() {
            return self.inner.wait();
        }
        if let Some(status) = self.inner.try_wait()? {
            return Ok(status);
        }
        if self.pidfd.is_none() {
            match pidfd_open(self.inner.id()) {
                Ok(fd) => self.pidfd = Some(PidFd(fd)),
                // No pidfds here (an old kernel, a sandbox): wait on the pool instead.
                Err(_) => {
                    let inner = &mut self.inner;
                    return offload::run(|| inner.wait());
                }
            }
        }
        let pidfd = self.pidfd.as_ref().expect("opened above").0.as_raw_fd();
        loop {
            // Readable once the child has exited; it is then reaped without blocking.
            fdio::wait_ready(pidfd, Interest::Read, None)?;
            if let Some(status) = self.inner.try_wait()? {
                return Ok(status);
            }
        }
    }

    /// Reports the exit status if the child has exited; mirrors
    /// [`std::process::Child::try_wait`].
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.inner.try_wait()
    }

    /// Waits for the child, collecting all of stdout and stderr; mirrors
    /// [`std::process::Child::wait_with_output`]. On a green thread stderr is read by a helper
    /// green thread while this one reads stdout, so neither pipe can fill up and stall the
    /// child.
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = (self.stdout.take(), self.stderr.take());
        let (out, err) = if on_green_thread() {
            let err_reader = stderr.map(|e| crate::spawn(move || read_all(Some(e))));
            let out = read_all(stdout);
            let err = match err_reader {
                Some(g) => g
                    .join()
                    .unwrap_or_else(|e| Err(io::Error::other(e.to_string()))),
                None => Ok(Vec::new()),
            };
            (out, err)
        } else {
            // As std: both pipes drained at once, here by a scoped helper thread.
            std::thread::scope(|scope| {
                let err = scope.spawn(move || read_all(stderr));
                let out = read_all(stdout);
                (
                    out,
                    err.join()
                        .unwrap_or_else(|_| Err(io::Error::other("stderr reader panicked"))),
                )
            })
        };
        let (stdout, stderr) = (out?, err?);
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

/// Everything a pipe yields until EOF (nothing for a stream that was not piped).
fn read_all<R: Read>(pipe: Option<R>) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if let Some(mut p) = pipe {
        p.read_to_end(&mut buf)?;
    }
    Ok(buf)
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.inner.id())
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish()
    }
}
