//! [`RawMutex`]: the lock word of greenshim's mutexes. Waiters park (green threads) or block
//! (plain threads) through the park primitive, so a green thread that holds it across a park
//! never stalls a worker, and green and plain threads can contend for one lock.
//!
//! The state is `UNLOCKED`, `LOCKED` or `CONTENDED` (locked, and somebody may be queued). An
//! uncontended lock and unlock are one atomic each. The slow path queues on a [`WaitQueue`]:
//!
//! ```text
//!  locker                                    unlocker
//!  ------                                    --------
//!  lock(queue)
//!  swap(CONTENDED) == UNLOCKED ? -> ours     swap(UNLOCKED) == CONTENDED ?
//!  else push node; unlock(queue); park        lock(queue); wake the first node
//!  ... <------------------------------------  (it retries the swap)
//! ```
//! A locker marks the word `CONTENDED` under the queue lock before it queues, and the unlocker
//! takes the queue lock after clearing the word, so a wake-up cannot slip between them. A woken
//! waiter may lose the lock to a thread that barged in; it queues again (at the back).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::park;
use crate::park::context::{self, Interrupt};
use crate::park::waitqueue::{self, Wait, WaitQueue, Woken};

const UNLOCKED: u8 = 0;
const LOCKED: u8 = 1;
const CONTENDED: u8 = 2;

/// A mutual-exclusion flag without data, for green and plain threads alike.
#[derive(Debug, Default)]
pub struct RawMutex {
    state: AtomicU8,
    waiters: Mutex<WaitQueue>,
}

impl RawMutex {
    /// A new unlocked mutex.
    pub const fn new() -> Self {
        RawMutex {
            state: AtomicU8::new(UNLOCKED),
            waiters: Mutex::new(WaitQueue::new()),
        }
    }

    /// Takes the lock if it is free.
    #[inline]
    pub fn try_lock(&self) -> bool {
        self.state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Takes the lock, parking while another holder has it.
    ///
    /// # Errors
    /// A kill or timeout that reached the caller while it waited; it does not hold the lock.
    #[inline]
    pub fn lock(&self) -> Result<(), Interrupt> {
        if self.try_lock() {
            return Ok(());
        }
        self.lock_slow(true)
    }

    /// Takes the lock, parking while another holder has it, even while a kill or timeout is
    /// pending (for a destructor that locks while its green thread unwinds).
    pub fn lock_uninterruptible(&self) {
        if !self.try_lock() {
            // Cannot fail: the wait ignores interrupts.
            let _ = self.lock_slow(false);
        }
    }

    #[cold]
    fn lock_slow(&self, interruptible: bool) -> Result<(), Interrupt> {
        park::yield_before_park();
        if self.try_lock() {
            return Ok(());
        }
        let ctx = context::current();
        let mut how = Wait::new(&ctx).on("Mutex::lock");
        if !interruptible {
            how = how.uninterruptible();
        }
        loop {
            let queue = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
            if self.state.swap(CONTENDED, Ordering::Acquire) == UNLOCKED {
                return Ok(());
            }
            if let (Woken::Interrupted(i), ()) =
                waitqueue::wait(&self.waiters, queue, |q| q, (), how, || {})
            {
                return Err(i);
            }
        }
    }

    /// Releases the lock and wakes one waiter, if any.
    ///
    /// The caller must hold the lock (a [`RawMutex`] has no owner to check).
    #[inline]
    pub fn unlock(&self) {
        if self.state.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            self.wake_one();
        }
    }

    #[cold]
    fn wake_one(&self) {
        self.waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .notify_one();
    }

    /// Whether somebody holds the lock (a snapshot).
    pub fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) != UNLOCKED
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::UnsafeCell;
    use std::sync::Arc;

    struct Counter {
        lock: RawMutex,
        n: UnsafeCell<u64>,
    }
    // SAFETY: `n` is only touched while `lock` is held.
    unsafe impl Sync for Counter {}

    #[test]
    fn plain_threads_exclude_each_other() {
        let c = Arc::new(Counter {
            lock: RawMutex::new(),
            n: UnsafeCell::new(0),
        });
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        c.lock.lock().unwrap();
                        // SAFETY: the lock is held.
                        unsafe { *c.n.get() += 1 };
                        c.lock.unlock();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert!(!c.lock.is_locked());
        // SAFETY: every other user has been joined.
        assert_eq!(unsafe { *c.n.get() }, 40_000);
    }
}
