//! A mirror of [`std::sync`]: locks, condition variables, barriers, one-time initialization
//! and channels whose waits park a green thread instead of blocking its worker.
//!
//! `use greenshim::sync` can replace `use std::sync`. Every type keeps std's name, methods,
//! poisoning and error types ([`PoisonError`], [`TryLockError`], the `mpsc` errors are std's
//! own); [`Arc`], [`Weak`] and [`atomic`] are std's, re-exported.
//!
//! On a green thread, waiting parks: the worker runs other green threads meanwhile, so two
//! green threads contending for a lock on one worker cannot deadlock it (with
//! `std::sync::Mutex` they can). On a plain OS thread, waiting blocks the thread. Green and
//! plain threads can wait on the same object.
//!
//! # Differences from std
//! - Waits honour [`Greenlet::kill`](crate::Greenlet::kill) and [`Timeout`](crate::Timeout): a
//!   green thread parked in `lock`, `wait`, `recv` or a bounded `send` unwinds at once.
//! - Locks are not tied to an OS thread (a green thread may move between workers while it
//!   holds one); guards are still `!Send`, as in std, so code stays portable.
//! - Waiters are woken in arrival order.

/// `Debug` and `Display` of a lock guard: those of the data, as std's guards.
macro_rules! guard_fmt {
    ($($guard:ident),+) => {$(
        impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for $guard<'_, T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&**self, f)
            }
        }

        impl<T: ?Sized + std::fmt::Display> std::fmt::Display for $guard<'_, T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&**self, f)
            }
        }
    )+};
}

/// `From<T>`, `Default` and std's `Debug` format for a lock with a non-blocking `$try`.
macro_rules! lock_impls {
    ($lock:ident, $try:ident) => {
        impl<T> From<T> for $lock<T> {
            fn from(t: T) -> Self {
                $lock::new(t)
            }
        }

        impl<T: Default> Default for $lock<T> {
            fn default() -> Self {
                $lock::new(T::default())
            }
        }

        impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for $lock<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut d = f.debug_struct(stringify!($lock));
                match self.$try() {
                    Ok(guard) => d.field("data", &&*guard),
                    Err(TryLockError::Poisoned(err)) => d.field("data", &&**err.get_ref()),
                    Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
                };
                d.field("poisoned", &self.poison.get());
                d.finish_non_exhaustive()
            }
        }
    };
}

/// The poison-flag methods and `get_mut` of a lock (inside `impl<T: ?Sized> $lock<T>`), and
/// `into_inner` (inside `impl<T> $lock<T>`, via `into_inner` below).
macro_rules! poison_methods {
    ($lock:ident) => {
        #[doc = concat!("Whether a holder panicked; mirrors `std::sync::", stringify!($lock), "::is_poisoned`.")]
        pub fn is_poisoned(&self) -> bool {
            self.poison.get()
        }

        #[doc = concat!("Clears the poisoned state; mirrors `std::sync::", stringify!($lock), "::clear_poison`.")]
        pub fn clear_poison(&self) {
            self.poison.clear();
        }

        #[doc = concat!("The data, through a unique borrow (no locking needed); mirrors `std::sync::", stringify!($lock), "::get_mut`.")]
        ///
        /// # Errors
        /// If the lock is poisoned, the reference inside a [`PoisonError`](std::sync::PoisonError).
        pub fn get_mut(&mut self) -> std::sync::LockResult<&mut T> {
            self.poison.result(self.data.get_mut())
        }
    };
    (into_inner $lock:ident) => {
        #[doc = concat!("Consumes the lock and returns its data; mirrors `std::sync::", stringify!($lock), "::into_inner`.")]
        ///
        /// # Errors
        /// If the lock is poisoned, the data inside a [`PoisonError`](std::sync::PoisonError).
        pub fn into_inner(self) -> std::sync::LockResult<T> {
            let $lock { poison, data, .. } = self;
            poison.result(data.into_inner())
        }
    };
}

mod barrier;
pub(crate) mod chan;
mod condvar;
pub mod mpsc;
mod mutex;
mod once;
mod once_lock;
mod poison;
mod rwlock;

pub use std::sync::atomic;
pub use std::sync::{Arc, LockResult, PoisonError, TryLockError, TryLockResult, Weak};

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mutex::{Mutex, MutexGuard};
pub use once::{Once, OnceState};
pub use once_lock::{LazyLock, OnceLock};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use greenshim_shim::park::lock::RawMutex;

/// Takes `raw`, raising a kill or timeout that arrives while waiting; if the stack already
/// unwinds (a destructor taking a lock during a kill), waits for the lock regardless.
fn lock_raw(raw: &RawMutex) {
    greenshim_shim::park::spend();
    if let Err(interrupt) = raw.lock() {
        interrupt.raise();
        raw.lock_uninterruptible();
    }
}
