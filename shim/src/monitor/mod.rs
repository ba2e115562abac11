//! Diagnostics: which green thread each worker runs, what every parked green thread waits on,
//! the blocking detector, the run-info dump, the deadlock check, and where reports go.
//!
//! The worker switch record and the libc-call marks it samples live one floor down, in
//! [`crate::trace`]; what a green thread waits on and the list of live green threads, in
//! [`crate::park`]. This floor reads them and may import `park`, `sys` and `trace`; only the
//! runtime and the `greenshim` crate import it.
//!
//! **Deadlock.** [`DeadlockWatch`] is what a plain thread blocked in `join` polls: it reports
//! only when every known green thread is parked on something only another green thread could
//! signal (a lock, channel, queue, event, join, futex or `thread::park`) with no deadline, or
//! runs on a worker that is blocked in the kernel on per-OS-thread state with no timeout (a
//! patched `thread::park`; then runnable green threads count as stuck too once every worker is
//! blocked so), no other worker runs anything, every thread outside greenshim and may but the
//! joiner is blocked in a futex wait without timeout (it cannot wake anyone before someone wakes
//! it), and all that stayed so over several checks with no park in between. Anything it cannot
//! see through (an fd, a timer, an offload job, a thread doing anything else) means "not a
//! deadlock".

mod blocking;
mod deadlock;
mod run_info;

use std::fmt;
use std::panic::Location;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use run_info::describe;

pub use crate::park::wait::WaitOn;
pub use crate::trace::THREAD_BOUND_FUTEX_WAIT;
pub(crate) use blocking::enable_from_env;
pub use blocking::{
    DEFAULT_MAX_BLOCKING_TIME, blocking_incidents, disable, enable, is_enabled, max_blocking_time,
};
pub(crate) use deadlock::note_runtime_threads;
pub use deadlock::{DEADLOCK_CHECK_INTERVAL, DeadlockWatch};
pub use run_info::{GreenThreadInfo, RunInfo, State, run_info};

// ---------------------------------------------------------------------------------------------
// Reports

/// A worker held by one green thread for longer than `max_blocking_time`.
#[derive(Debug, Clone)]
pub struct BlockingReport {
    /// The green thread.
    pub green_thread: GreenThreadInfo,
    /// The worker's index.
    pub worker: usize,
    /// How long it had run without parking when the report was made.
    pub running_for: Duration,
    /// The libc function it was inside at that moment, if any.
    pub in_libc: Option<&'static str>,
}

/// A green thread that panicked and whose result nobody took.
#[derive(Debug, Clone)]
pub struct PanicReport {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: Option<String>,
    /// Where it was spawned.
    pub spawn_site: Option<&'static Location<'static>>,
    /// The panic message, when the payload is a string.
    pub message: Option<String>,
}

/// Every green thread parked on something only another green thread could signal, with
/// nothing left running that could.
#[derive(Debug, Clone)]
pub struct DeadlockReport {
    /// The parked green threads and what each waits on.
    pub green_threads: Vec<GreenThreadInfo>,
}

/// What the monitor reports.
#[derive(Debug, Clone)]
pub enum Report {
    /// A green thread held its worker too long.
    Blocking(BlockingReport),
    /// A green thread panicked and nobody joined it.
    UnjoinedPanic(PanicReport),
    /// A join found every green thread deadlocked.
    Deadlock(DeadlockReport),
}

impl fmt::Display for BlockingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "green thread {} has run on worker {} for {:.0?} without parking",
            self.green_thread.who(),
            self.worker,
            self.running_for
        )?;
        match self.in_libc {
            Some(c) => write!(f, "; it is inside libc {c}, which blocks the worker"),
            None => f.write_str("; it is computing or blocked outside the hooked libc calls"),
        }?;
        f.write_str(" (the other green threads on this worker are waiting)")
    }
}

impl fmt::Display for PanicReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = describe(self.id, self.name.as_deref(), self.spawn_site);
        write!(f, "green thread {who}")?;
        match &self.message {
            Some(m) => write!(f, " panicked and was never joined: {m}"),
            None => f.write_str(" panicked and was never joined"),
        }
    }
}

impl fmt::Display for DeadlockReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deadlock: all {} green thread(s) are parked and nothing can wake them",
            self.green_threads.len()
        )?;
        for g in &self.green_threads {
            write!(f, "\n  {g}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Blocking(r) => r.fmt(f),
            Report::UnjoinedPanic(r) => r.fmt(f),
            Report::Deadlock(r) => r.fmt(f),
        }
    }
}

type Reporter = Arc<dyn Fn(&Report) + Send + Sync>;
static REPORTER: RwLock<Option<Reporter>> = RwLock::new(None);

/// Sends reports to `f` instead of the `log` facade (target `greenshim`, level warn).
pub fn set_reporter(f: impl Fn(&Report) + Send + Sync + 'static) {
    *REPORTER.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(f));
}

/// Sends reports to the `log` facade again.
pub fn clear_reporter() {
    *REPORTER.write().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Delivers `r` to the reporter, or to `log::warn!` when none is set.
pub fn report(r: Report) {
    let f = REPORTER.read().unwrap_or_else(|e| e.into_inner()).clone();
    match f {
        Some(f) => f(&r),
        None => log::warn!(target: "greenshim", "{r}"),
    }
}
