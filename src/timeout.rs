//! `Timeout` and `with_timeout`: a deadline for a whole block of blocking code.
//!
//! When the deadline passes, greenshim's timer posts an interrupt carrying this timeout's id to
//! the context that started it; the next park there (a sleep, a join, a socket read…) unwinds
//! with that interrupt, and [`Timeout::run`] turns *its own* interrupt back into
//! `Err(Elapsed)`. An interrupt of an enclosing timeout (or a kill) keeps unwinding past it, so
//! nested timeouts are told apart. When `run` returns, its timer is cancelled synchronously and
//! its interrupt withdrawn, so an expired or finished timeout never fires into later code.
//!
//! Timeouts work on green threads and on plain OS threads alike, for every blocking call that
//! goes through greenshim. Code that never parks (a CPU loop) is not interrupted.

use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use greenshim_shim::park::context::{self, Interrupt, InterruptUnwind};
use greenshim_shim::park::timer;

/// The error of a block of code that hit its [`Timeout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed {
    duration: Duration,
}

impl Elapsed {
    /// The timeout's duration.
    pub fn duration(&self) -> Duration {
        self.duration
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timeout of {:?} elapsed", self.duration)
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for io::Error {
    fn from(e: Elapsed) -> Self {
        io::Error::new(io::ErrorKind::TimedOut, e)
    }
}

/// A deadline for a block of code (gevent's `Timeout`).
///
/// ```
/// use std::time::Duration;
/// use greenshim::{time, Timeout};
///
/// let r = Timeout::new(Duration::from_millis(20)).run(|| time::sleep(Duration::from_secs(10)));
/// assert!(r.is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout {
    duration: Duration,
}

impl Timeout {
    /// A timeout of `duration`, counted from each [`run`](Self::run).
    pub fn new(duration: Duration) -> Self {
        Timeout { duration }
    }

    /// The duration.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Runs `f`; if it is still blocked `duration` after the start, it is unwound (its
    /// destructors run) and `run` returns `Err(Elapsed)`. A panic or kill inside `f`, or the
    /// expiry of an enclosing timeout, passes through unchanged.
    ///
    /// # Errors
    /// [`Elapsed`] when the deadline interrupted `f`.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
        let ctx = context::current();
        let id = context::next_timeout_id();
        let Some(at) = Instant::now().checked_add(self.duration) else {
            return Ok(f());
        };
        let timer = timer::add(
            at,
            timer::Action::Interrupt(ctx.clone(), Interrupt::Timeout(id)),
        );
        let outcome = panic::catch_unwind(AssertUnwindSafe(f));
        timer.cancel();
        ctx.clear_timeout(id);
        match outcome {
            // Interposed libc calls cannot unwind: they end early and report it.
            Ok(_) if ctx.take_delivered(Interrupt::Timeout(id)) => Err(Elapsed {
                duration: self.duration,
            }),
            Ok(v) => Ok(v),
            Err(payload) if InterruptUnwind::of(&*payload) == Some(Interrupt::Timeout(id)) => {
                Err(Elapsed {
                    duration: self.duration,
                })
            }
            Err(payload) => panic::resume_unwind(payload),
        }
    }
}

/// Runs `f` with a [`Timeout`] of `duration`.
///
/// # Errors
/// [`Elapsed`] when the deadline interrupted `f`.
pub fn with_timeout<T>(duration: Duration, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    Timeout::new(duration).run(f)
}
