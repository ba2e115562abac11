//! gevent's [`Semaphore`] and [`BoundedSemaphore`]: counted permits, handed to waiters in
//! arrival order.

use std::fmt;
use std::sync::{Mutex as StdMutex, PoisonError};
use std::time::{Duration, Instant};

use greenshim_shim::park::context;
use greenshim_shim::park::waitqueue::{self, Wait, WaitQueue, Woken};

/// Permits and their waiters. A release with waiters present hands the permit to the first
/// one (its wake-up means "you hold it"), so a newcomer cannot take it ahead of them.
struct Core {
    state: StdMutex<State>,
    /// The most permits there may be (for [`BoundedSemaphore`]).
    bound: Option<usize>,
}

struct State {
    permits: usize,
    waiters: WaitQueue,
}

impl State {
    /// Takes a free permit, unless waiters queued ahead (they get released permits first).
    fn take_permit(&mut self) -> bool {
        let free = self.permits > 0 && self.waiters.is_empty();
        if free {
            self.permits -= 1;
        }
        free
    }
}

impl Core {
    const fn new(permits: usize, bound: Option<usize>) -> Core {
        Core {
            state: StdMutex::new(State {
                permits,
                waiters: WaitQueue::new(),
            }),
            bound,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn try_acquire(&self) -> bool {
        self.state().take_permit()
    }

    /// Waits for a permit until `deadline`; false on timeout. Raises a kill or timeout that
    /// reaches the caller while it waits; if its stack already unwinds, waits regardless.
    fn acquire_until(&self, deadline: Option<Instant>) -> bool {
        if self.try_acquire() {
            return true;
        }
        let ctx = context::current();
        let mut how = Wait::new(&ctx).until(deadline).on("Semaphore::acquire");
        loop {
            let mut s = self.state();
            if s.take_permit() {
                return true;
            }
            match waitqueue::wait(&self.state, s, |s| &mut s.waiters, (), how, || {}).0 {
                Woken::Notified => return true,
                Woken::TimedOut => return false,
                Woken::Interrupted(i) => {
                    i.raise();
                    how = how.uninterruptible();
                }
            }
        }
    }

    /// Adds a permit, or hands it to the first waiter. False if that would exceed the bound.
    fn release(&self) -> bool {
        let mut s = self.state();
        if s.waiters.notify_one() {
            return true;
        }
        if self.bound.is_some_and(|b| s.permits >= b) {
            return false;
        }
        s.permits += 1;
        true
    }

    fn available(&self) -> usize {
        self.state().permits
    }
}

/// A counting semaphore; gevent's `Semaphore`. Acquiring parks while no permit is free;
/// permits go to waiters in arrival order. Works across green and plain threads.
///
/// ```
/// use greenshim::Semaphore;
/// use std::sync::Arc;
///
/// let sem = Arc::new(Semaphore::new(2));
/// let permit = sem.acquire();
/// assert_eq!(sem.available_permits(), 1);
/// drop(permit);
/// assert_eq!(sem.available_permits(), 2);
/// ```
pub struct Semaphore {
    core: Core,
}

/// A [`Semaphore`] that refuses to be released above its initial count; gevent's
/// `BoundedSemaphore`, which its docs recommend as the default.
pub struct BoundedSemaphore {
    core: Core,
}

/// A held permit, returned when dropped.
#[must_use = "the permit is released at once if unused"]
pub struct SemaphorePermit<'a> {
    core: &'a Core,
}

impl SemaphorePermit<'_> {
    /// Keeps the permit taken for good: dropping no longer returns it (gevent's bare
    /// `acquire` without a matching `release`).
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        // A held permit always fits under the bound.
        self.core.release();
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}

/// [`BoundedSemaphore::release`] would have raised the count above its initial value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverRelease;

impl fmt::Display for OverRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore released more times than it was acquired")
    }
}

impl std::error::Error for OverRelease {}

macro_rules! semaphore_methods {
    () => {
        /// Takes a permit, parking while none is free.
        ///
        /// # Panics
        /// Unwinds with the kill or timeout that reaches a green thread while it waits.
        pub fn acquire(&self) -> SemaphorePermit<'_> {
            let acquired = self.core.acquire_until(None);
            debug_assert!(acquired, "no deadline");
            SemaphorePermit { core: &self.core }
        }

        /// Takes a permit, parking at most `timeout`; `None` if none came free in time.
        ///
        /// # Panics
        /// As [`acquire`](Self::acquire).
        pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
            self.core
                .acquire_until(Instant::now().checked_add(timeout))
                .then(|| SemaphorePermit { core: &self.core })
        }

        /// Takes a permit if one is free and nobody waits ahead.
        pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
            self.core
                .try_acquire()
                .then(|| SemaphorePermit { core: &self.core })
        }

        /// The permits free now.
        pub fn available_permits(&self) -> usize {
            self.core.available()
        }
    };
}

impl Semaphore {
    /// A semaphore with `permits` free permits.
    #[must_use]
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore {
            core: Core::new(permits, None),
        }
    }

    semaphore_methods!();

    /// Adds a permit (or hands it to the first waiter), whether or not one was taken.
    pub fn release(&self) {
        self.core.release();
    }
}

impl BoundedSemaphore {
    /// A semaphore with `permits` free permits, never more.
    #[must_use]
    pub const fn new(permits: usize) -> BoundedSemaphore {
        BoundedSemaphore {
            core: Core::new(permits, Some(permits)),
        }
    }

    semaphore_methods!();

    /// Returns a permit taken with [`SemaphorePermit::forget`].
    ///
    /// # Errors
    /// [`OverRelease`] if every permit is already free; nothing changes.
    pub fn release(&self) -> Result<(), OverRelease> {
        if self.core.release() {
            Ok(())
        } else {
            Err(OverRelease)
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available_permits", &self.available_permits())
            .finish()
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("available_permits", &self.available_permits())
            .finish()
    }
}
