//! [`RwLock`], mirroring [`std::sync::RwLock`].
//!
//! The lock state lives under a short internal mutex together with two wait queues, one for
//! readers and one for writers. Releasing *hands* the lock to waiters: a woken waiter already
//! holds it. A writer's release admits every queued reader; the last reader's release admits
//! the first queued writer; a new reader queues behind a waiting writer, so neither side
//! starves.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::{LockResult, Mutex as StdMutex, PoisonError, TryLockError, TryLockResult};

use greenshim_shim::park::context;
use greenshim_shim::park::waitqueue::{self, Wait, WaitQueue, Woken};

use super::poison;

/// A reader-writer lock; mirrors [`std::sync::RwLock`]. Waiting parks a green thread (blocks a
/// plain thread); green and plain threads can share one.
///
/// # Differences from std
/// - A kill or [`Timeout`](crate::Timeout) reaches a waiting green thread and unwinds it (it
///   never got the lock).
/// - The policy is fixed and documented: a waiting writer holds back new readers, and a
///   writer's release lets every queued reader in at once.
///
/// ```
/// use greenshim::sync::RwLock;
///
/// let lock = RwLock::new(5);
/// {
///     let r1 = lock.read().unwrap();
///     let r2 = lock.read().unwrap();
///     assert_eq!(*r1 + *r2, 10);
/// }
/// *lock.write().unwrap() += 1;
/// assert_eq!(*lock.read().unwrap(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    state: StdMutex<State>,
    poison: poison::Flag,
    data: UnsafeCell<T>,
}

#[derive(Debug, Default)]
struct State {
    readers: usize,
    writer: bool,
    read_q: WaitQueue,
    write_q: WaitQueue,
}

impl State {
    fn grant(&mut self, prefer_readers: bool) {
        if self.writer {
            return;
        }
        if prefer_readers || self.write_q.is_empty() {
            self.readers += self.read_q.notify_all();
        }
        if self.readers == 0 && self.write_q.notify_one() {
            self.writer = true;
        }
    }

    fn can_read(&self) -> bool {
        !self.writer && self.write_q.is_empty()
    }

    fn can_write(&self) -> bool {
        !self.writer && self.readers == 0
    }
}

// SAFETY: like std's: writers get `&mut T` from any thread (`T: Send`), readers on several
// threads share `&T` (`T: Sync`); the state machine above lets either one writer or any
// number of readers in at a time.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Shared access to an [`RwLock`]; mirrors [`std::sync::RwLockReadGuard`].
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    /// The data, as a pointer rather than through `&RwLock<T>` (which holds `T` in an
    /// `UnsafeCell`): the guard is covariant in `T`, as std's is.
    data: NonNull<T>,
    state: &'a StdMutex<State>,
    _borrow: PhantomData<&'a T>,
    _not_send: PhantomData<*const ()>,
}

/// Exclusive access to an [`RwLock`]; mirrors [`std::sync::RwLockWriteGuard`].
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    poison: poison::Guard,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives out `&T`; sound to share when `T: Sync`, as for std.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}
// SAFETY: as above; `&RwLockWriteGuard` only gives out `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Read,
    Write,
}

impl<T> RwLock<T> {
    /// A new unlocked lock; mirrors [`std::sync::RwLock::new`].
    pub const fn new(t: T) -> RwLock<T> {
        RwLock {
            state: StdMutex::new(State {
                readers: 0,
                writer: false,
                read_q: WaitQueue::new(),
                write_q: WaitQueue::new(),
            }),
            poison: poison::Flag::new(),
            data: UnsafeCell::new(t),
        }
    }

    poison_methods!(into_inner RwLock);
}

