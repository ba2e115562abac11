//! The deadlock check a blocked joiner runs.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::run_info::{Run, running};
use super::{DeadlockReport, Report, State, report, run_info};
use crate::park::context;
use crate::sys;

/// OS threads that belong to may (its workers and timer): the threads that appeared while the
/// runtime started.
static RUNTIME_THREADS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// The runtime's worker count.
static WORKERS: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Records may's threads (`tids`, those that appeared while the runtime started) as the
/// runtime's own, and its worker count.
pub(crate) fn note_runtime_threads(tids: &[i32], workers: usize) {
    WORKERS.store(workers, Ordering::Relaxed);
    crate::park::which::note_may_threads(tids, workers);
    RUNTIME_THREADS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .extend_from_slice(tids);
}

/// Whether every OS thread of the process is greenshim's, may's, the caller, or blocked in a
/// futex wait without timeout (a plain thread waiting on a lock or channel, or in greenshim's
/// own wait: it cannot wake anyone until someone wakes it).
fn no_foreign_threads() -> bool {
    let me = sys::gettid();
    let runtime = RUNTIME_THREADS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    sys::thread_ids().into_iter().all(|t| {
        t == me
            || runtime.contains(&t)
            || sys::thread_name(t).is_some_and(|n| n.starts_with("greenshim-"))
            || sys::in_untimed_futex_wait(t)
    })
}

/// The deadlock as it looks right now, if it does: every green thread parked without deadline
/// on something only another green thread could signal, or running but blocked in the kernel
/// on per-OS-thread state with no timeout; runnable ones count as stuck only when every worker
/// is stuck that way.
fn deadlocked_now() -> Option<DeadlockReport> {
    if context::on_green_thread() {
        return None;
    }
    let running = running();
    let stuck_workers = running.values().filter(|r| r.stuck_in_kernel()).count();
    if stuck_workers < running.len() {
        return None;
    }
    // A green thread parked with a deadline, or on something outside greenshim, can still be
    // woken: found in one pass without the sorted snapshot `run_info` builds (with a million
    // sleepers, that snapshot every 100 ms was most of a blocked plain-thread join's cost).
    if context::registry::any(|c| {
        c.is_parked()
            && (c.park_deadline().is_some() || !c.waiting_on().is_some_and(|w| w.is_internal()))
    }) {
        return None;
    }
    let info = run_info();
    let stuck = !info.green_threads.is_empty()
        && info.green_threads.iter().all(|g| match g.state {
            State::Parked => {
                g.deadline_in.is_none() && g.waiting_on.is_some_and(|w| w.is_internal())
            }
            State::Running { .. } => running.get(&g.id).is_some_and(Run::stuck_in_kernel),
            // Nothing can run it: every worker is stuck.
            State::Runnable => stuck_workers >= WORKERS.load(Ordering::Relaxed),
        });
    (stuck && no_foreign_threads()).then_some(DeadlockReport {
        green_threads: info.green_threads,
    })
}

/// How many consecutive checks must agree before a deadlock is reported.
const CONFIRMATIONS: u32 = 3;
/// How often a blocked joiner looks.
pub const DEADLOCK_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Green-thread parks when a deadlock was last confirmed (`u64::MAX`: none): a later joiner
/// that finds the same count and the same picture reports at once.
static CONFIRMED_AT: AtomicU64 = AtomicU64::new(u64::MAX);

/// The deadlock check of one blocked joiner (a plain thread in `join`): call [`check`] every
/// [`DEADLOCK_CHECK_INTERVAL`] while still blocked.
///
/// [`check`]: DeadlockWatch::check
#[derive(Debug, Default)]
pub struct DeadlockWatch {
    parks: Option<u64>,
    agreeing: u32,
}

impl DeadlockWatch {
    /// A watch with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// The report, once the deadlock has held over several checks with no green thread
    /// parking (or running) in between.
    pub fn check(&mut self) -> Option<DeadlockReport> {
        let parks = crate::park::stats().green_parks;
        let Some(found) = deadlocked_now() else {
            self.agreeing = 0;
            return None;
        };
        if CONFIRMED_AT.load(Ordering::Acquire) == parks {
            return Some(found);
        }
        if self.parks == Some(parks) {
            self.agreeing += 1;
        } else {
            self.parks = Some(parks);
            self.agreeing = 1;
        }
        if self.agreeing < CONFIRMATIONS {
            return None;
        }
        CONFIRMED_AT.store(parks, Ordering::Release);
        report(Report::Deadlock(found.clone()));
        Some(found)
    }
}
