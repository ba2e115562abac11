//! [`Mutex`], mirroring [`std::sync::Mutex`].

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, TryLockError, TryLockResult};

use greenshim_shim::park::lock::RawMutex;

use super::poison;

/// A mutual-exclusion lock; mirrors [`std::sync::Mutex`]. A green thread that waits for it
/// parks, so its worker runs other green threads meanwhile; a plain thread blocks. Green and
/// plain threads can share one.
///
/// # Differences from std
/// - A kill or [`Timeout`](crate::Timeout) reaches a green thread waiting in [`lock`](Self::lock)
///   and unwinds it (it never got the lock). While the green thread is already unwinding, the
///   lock is waited for regardless.
/// - The lock is not tied to an OS thread: a green thread may hold it across a park and be
///   resumed on another worker.
/// - Waiters are served in arrival order, but a thread that arrives just as the lock is
///   released may take it first (as with std's futex mutex).
///
/// ```
/// use greenshim::sync::{Arc, Mutex};
///
/// let total = Arc::new(Mutex::new(0));
/// let greenlets: Vec<_> = (0..100)
///     .map(|_| {
///         let total = total.clone();
///         greenshim::spawn(move || {
///             let mut t = total.lock().unwrap();
///             greenshim::yield_now(); // held across a park: the others wait, parked
///             *t += 1;
///         })
///     })
///     .collect();
/// greenshim::joinall(greenlets);
/// assert_eq!(*total.lock().unwrap(), 100);
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    poison: poison::Flag,
    data: UnsafeCell<T>,
}

// SAFETY: the data is reached only through a guard, and `raw` lets one guard exist at a time,
// so sharing the mutex moves `T` between threads but never shares it: `T: Send` suffices, as
// for std's mutex.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Holds a [`Mutex`] locked; mirrors [`std::sync::MutexGuard`]. Unlocks when dropped.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    mutex: &'a Mutex<T>,
    poison: poison::Guard,
    /// Not `Send`, like std's guard (`Sync` is granted below when `T: Sync`).
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives out `&T`, so sharing it is sharing `&T`: sound when
// `T: Sync`, as for std's guard.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    /// A new unlocked mutex; mirrors [`std::sync::Mutex::new`].
    pub const fn new(t: T) -> Mutex<T> {
        Mutex {
            raw: RawMutex::new(),
            poison: poison::Flag::new(),
            data: UnsafeCell::new(t),
        }
    }

    poison_methods!(into_inner Mutex);
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, parking the green thread (blocking a plain thread) until it is free;
    /// mirrors [`std::sync::Mutex::lock`].
    ///
    /// # Errors
    /// If a holder panicked, the guard inside a [`PoisonError`](std::sync::PoisonError).
    ///
    /// # Panics
    /// Unwinds with the kill or timeout that reaches a green thread while it waits.
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        super::lock_raw(&self.raw);
        self.poison.result(self.guard())
    }

    /// Takes the lock if it is free; mirrors [`std::sync::Mutex::try_lock`].
    ///
    /// # Errors
    /// [`TryLockError::WouldBlock`] if it is held, [`TryLockError::Poisoned`] if a holder
    /// panicked.
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        greenshim_shim::park::spend();
        if self.raw.try_lock() {
            Ok(self.poison.result(self.guard())?)
        } else {
            Err(TryLockError::WouldBlock)
        }
    }

    poison_methods!(Mutex);

    fn guard(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            mutex: self,
            poison: self.poison.guard(),
            _not_send: PhantomData,
        }
    }

    /// Releases the lock held by a guard that is being taken apart (a condition variable
    /// wait). Poisons it as the guard's drop would.
    pub(crate) fn unlock_from(&self, guard: MutexGuard<'_, T>) {
        let guard = std::mem::ManuallyDrop::new(guard);
        self.poison.done(&guard.poison);
        self.raw.unlock();
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    pub(crate) fn mutex(&self) -> &'a Mutex<T> {
        self.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no other reference to the data exists.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, so no other reference to the data exists.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.poison.done(&self.poison);
        self.mutex.raw.unlock();
    }
}

guard_fmt!(MutexGuard);
lock_impls!(Mutex, try_lock);
