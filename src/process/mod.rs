//! A mirror of [`std::process`] whose waits park the green thread.
//!
//! `Command::output`, `Command::status`, `Child::wait` and `Child::wait_with_output` park the
//! calling green thread until the child exits (on a pidfd watched by greenshim's reactor), and
//! reads and writes on the child's pipes park like socket I/O. No SIGCHLD handler is installed.
//! Outside green threads everything behaves exactly like std.
//!
//! ```
//! let out = greenshim::spawn(|| greenshim::process::Command::new("echo").arg("hi").output())
//!     .join()
//!     .unwrap()?;
//! assert_eq!(out.stdout, b"hi\n");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Differences from std
//! - `std::os::unix::process::CommandExt` is sealed, so it cannot be implemented for this
//!   command: import [`crate::os::unix::process::CommandExt`] instead (same methods, implemented
//!   for this command and std's); the methods are inherent here too, and
//!   [`Command::as_std_mut`] reaches everything else.
//! - `spawn` runs on the offload pool from a green thread: std's spawn waits until the child
//!   has called `exec`.

mod child;
mod command;
mod pipes;

pub use std::process::{
    CommandArgs, CommandEnvs, ExitCode, ExitStatus, Output, Stdio, Termination, abort, exit, id,
};

pub use child::Child;
pub use command::Command;
pub use pipes::{ChildStderr, ChildStdin, ChildStdout};
