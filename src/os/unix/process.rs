//! Mirror of [`std::os::unix::process`]: [`CommandExt`] for [`crate::process::Command`].
//!
//! std's `CommandExt` is sealed and returns std's `Command`, so greenshim's command cannot
//! implement it; this trait has the same methods and is implemented for both commands, so a
//! port changes only the `use` line. `ExitStatus` is std's own type, so std's
//! [`ExitStatusExt`] applies to it as it is.
//!
//! ```
//! use greenshim::os::unix::process::CommandExt;
//! use greenshim::process::Command;
//!
//! let out = Command::new("sh")
//!     .arg0("renamed")
//!     .args(["-c", "tr '\\0' ' ' < /proc/$$/cmdline"])
//!     .output()?;
//! assert!(out.stdout.starts_with(b"renamed "));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::ffi::OsStr;
use std::io;

pub use std::os::unix::process::{ExitStatusExt, parent_id};

/// Unix-specific settings of a command; mirrors [`std::os::unix::process::CommandExt`].
pub trait CommandExt {
    /// Sets the child's user id; mirrors [`std::os::unix::process::CommandExt::uid`].
    fn uid(&mut self, id: u32) -> &mut Self;

    /// Sets the child's group id; mirrors [`std::os::unix::process::CommandExt::gid`].
    fn gid(&mut self, id: u32) -> &mut Self;

    /// Runs `f` in the child between fork and exec; mirrors
    /// [`std::os::unix::process::CommandExt::pre_exec`].
    ///
    /// # Safety
    /// As std's: `f` runs in a forked child of a multi-threaded process and may only do what is
    /// async-signal-safe there.
    unsafe fn pre_exec<F>(&mut self, f: F) -> &mut Self
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static;

    /// Replaces this process with the command; returns only on error. Mirrors
    /// [`std::os::unix::process::CommandExt::exec`].
    fn exec(&mut self) -> io::Error;

    /// Sets the child's `argv[0]`; mirrors [`std::os::unix::process::CommandExt::arg0`].
    fn arg0<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Self;

    /// Puts the child in process group `pgroup` (0: a new group led by the child); mirrors
    /// [`std::os::unix::process::CommandExt::process_group`].
    fn process_group(&mut self, pgroup: i32) -> &mut Self;
}

impl CommandExt for crate::process::Command {
    fn uid(&mut self, id: u32) -> &mut Self {
        crate::process::Command::uid(self, id)
    }

    fn gid(&mut self, id: u32) -> &mut Self {
        crate::process::Command::gid(self, id)
    }

    unsafe fn pre_exec<F>(&mut self, f: F) -> &mut Self
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static,
    {
        // SAFETY: the caller upholds pre_exec's contract.
        unsafe { crate::process::Command::pre_exec(self, f) }
    }

    fn exec(&mut self) -> io::Error {
        crate::process::Command::exec(self)
    }

    fn arg0<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Self {
        crate::process::Command::arg0(self, arg)
    }

    fn process_group(&mut self, pgroup: i32) -> &mut Self {
        crate::process::Command::process_group(self, pgroup)
    }
}

/// std's command too, so code that imports this trait instead of std's keeps working on the
/// std commands it still builds.
impl CommandExt for std::process::Command {
    fn uid(&mut self, id: u32) -> &mut Self {
        std::os::unix::process::CommandExt::uid(self, id)
    }

    fn gid(&mut self, id: u32) -> &mut Self {
        std::os::unix::process::CommandExt::gid(self, id)
    }

    unsafe fn pre_exec<F>(&mut self, f: F) -> &mut Self
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static,
    {
        // SAFETY: the caller upholds pre_exec's contract.
        unsafe { std::os::unix::process::CommandExt::pre_exec(self, f) }
    }

    fn exec(&mut self) -> io::Error {
        std::os::unix::process::CommandExt::exec(self)
    }

    fn arg0<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Self {
        std::os::unix::process::CommandExt::arg0(self, arg)
    }

    fn process_group(&mut self, pgroup: i32) -> &mut Self {
        std::os::unix::process::CommandExt::process_group(self, pgroup)
    }
}
