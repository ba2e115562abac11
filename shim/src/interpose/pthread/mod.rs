//! The `Locks` family for C callers: `pthread_mutex_*`, `pthread_cond_*`, `pthread_rwlock_*` and
//! `sem_*` park the green thread instead of its worker.
//!
//! glibc's locks wait in the kernel through inline system calls, which no symbol hook sees, so
//! greenshim interposes the functions themselves. On a green thread every blocking call becomes
//! a non-blocking attempt plus a park on greenshim's futex table, keyed by the object's address:
//!
//! ```text
//!  green waiter                               releaser (any thread, through the symbol)
//!  ------------                               --------
//!  lock bucket(obj)
//!  real try-call succeeds? -> unlock, done    real unlock / post / signal
//!  queue on obj; unlock bucket                lock bucket(obj); wake green waiters of obj
//!  park . . . . . . . . . . . . . . . . . .
//!  woken (or a re-check tick) -> try again
//! ```
//!
//! The attempt runs under the bucket lock that every release takes after releasing, so a wake is
//! never lost between them. Plain threads keep glibc's own blocking calls; both kinds of waiter
//! can share one object. A release greenshim cannot see — glibc's `pthread_cond_wait` on a plain
//! thread releases its mutex through an internal alias, a process-shared semaphore is posted by
//! another process — is caught by a re-check every [`RECHECK`] of parked mutex and semaphore
//! waiters.
//!
//! **Owners.** glibc records the owner of a recursive or error-checking mutex, and the writer of
//! an rwlock, as the kernel thread id of the OS thread that took it, and checks it on relock and
//! unlock. A green thread runs on its worker's OS thread (another green thread on that worker has
//! the same id) and may resume on another worker. So greenshim keeps the owning *green thread*
//! of such a mutex and of a write-locked rwlock itself: another green thread on the same worker
//! waits instead of taking a recursive mutex as its own, the owner's relock and unlock go through
//! on any worker (the recorded id is moved to the current OS thread first), and an unlock by a
//! green thread that does not own the lock is `EPERM`. This relies on glibc's documented layout
//! of the lock objects (the `__owner`, `__kind` and `__cur_writer` fields that static
//! initialisers fill in); a self-test checks it at first use, and where it fails every pthread
//! call passes straight to glibc (and blocks the worker).
//!
//! Robust, priority-inheritance, priority-protected and process-shared mutexes, and
//! process-shared condition variables and rwlocks, stay glibc's. Waits are uninterruptible, as
//! futex waits are: a kill or timeout is raised at the green thread's next park point.

mod cond;
mod mutex;
mod rwlock;
mod sem;

pub use cond::*;
pub use mutex::*;
pub use rwlock::*;
pub use sem::*;

use std::collections::BTreeMap;
use std::ffi::c_int;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::sys::real;
use libc::{clockid_t, pthread_cond_t, pthread_mutex_t, pthread_rwlock_t, timespec};

use super::futex::{self, BITSET_ALL, Parked};
use crate::park::context;

/// How long a parked mutex or semaphore waiter sleeps before it tries again on its own, to
/// catch a release that bypassed the symbol. Rare: every release through the symbol wakes it.
pub const RECHECK: Duration = Duration::from_millis(50);

// ---------------------------------------------------------------------------------------------
// glibc's layout (64-bit Linux), checked by `layout_ok`

/// Byte offsets of the fields greenshim reads or moves.
const MUTEX_OWNER: usize = 8;
const MUTEX_KIND: usize = 16;
const RWLOCK_CUR_WRITER: usize = 24;
const RWLOCK_SHARED: usize = 28;
const COND_WREFS: usize = 36;

/// `__kind` bits: the type (normal 0, recursive 1, error-checking 2, adaptive 3), and the
/// robust, priority-inheritance, priority-protect and process-shared flags.
const KIND_TYPE_MASK: i32 = 3;
const KIND_KERNEL_ONLY: i32 = 16 | 32 | 64 | 128;
/// `__wrefs` bits: process-shared, and the clock (set: `CLOCK_MONOTONIC`).
const WREFS_SHARED: i32 = 1;
const WREFS_MONOTONIC: i32 = 2;