impl<T: ?Sized> RwLock<T> {
    /// Takes shared access, parking while a writer holds or waits for the lock; mirrors
    /// [`std::sync::RwLock::read`].
    ///
    /// # Errors
    /// If a writer panicked, the guard inside a [`PoisonError`].
    ///
    /// # Panics
    /// Unwinds with the kill or timeout that reaches a green thread while it waits.
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        self.acquire(Side::Read);
        self.poison.result(self.read_guard())
    }

    /// Takes shared access if no writer holds or waits for the lock; mirrors
    /// [`std::sync::RwLock::try_read`].
    ///
    /// # Errors
    /// [`TryLockError::WouldBlock`] or [`TryLockError::Poisoned`].
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        greenshim_shim::park::spend();
        let mut s = self.state();
        if !s.can_read() {
            return Err(TryLockError::WouldBlock);
        }
        s.readers += 1;
        drop(s);
        Ok(self.poison.result(self.read_guard())?)
    }

    /// Takes exclusive access, parking until every other holder has left; mirrors
    /// [`std::sync::RwLock::write`].
    ///
    /// # Errors
    /// If a writer panicked, the guard inside a [`PoisonError`].
    ///
    /// # Panics
    /// Unwinds with the kill or timeout that reaches a green thread while it waits.
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        self.acquire(Side::Write);
        self.poison.result(self.write_guard())
    }

    /// Takes exclusive access if nobody holds the lock; mirrors
    /// [`std::sync::RwLock::try_write`].
    ///
    /// # Errors
    /// [`TryLockError::WouldBlock`] or [`TryLockError::Poisoned`].
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        greenshim_shim::park::spend();
        let mut s = self.state();
        if !s.can_write() {
            return Err(TryLockError::WouldBlock);
        }
        s.writer = true;
        drop(s);
        Ok(self.poison.result(self.write_guard())?)
    }

    poison_methods!(RwLock);

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn acquire(&self, side: Side) {
        greenshim_shim::park::spend();
        let ctx = context::current();
        let mut how = Wait::new(&ctx).on(match side {
            Side::Read => "RwLock::read",
            Side::Write => "RwLock::write",
        });
        loop {
            let mut s = self.state();
            match side {
                Side::Read if s.can_read() => {
                    s.readers += 1;
                    return;
                }
                Side::Write if s.can_write() => {
                    s.writer = true;
                    return;
                }
                _ => {}
            }
            let queue: fn(&mut State) -> &mut WaitQueue = match side {
                Side::Read => |s| &mut s.read_q,
                Side::Write => |s| &mut s.write_q,
            };
            match waitqueue::wait(&self.state, s, queue, (), how, || {}).0 {
                // The releaser counted us in: we hold the lock.
                Woken::Notified => return,
                Woken::TimedOut => unreachable!("no deadline"),
                Woken::Interrupted(i) => {
                    // A writer that leaves the queue may be what held readers back.
                    if side == Side::Write {
                        self.state().grant(false);
                    }
                    i.raise();
                    // Already unwinding: wait regardless.
                    how = how.uninterruptible();
                }
            }
        }
    }

    fn read_guard(&self) -> RwLockReadGuard<'_, T> {
        RwLockReadGuard {
            // SAFETY: `UnsafeCell::get` never returns null.
            data: unsafe { NonNull::new_unchecked(self.data.get()) },
            state: &self.state,
            _borrow: PhantomData,
            _not_send: PhantomData,
        }
    }

    fn write_guard(&self) -> RwLockWriteGuard<'_, T> {
        RwLockWriteGuard {
            lock: self,
            poison: self.poison.guard(),
            _not_send: PhantomData,
        }
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Turns exclusive access into shared access without letting a writer in between, and
    /// admits the readers that were waiting; mirrors
    /// [`std::sync::RwLockWriteGuard::downgrade`].
    pub fn downgrade(s: Self) -> RwLockReadGuard<'a, T> {
        let s = std::mem::ManuallyDrop::new(s);
        let lock = s.lock;
        lock.poison.done(&s.poison);
        let mut st = lock.state();
        st.writer = false;
        st.readers = 1;
        st.grant(true);
        drop(st);
        lock.read_guard()
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.readers -= 1;
        if s.readers == 0 {
            s.grant(false);
        }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.poison.done(&self.poison);
        let mut s = self.lock.state();
        s.writer = false;
        s.grant(true);
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: a read guard exists only while no writer is admitted, so no `&mut T` exists;
        // the lock (and its data) outlives the guard's borrow.
        unsafe { self.data.as_ref() }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the write guard is the only holder of the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write guard is the only holder of the lock.
        unsafe { &mut *self.lock.data.get() }
    }
}

guard_fmt!(RwLockReadGuard, RwLockWriteGuard);
lock_impls!(RwLock, try_read);
