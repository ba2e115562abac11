//! [`Condvar`], mirroring [`std::sync::Condvar`].

use std::fmt;
use std::sync::{LockResult, Mutex as StdMutex, PoisonError};
use std::time::{Duration, Instant};

use greenshim_shim::park::context;
use greenshim_shim::park::waitqueue::{self, Wait, WaitQueue, Woken};

use super::MutexGuard;

/// A condition variable; mirrors [`std::sync::Condvar`]. Waiting parks a green thread (blocks a
/// plain thread) and releases the mutex meanwhile; green and plain threads can wait on one.
///
/// # Differences from std
/// - A kill or [`Timeout`](crate::Timeout) reaches a waiting green thread and unwinds it
///   *without* re-taking the mutex (the guard was given up to the wait), so the mutex is not
///   poisoned by it.
/// - Waiters are woken in arrival order.
///
/// ```
/// use greenshim::sync::{Arc, Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let pair2 = pair.clone();
/// let g = greenshim::spawn(move || {
///     let (lock, cvar) = &*pair2;
///     *lock.lock().unwrap() = true;
///     cvar.notify_one();
/// });
/// let (lock, cvar) = &*pair;
/// let started = cvar.wait_while(lock.lock().unwrap(), |started| !*started).unwrap();
/// assert!(*started);
/// g.join().unwrap();
/// ```
#[derive(Default)]
pub struct Condvar {
    waiters: StdMutex<WaitQueue>,
}

/// Whether a timed condition-variable wait timed out; mirrors
/// [`std::sync::WaitTimeoutResult`].
#[derive(Debug, PartialEq, Eq, Copy, Clone)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True if the wait ended because its time ran out.
    #[must_use]
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

type TimedResult<'a, T> = LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>;

impl Condvar {
    /// A new condition variable; mirrors [`std::sync::Condvar::new`].
    #[must_use]
    pub const fn new() -> Condvar {
        Condvar {
            waiters: StdMutex::new(WaitQueue::new()),
        }
    }

    /// Releases the mutex, waits for a notification and re-takes the mutex; mirrors
    /// [`std::sync::Condvar::wait`]. Spurious wake-ups are possible, as with std.
    ///
    /// # Errors
    /// If the mutex is poisoned when re-taken, the guard inside a [`PoisonError`].
    ///
    /// # Panics
    /// Unwinds with the kill or timeout that reaches a green thread while it waits.
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        self.wait_until(guard, None).0
    }

    /// Waits while `condition` holds; mirrors [`std::sync::Condvar::wait_while`].
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Waits at most `dur`; mirrors [`std::sync::Condvar::wait_timeout`].
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        dur: Duration,
    ) -> TimedResult<'a, T> {
        let (guard, timed_out) = self.wait_until(guard, Instant::now().checked_add(dur));
        let result = WaitTimeoutResult(timed_out);
        match guard {
            Ok(g) => Ok((g, result)),
            Err(e) => Err(PoisonError::new((e.into_inner(), result))),
        }
    }

    /// Waits at most `ms` milliseconds; mirrors the deprecated
    /// [`std::sync::Condvar::wait_timeout_ms`].
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    #[deprecated(note = "replaced by `greenshim::sync::Condvar::wait_timeout`")]
    pub fn wait_timeout_ms<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        ms: u32,
    ) -> LockResult<(MutexGuard<'a, T>, bool)> {
        match self.wait_timeout(guard, Duration::from_millis(ms.into())) {
            Ok((g, r)) => Ok((g, r.timed_out())),
            Err(e) => {
                let (g, r) = e.into_inner();
                Err(PoisonError::new((g, r.timed_out())))
            }
        }
    }

    /// Waits while `condition` holds, at most `dur` in all; mirrors
    /// [`std::sync::Condvar::wait_timeout_while`].
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_timeout_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        dur: Duration,
        mut condition: F,
    ) -> TimedResult<'a, T>
    where
        F: FnMut(&mut T) -> bool,
    {
        let start = Instant::now();
        loop {
            if !condition(&mut *guard) {
                return Ok((guard, WaitTimeoutResult(false)));
            }
            let Some(left) = dur.checked_sub(start.elapsed()) else {
                return Ok((guard, WaitTimeoutResult(true)));
            };
            guard = self.wait_timeout(guard, left)?.0;
        }
    }

    /// Wakes one waiter, the one that has waited longest; mirrors
    /// [`std::sync::Condvar::notify_one`].
    pub fn notify_one(&self) {
        self.queue().notify_one();
    }

    /// Wakes every waiter; mirrors [`std::sync::Condvar::notify_all`].
    pub fn notify_all(&self) {
        self.queue().notify_all();
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, WaitQueue> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait_until<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (LockResult<MutexGuard<'a, T>>, bool) {
        let mutex = guard.mutex();
        let ctx = context::current();
        // Queued before the mutex is released, so a notifier that takes the mutex after us
        // finds us in the queue.
        let (woken, ()) = waitqueue::wait(
            &self.waiters,
            self.queue(),
            |q| q,
            (),
            Wait::new(&ctx).until(deadline).on("Condvar::wait"),
            || mutex.unlock_from(guard),
        );
        if let Woken::Interrupted(i) = woken {
            // Unwinds without the mutex; returns only if the stack already unwinds, and then
            // this counts as a spurious wake-up.
            i.raise();
        }
        (mutex.lock(), woken == Woken::TimedOut)
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}
