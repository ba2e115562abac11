//! Poisoning, as std does it: a guard dropped while its thread panics marks the lock poisoned,
//! and later lockers get their guard wrapped in a [`PoisonError`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LockResult, PoisonError};

/// The poisoned flag of one lock.
#[derive(Debug, Default)]
pub(crate) struct Flag(AtomicBool);

impl Flag {
    pub(crate) const fn new() -> Self {
        Flag(AtomicBool::new(false))
    }

    pub(crate) fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn clear(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    /// Notes whether the locker was already panicking, to tell on release whether a panic
    /// started while the lock was held.
    pub(crate) fn guard(&self) -> Guard {
        Guard {
            panicking: std::thread::panicking(),
        }
    }

    /// Poisons the lock if a panic began while `guard`'s holder held it.
    pub(crate) fn done(&self, guard: &Guard) {
        if !guard.panicking && std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    /// `Ok(value)`, or `Err` carrying it if the lock is poisoned.
    pub(crate) fn result<G>(&self, value: G) -> LockResult<G> {
        if self.get() {
            Err(PoisonError::new(value))
        } else {
            Ok(value)
        }
    }
}

/// Whether the holder of a lock was panicking when it took it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Guard {
    panicking: bool,
}
