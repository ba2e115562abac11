//! [`ParkMutex`]: a mutex whose waiters park (green threads) or block (plain threads) through
//! the park primitive, so holding it across a park never stalls a worker. The building block
//! for the `sync` mirror; the stdin mirror uses it now.
//!
//! ```text
//!  locker                                   unlocker
//!  ------                                   --------
//!  lock(waiters)
//!  try CAS false->true: ok -> done          locked = false
//!  else push waker; unlock(waiters)         lock(waiters); pop one; unlock
//!  park ... <------------------------------ wake it (it retries the CAS)
//! ```
//! The CAS under the waiter-list lock and the unlocker's pop under the same lock leave no gap
//! for a lost wake-up. Waiters are woken in arrival order but may lose to a barging locker
//! (they then queue again).

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::context::{self, Interrupt};
use crate::park::{self, Waker};

/// A mutex for green and plain threads alike.
#[derive(Debug, Default)]
pub struct ParkMutex<T> {
    locked: AtomicBool,
    waiters: Mutex<VecDeque<(u64, Waker)>>,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through a guard, and at most one guard exists at a time
// (the `locked` flag, taken by CAS, is its token), so sharing the mutex shares `T` the way a
// `std::sync::Mutex<T>` does.
unsafe impl<T: Send> Sync for ParkMutex<T> {}

impl<T> ParkMutex<T> {
    /// A new unlocked mutex.
    pub const fn new(value: T) -> Self {
        ParkMutex {
            locked: AtomicBool::new(false),
            waiters: Mutex::new(VecDeque::new()),
            value: UnsafeCell::new(value),
        }
    }

    fn try_take(&self) -> bool {
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Takes the lock, parking while another holder has it.
    ///
    /// # Errors
    /// A kill or timeout that reached the caller while it waited (it no longer waits).
    pub fn lock(&self) -> Result<ParkGuard<'_, T>, Interrupt> {
        if self.try_take() {
            return Ok(ParkGuard { mutex: self });
        }
        let ctx = context::current();
        let waker = ctx.waker().cloned().unwrap_or_else(Waker::current);
        loop {
            {
                let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
                if self.try_take() {
                    return Ok(ParkGuard { mutex: self });
                }
                waiters.push_back((ctx.id(), waker.clone()));
            }
            let r = park::park_in(&ctx, None);
            let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = waiters.iter().position(|(id, _)| *id == ctx.id()) {
                waiters.remove(i);
            } else if r.is_err() {
                // Our wake-up was consumed by the interrupt: pass it on.
                drop(waiters);
                self.wake_one();
            }
            r?;
        }
    }

    fn wake_one(&self) {
        let next = self
            .waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        if let Some((_, w)) = next {
            w.wake();
        }
    }
}

/// Holds a [`ParkMutex`]; unlocks on drop.
#[derive(Debug)]
pub struct ParkGuard<'a, T> {
    mutex: &'a ParkMutex<T>,
}

impl<T> Deref for ParkGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock, so no other reference to the value exists.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T> DerefMut for ParkGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds the lock, so no other reference to the value exists.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T> Drop for ParkGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.locked.store(false, Ordering::Release);
        self.mutex.wake_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn plain_threads_exclude_each_other() {
        let m = Arc::new(ParkMutex::new(0u64));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        *m.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*m.lock().unwrap(), 40_000);
    }
}
