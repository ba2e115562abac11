//! Diagnostics: what blocks the workers, what every green thread is doing, deadlocks and
//! panics nobody joined.
//!
//! - **Blocking detector** (off by default; [`enable`], or `GREENSHIM_MONITOR=1` with an
//!   optional `GREENSHIM_MAX_BLOCKING_MS`): a watchdog thread notices a worker that has run the
//!   same green thread for longer than [`max_blocking_time`] (default 100 ms) without parking,
//!   and reports the green thread (id, name, spawn site) and, when the hook layer knows it, the
//!   libc call it is inside. One report per incident. The cost when on: the watchdog wakes
//!   every `max_blocking_time / 5` (at most every 50 ms) and reads two counters per worker;
//!   the workers' side (a switch record of two stores per park) is always on.
//! - **Run info**: [`run_info`] lists every live green thread with its state and, for a
//!   parked one, what it waits on; [`print_run_info`] writes that to stderr.
//! - **Deadlocks**: a plain thread blocked in [`Greenlet::join`](crate::Greenlet::join) (and so
//!   [`joinall`](crate::joinall)) gets [`JoinError::Deadlock`](crate::JoinError::Deadlock)
//!   when every green thread is parked on a lock, channel, queue, event, join or
//!   `thread::park` with no deadline, no worker is running anything, and the process has no
//!   thread besides the joiner, greenshim's and may's — checked three times 100 ms apart
//!   with no park in between. Anything that might still wake a green thread (an fd, a timer,
//!   an offload job, another thread) means no report: a false report would be worse than none.
//! - **Panics**: a green thread that panicked and whose handle was dropped without a join is
//!   reported once (id, name, spawn site, message).
//!
//! Reports go to [`set_reporter`]'s callback, or else to the `log` facade (target
//! `greenshim`, level warn).
//!
//! ```no_run
//! use std::time::Duration;
//! greenshim::monitor::set_reporter(|r| eprintln!("greenshim: {r}"));
//! greenshim::monitor::enable(Duration::from_millis(50));
//! let g = greenshim::spawn(|| std::thread::sleep(Duration::from_millis(200))); // unpatched
//! g.join().unwrap(); // reported: the green thread held its worker inside libc clock_nanosleep
//! ```

pub use greenshim_shim::monitor::{
    BlockingReport, DEFAULT_MAX_BLOCKING_TIME, DeadlockReport, GreenThreadInfo, PanicReport,
    Report, RunInfo, State, THREAD_BOUND_FUTEX_WAIT, WaitOn, blocking_incidents, clear_reporter,
    disable, enable, is_enabled, max_blocking_time, run_info, set_reporter,
};

/// Writes [`run_info`] to stderr, one green thread per line.
pub fn print_run_info() {
    eprint!("{}", run_info());
}