/// The 32-bit field at byte `offset` of a lock object.
///
/// # Safety
/// `obj` points at a live glibc lock object at least `offset + 4` bytes long.
unsafe fn field<'a, T>(obj: *mut T, offset: usize) -> &'a AtomicI32 {
    // SAFETY: in bounds and 4-aligned (the objects are 8-aligned); glibc writes these fields
    // with plain or atomic 32-bit stores, which an atomic view reads whole.
    unsafe { &*obj.cast::<u8>().add(offset).cast::<AtomicI32>() }
}

/// Whether glibc's lock objects look as this module expects; checked once, with glibc's own
/// functions on objects of this thread.
fn layout_ok() -> bool {
    static STATE: AtomicU8 = AtomicU8::new(0);
    match STATE.load(Ordering::Acquire) {
        1 => true,
        2 => false,
        _ => {
            let ok = crate::sys::inside(check_layout);
            STATE.store(if ok { 1 } else { 2 }, Ordering::Release);
            ok
        }
    }
}

fn check_layout() -> bool {
    let tid = os_tid();
    // SAFETY: glibc's documented init/lock/unlock/destroy sequences on objects of this frame.
    unsafe {
        let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
        let mut m: pthread_mutex_t = std::mem::zeroed();
        libc::pthread_mutexattr_init(&mut attr);
        libc::pthread_mutexattr_settype(&mut attr, libc::PTHREAD_MUTEX_RECURSIVE);
        libc::pthread_mutex_init(&mut m, &attr);
        libc::pthread_mutexattr_destroy(&mut attr);
        let kind = field(&mut m, MUTEX_KIND).load(Ordering::Relaxed);
        let locked = real::pthread_mutex_lock(&mut m) == 0;
        let owner = field(&mut m, MUTEX_OWNER).load(Ordering::Relaxed);
        real::pthread_mutex_unlock(&mut m);
        let released = field(&mut m, MUTEX_OWNER).load(Ordering::Relaxed);
        libc::pthread_mutex_destroy(&mut m);
        let mutex_ok = kind & KIND_TYPE_MASK == libc::PTHREAD_MUTEX_RECURSIVE
            && locked
            && owner == tid
            && released == 0;

        let mut rw: pthread_rwlock_t = std::mem::zeroed();
        libc::pthread_rwlock_init(&mut rw, std::ptr::null());
        let locked = real::pthread_rwlock_wrlock(&mut rw) == 0;
        let writer = field(&mut rw, RWLOCK_CUR_WRITER).load(Ordering::Relaxed);
        real::pthread_rwlock_unlock(&mut rw);
        let released = field(&mut rw, RWLOCK_CUR_WRITER).load(Ordering::Relaxed);
        libc::pthread_rwlock_destroy(&mut rw);
        let rwlock_ok = locked && writer == tid && released == 0;

        let mut cattr: libc::pthread_condattr_t = std::mem::zeroed();
        let mut c: pthread_cond_t = std::mem::zeroed();
        libc::pthread_condattr_init(&mut cattr);
        libc::pthread_condattr_setclock(&mut cattr, libc::CLOCK_MONOTONIC);
        libc::pthread_cond_init(&mut c, &cattr);
        libc::pthread_condattr_destroy(&mut cattr);
        let wrefs = field(&mut c, COND_WREFS).load(Ordering::Relaxed);
        libc::pthread_cond_destroy(&mut c);
        let cond_ok = wrefs == WREFS_MONOTONIC;

        mutex_ok && rwlock_ok && cond_ok
    }
}

crate::os_local! {
    static OS_TID: i32 = 0;
}

/// The kernel thread id of the calling OS thread (what glibc records as an owner).
fn os_tid() -> i32 {
    let known = OS_TID.get();
    if known != 0 {
        return known;
    }
    // SAFETY: no preconditions.
    let tid = unsafe { libc::gettid() };
    OS_TID.set(tid);
    tid
}

// ---------------------------------------------------------------------------------------------
// Owning green threads

/// The green thread that owns each recursive or error-checking mutex and each write-locked
/// rwlock taken by a green thread, by address.
static OWNERS: Mutex<BTreeMap<usize, u64>> = Mutex::new(BTreeMap::new());

fn owner_of(obj: usize) -> Option<u64> {
    crate::sys::inside(|| {
        let owners = OWNERS.lock().unwrap_or_else(PoisonError::into_inner);
        owners.get(&obj).copied()
    })
}

fn set_owner(obj: usize, id: u64) {
    crate::sys::inside(|| {
        OWNERS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(obj, id);
    });
}

/// Forgets that green thread `id` owns `obj`, after it released it; a no-op when `obj` already
/// has another owner. The release makes `obj` free for every thread at once, so a green thread
/// on another worker can take it and record itself before the releaser gets here: removing
/// that record lost the new owner (its unlock then went to glibc, whose owner check failed on
/// a worker other than the one that took it, and the mutex stayed locked for good;
/// `monkey_c_locks_two_workers`, seen once in CI).
fn release_owner(obj: usize, id: u64) {
    crate::sys::inside(|| {
        let mut owners = OWNERS.lock().unwrap_or_else(PoisonError::into_inner);
        if owners.get(&obj) == Some(&id) {
            owners.remove(&obj);
        }
    });
}

fn green_id() -> u64 {
    context::current().id()
}

/// Runs `attempt` (under the bucket lock of `key`) until it gives a result, parking on `key`
/// between attempts: woken by a release of `key`, or after [`RECHECK`] on its own. `None` once
/// `deadline` has passed.
pub(super) fn retry_parked<R>(
    key: usize,
    what: &'static str,
    deadline: Option<Instant>,
    mut attempt: impl FnMut() -> Option<R>,
) -> Option<R> {
    loop {
        let mut result = None;
        let blocked = || {
            result = attempt();
            result.is_none()
        };
        let parked = futex::park_on(key, BITSET_ALL, what, recheck_by(deadline), blocked, || {});
        if result.is_some() {
            return result;
        }
        if parked == Parked::TimedOut && deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
    }
}

/// The deadline of one park of a waiter that re-checks on its own every [`RECHECK`].
pub(super) fn recheck_by(deadline: Option<Instant>) -> Option<Instant> {
    let tick = Instant::now() + RECHECK;
    Some(deadline.map_or(tick, |d| d.min(tick)))
}

/// The deadline of an absolute `timespec` on `clock`, or the error code for a bad one.
///
/// # Safety
/// `ts` is null or points at a timespec.
pub(super) unsafe fn deadline_at(
    clock: clockid_t,
    ts: *const timespec,
) -> Result<Option<Instant>, c_int> {
    if ts.is_null() {
        return Err(libc::EINVAL);
    }
    // SAFETY: non-null, per the contract.
    super::sleep::deadline_of(clock, libc::TIMER_ABSTIME, unsafe { &*ts })
}

/// Whether the self-test of glibc's lock layout passed (the pthread hooks are active).
pub fn supported() -> bool {
    layout_ok()
}

/// References every interposer of this file, so that a binary that patches links them.
pub(crate) fn keep_linked() {
    std::hint::black_box([
        pthread_mutex_lock as *const (),
        pthread_mutex_timedlock as *const (),
        pthread_mutex_clocklock as *const (),
        pthread_mutex_trylock as *const (),
        pthread_mutex_unlock as *const (),
        pthread_cond_wait as *const (),
        pthread_cond_timedwait as *const (),
        pthread_cond_clockwait as *const (),
        pthread_cond_signal as *const (),
        pthread_cond_broadcast as *const (),
        pthread_rwlock_rdlock as *const (),
        pthread_rwlock_timedrdlock as *const (),
        pthread_rwlock_clockrdlock as *const (),
        pthread_rwlock_wrlock as *const (),
        pthread_rwlock_timedwrlock as *const (),
        pthread_rwlock_clockwrlock as *const (),
        pthread_rwlock_trywrlock as *const (),
        pthread_rwlock_unlock as *const (),
        sem_wait as *const (),
        sem_timedwait as *const (),
        sem_clockwait as *const (),
        sem_post as *const (),
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The releaser's cleanup runs after the release, when another green thread may already
    /// own the object: it must leave that owner's record alone.
    #[test]
    fn a_release_keeps_the_record_of_an_owner_that_took_over_meanwhile() {
        let obj = 0x5eed_0001;
        set_owner(obj, 1);
        // Green thread 2, on another worker, takes the object the moment 1 releases it...
        set_owner(obj, 2);
        // ...before 1 forgets its own ownership.
        release_owner(obj, 1);
        assert_eq!(owner_of(obj), Some(2));
        release_owner(obj, 2);
        assert_eq!(owner_of(obj), None);
    }
}
