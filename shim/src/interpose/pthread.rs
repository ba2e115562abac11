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

use std::cell::Cell;
use std::collections::BTreeMap;
use std::ffi::c_int;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use libc::{clockid_t, pthread_cond_t, pthread_mutex_t, pthread_rwlock_t, sem_t, timespec};

use super::futex::{self, BITSET_ALL, Parked};
use super::{Family, decide, real, set_errno};
use crate::context;

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
            let ok = super::inside(check_layout);
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

thread_local! {
    static OS_TID: Cell<i32> = const { Cell::new(0) };
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
    super::inside(|| {
        let owners = OWNERS.lock().unwrap_or_else(PoisonError::into_inner);
        owners.get(&obj).copied()
    })
}

fn set_owner(obj: usize, owner: Option<u64>) {
    super::inside(|| {
        let mut owners = OWNERS.lock().unwrap_or_else(PoisonError::into_inner);
        match owner {
            Some(id) => owners.insert(obj, id),
            None => owners.remove(&obj),
        }
    });
}

fn green_id() -> u64 {
    context::current().id()
}

// ---------------------------------------------------------------------------------------------
// Mutexes

/// How greenshim handles a mutex on a green thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MutexKind {
    /// Normal or adaptive: glibc does not check the owner on unlock.
    Plain,
    /// Recursive: greenshim tracks the owning green thread, whose relocks count.
    Recursive,
    /// Error-checking: greenshim tracks the owning green thread, whose relocks fail.
    ErrorCheck,
}

impl MutexKind {
    fn owned(self) -> bool {
        self != MutexKind::Plain
    }
}

/// Whether a call on `m` from this thread is greenshim's, and how.
fn green_mutex(m: *mut pthread_mutex_t) -> Option<MutexKind> {
    let mut kind = None;
    decide(Family::Locks, |green| {
        kind = green.then(|| mutex_kind(m)).flatten();
        kind.is_some()
    });
    kind
}

fn mutex_kind(m: *mut pthread_mutex_t) -> Option<MutexKind> {
    if m.is_null() || !layout_ok() {
        return None;
    }
    // SAFETY: the caller's mutex, checked non-null.
    let kind = unsafe { field(m, MUTEX_KIND) }.load(Ordering::Relaxed);
    if kind & KIND_KERNEL_ONLY != 0 {
        return None;
    }
    Some(match kind & KIND_TYPE_MASK {
        libc::PTHREAD_MUTEX_RECURSIVE => MutexKind::Recursive,
        libc::PTHREAD_MUTEX_ERRORCHECK => MutexKind::ErrorCheck,
        _ => MutexKind::Plain,
    })
}

/// Moves glibc's owner record of a mutex the calling green thread owns to this OS thread.
///
/// # Safety
/// `m` is a live mutex owned by the calling green thread.
unsafe fn rehome_mutex(m: *mut pthread_mutex_t) {
    // SAFETY: per the contract; only the owner writes the record while it owns the mutex.
    unsafe { field(m, MUTEX_OWNER) }.store(os_tid(), Ordering::Relaxed);
}

/// One attempt to take `m` for the calling green thread: 0, `EBUSY`, or glibc's error.
///
/// # Safety
/// `m` is a live mutex.
unsafe fn try_mutex(m: *mut pthread_mutex_t, kind: MutexKind) -> c_int {
    if kind.owned() {
        // SAFETY: live mutex.
        if unsafe { field(m, MUTEX_OWNER) }.load(Ordering::Relaxed) == os_tid() {
            // Another green thread on this worker owns it: glibc would count it as ours.
            return libc::EBUSY;
        }
    }
    // SAFETY: live mutex.
    let r = unsafe { real::pthread_mutex_trylock(m) };
    if r == 0 && kind.owned() {
        set_owner(m.addr(), Some(green_id()));
    }
    r
}

/// Takes `m` for the calling green thread, parking while another holds it.
///
/// # Safety
/// `m` is a live mutex.
unsafe fn lock_mutex(m: *mut pthread_mutex_t, kind: MutexKind, deadline: Option<Instant>) -> c_int {
    if kind.owned() && owner_of(m.addr()) == Some(green_id()) {
        if kind == MutexKind::ErrorCheck {
            return libc::EDEADLK;
        }
        // SAFETY: owned by this green thread.
        return unsafe { relock_owned(m) };
    }
    let attempt = || {
        // SAFETY: live mutex.
        let r = unsafe { try_mutex(m, kind) };
        (r != libc::EBUSY).then_some(r)
    };
    retry_parked(m.addr(), "pthread_mutex_lock", deadline, attempt).unwrap_or(libc::ETIMEDOUT)
}

/// Runs `attempt` (under the bucket lock of `key`) until it gives a result, parking on `key`
/// between attempts: woken by a release of `key`, or after [`RECHECK`] on its own. `None` once
/// `deadline` has passed.
fn retry_parked<R>(
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
fn recheck_by(deadline: Option<Instant>) -> Option<Instant> {
    let tick = Instant::now() + RECHECK;
    Some(deadline.map_or(tick, |d| d.min(tick)))
}

/// Releases `m` for the calling green thread.
///
/// # Safety
/// `m` is a live mutex.
unsafe fn unlock_mutex(m: *mut pthread_mutex_t, kind: MutexKind) -> c_int {
    if kind.owned() {
        match owner_of(m.addr()) {
            Some(owner) if owner != green_id() => return libc::EPERM,
            Some(_) => {
                // SAFETY: owned by this green thread.
                unsafe { rehome_mutex(m) };
                // SAFETY: live mutex, owned by this OS thread now.
                let r = unsafe { real::pthread_mutex_unlock(m) };
                // SAFETY: live mutex.
                if r == 0 && unsafe { field(m, MUTEX_OWNER) }.load(Ordering::Relaxed) != os_tid() {
                    set_owner(m.addr(), None);
                    futex::wake_green(m.addr(), 1, BITSET_ALL);
                }
                return r;
            }
            // Taken before the patch, or by glibc's own path: glibc's check decides.
            None => {}
        }
    }
    // SAFETY: live mutex.
    let r = unsafe { real::pthread_mutex_unlock(m) };
    if r == 0 {
        futex::wake_green(m.addr(), 1, BITSET_ALL);
    }
    r
}

/// The deadline of an absolute `timespec` on `clock`, or the error code for a bad one.
///
/// # Safety
/// `ts` is null or points at a timespec.
unsafe fn deadline_at(clock: clockid_t, ts: *const timespec) -> Result<Option<Instant>, c_int> {
    if ts.is_null() {
        return Err(libc::EINVAL);
    }
    // SAFETY: non-null, per the contract.
    super::sleep::deadline_of(clock, libc::TIMER_ABSTIME, unsafe { &*ts })
}

/// greenshim's `pthread_mutex_lock`: on a green thread, parks while the mutex is held.
///
/// # Safety
/// The C contract of `pthread_mutex_lock`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_mutex_lock(m: *mut pthread_mutex_t) -> c_int {
    match green_mutex(m) {
        // SAFETY: the caller's live mutex.
        Some(kind) => unsafe { lock_mutex(m, kind, None) },
        // SAFETY: the caller's call, unchanged.
        None => unsafe { real::pthread_mutex_lock(m) },
    }
}

/// greenshim's `pthread_mutex_timedlock` (`CLOCK_REALTIME` deadline).
///
/// # Safety
/// The C contract of `pthread_mutex_timedlock`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_mutex_timedlock(
    m: *mut pthread_mutex_t,
    abstime: *const timespec,
) -> c_int {
    // SAFETY: the caller's call.
    unsafe { pthread_mutex_clocklock(m, libc::CLOCK_REALTIME, abstime) }
}

/// greenshim's `pthread_mutex_clocklock`.
///
/// # Safety
/// The C contract of `pthread_mutex_clocklock`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_mutex_clocklock(
    m: *mut pthread_mutex_t,
    clock: clockid_t,
    abstime: *const timespec,
) -> c_int {
    let Some(kind) = green_mutex(m) else {
        // SAFETY: the caller's call, unchanged.
        return unsafe { real::pthread_mutex_clocklock(m, clock, abstime) };
    };
    // POSIX: the deadline is not looked at when the mutex can be taken at once.
    // SAFETY: the caller's live mutex.
    let r = unsafe { lock_mutex_now(m, kind) };
    if r != libc::EBUSY {
        return r;
    }
    // SAFETY: the caller's timespec.
    match unsafe { deadline_at(clock, abstime) } {
        // SAFETY: the caller's live mutex.
        Ok(deadline) => unsafe { lock_mutex(m, kind, deadline) },
        Err(code) => code,
    }
}

/// One attempt to lock `m` the way [`lock_mutex`] would, without parking.
///
/// # Safety
/// `m` is a live mutex.
unsafe fn lock_mutex_now(m: *mut pthread_mutex_t, kind: MutexKind) -> c_int {
    if kind.owned() && owner_of(m.addr()) == Some(green_id()) {
        // SAFETY: owned by this green thread.
        return unsafe { relock_owned(m) };
    }
    // SAFETY: live mutex.
    unsafe { try_mutex(m, kind) }
}

/// A relock by the owning green thread: glibc counts it (recursive) or reports it busy
/// (error-checking), once its owner record names this OS thread.
///
/// # Safety
/// `m` is a live recursive or error-checking mutex the calling green thread owns.
unsafe fn relock_owned(m: *mut pthread_mutex_t) -> c_int {
    // SAFETY: owned by this green thread.
    unsafe { rehome_mutex(m) };
    // SAFETY: live mutex, owned by this OS thread now.
    unsafe { real::pthread_mutex_trylock(m) }
}

/// greenshim's `pthread_mutex_trylock`: on a green thread, a recursive mutex another green
/// thread of the same worker owns is busy, not a relock.
///
/// # Safety
/// The C contract of `pthread_mutex_trylock`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_mutex_trylock(m: *mut pthread_mutex_t) -> c_int {
    match green_mutex(m) {
        // SAFETY: the caller's live mutex.
        Some(kind) => unsafe { lock_mutex_now(m, kind) },
        // SAFETY: the caller's call, unchanged.
        None => unsafe { real::pthread_mutex_trylock(m) },
    }
}

/// greenshim's `pthread_mutex_unlock`: wakes a green waiter after glibc's unlock, from any
/// thread.
///
/// # Safety
/// The C contract of `pthread_mutex_unlock`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_mutex_unlock(m: *mut pthread_mutex_t) -> c_int {
    match green_mutex(m) {
        // SAFETY: the caller's live mutex.
        Some(kind) => unsafe { unlock_mutex(m, kind) },
        None => {
            // SAFETY: the caller's call, unchanged.
            let r = unsafe { real::pthread_mutex_unlock(m) };
            if r == 0 {
                // A plain thread's release: green threads may wait for it.
                futex::wake_green(m.addr(), 1, BITSET_ALL);
            }
            r
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Condition variables

/// greenshim's `pthread_cond_wait`: on a green thread, queues on the condition variable,
/// releases the mutex, parks, and takes the mutex again (parking while it is held).
///
/// # Safety
/// The C contract of `pthread_cond_wait`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_cond_wait(
    c: *mut pthread_cond_t,
    m: *mut pthread_mutex_t,
) -> c_int {
    // SAFETY: the caller's call.
    unsafe { cond_wait(c, m, None) }.unwrap_or_else(|| {
        // SAFETY: the caller's call, unchanged.
        unsafe { real::pthread_cond_wait(c, m) }
    })
}

/// greenshim's `pthread_cond_timedwait` (deadline on the condition variable's clock).
///
/// # Safety
/// The C contract of `pthread_cond_timedwait`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_cond_timedwait(
    c: *mut pthread_cond_t,
    m: *mut pthread_mutex_t,
    abstime: *const timespec,
) -> c_int {
    // SAFETY: the caller's call.
    unsafe { cond_wait(c, m, Some((None, abstime))) }.unwrap_or_else(|| {
        // SAFETY: the caller's call, unchanged.
        unsafe { real::pthread_cond_timedwait(c, m, abstime) }
    })
}

/// greenshim's `pthread_cond_clockwait`.
///
/// # Safety
/// The C contract of `pthread_cond_clockwait`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_cond_clockwait(
    c: *mut pthread_cond_t,
    m: *mut pthread_mutex_t,
    clock: clockid_t,
    abstime: *const timespec,
) -> c_int {
    // SAFETY: the caller's call.
    unsafe { cond_wait(c, m, Some((Some(clock), abstime))) }.unwrap_or_else(|| {
        // SAFETY: the caller's call, unchanged.
        unsafe { real::pthread_cond_clockwait(c, m, clock, abstime) }
    })
}

/// A green thread's condition wait; `None` when glibc's own must run. `timed` is the clock
/// (the condition variable's when `None`) and absolute deadline of a timed wait.
///
/// # Safety
/// The C contract of `pthread_cond_timedwait`.
unsafe fn cond_wait(
    c: *mut pthread_cond_t,
    m: *mut pthread_mutex_t,
    timed: Option<(Option<clockid_t>, *const timespec)>,
) -> Option<c_int> {
    let mut kind = None;
    let mut wrefs = 0;
    let green = decide(Family::Locks, |green| {
        if !green || c.is_null() {
            return false;
        }
        kind = mutex_kind(m);
        // SAFETY: the caller's live condition variable (the layout is checked by mutex_kind).
        wrefs = unsafe { field(c, COND_WREFS) }.load(Ordering::Relaxed);
        kind.is_some() && wrefs & WREFS_SHARED == 0
    });
    let kind = kind.filter(|_| green)?;
    let deadline = match timed {
        None => None,
        Some((clock, abstime)) => {
            let clock = clock.unwrap_or(if wrefs & WREFS_MONOTONIC != 0 {
                libc::CLOCK_MONOTONIC
            } else {
                libc::CLOCK_REALTIME
            });
            // SAFETY: the caller's timespec.
            match unsafe { deadline_at(clock, abstime) } {
                Ok(d) => d,
                Err(code) => return Some(code),
            }
        }
    };
    if kind.owned() && owner_of(m.addr()).is_some_and(|o| o != green_id()) {
        return Some(libc::EPERM);
    }
    let mut unlocked = 0;
    let parked = futex::park_on(
        c.addr(),
        BITSET_ALL,
        "pthread_cond_wait",
        deadline,
        || true,
        // SAFETY: the caller's live mutex, which it holds.
        || unlocked = unsafe { unlock_mutex(m, kind) },
    );
    if unlocked != 0 {
        // Not the caller's to release: it was never queued for long; report glibc's error.
        return Some(unlocked);
    }
    // SAFETY: the caller's live mutex.
    let relocked = unsafe { lock_mutex(m, kind, None) };
    Some(match (relocked, parked) {
        (0, Parked::TimedOut) => libc::ETIMEDOUT,
        (r, _) => r,
    })
}

/// greenshim's `pthread_cond_signal`: wakes a green waiter if there is one, else glibc's.
///
/// # Safety
/// The C contract of `pthread_cond_signal`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_cond_signal(c: *mut pthread_cond_t) -> c_int {
    if futex::wake_green(c.addr(), 1, BITSET_ALL) == 1 {
        return 0;
    }
    // SAFETY: the caller's call, unchanged.
    unsafe { real::pthread_cond_signal(c) }
}

/// greenshim's `pthread_cond_broadcast`: wakes the green waiters and glibc's.
///
/// # Safety
/// The C contract of `pthread_cond_broadcast`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_cond_broadcast(c: *mut pthread_cond_t) -> c_int {
    futex::wake_green(c.addr(), i32::MAX, BITSET_ALL);
    // SAFETY: the caller's call, unchanged.
    unsafe { real::pthread_cond_broadcast(c) }
}

// ---------------------------------------------------------------------------------------------
// Read-write locks

fn green_rwlock(rw: *mut pthread_rwlock_t) -> bool {
    decide(Family::Locks, |green| {
        // SAFETY: the caller's live rwlock (checked non-null; the layout checked first).
        green
            && !rw.is_null()
            && layout_ok()
            && unsafe { field(rw, RWLOCK_SHARED) }.load(Ordering::Relaxed) == 0
    })
}

/// Takes `rw` for reading or writing for the calling green thread, parking while it cannot.
///
/// # Safety
/// `rw` is a live rwlock.
unsafe fn lock_rwlock(rw: *mut pthread_rwlock_t, write: bool, deadline: Option<Instant>) -> c_int {
    if owner_of(rw.addr()) == Some(green_id()) {
        // glibc's answer to a writer that locks again.
        return libc::EDEADLK;
    }
    let what = if write {
        "pthread_rwlock_wrlock"
    } else {
        "pthread_rwlock_rdlock"
    };
    let attempt = || {
        // SAFETY: live rwlock.
        let r = unsafe {
            if write {
                real::pthread_rwlock_trywrlock(rw)
            } else {
                real::pthread_rwlock_tryrdlock(rw)
            }
        };
        if r == 0 && write {
            set_owner(rw.addr(), Some(green_id()));
        }
        (r != libc::EBUSY).then_some(r)
    };
    retry_parked(rw.addr(), what, deadline, attempt).unwrap_or(libc::ETIMEDOUT)
}

macro_rules! rwlock_locks {
    ($($(#[$doc:meta])* $name:ident / $timed:ident / $clock:ident => $write:expr;)+) => {$(
        $(#[$doc])*
        ///
        /// # Safety
        /// The C contract of the glibc function.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(rw: *mut pthread_rwlock_t) -> c_int {
            if !green_rwlock(rw) {
                // SAFETY: the caller's call, unchanged.
                return unsafe { real::$name(rw) };
            }
            // SAFETY: the caller's live rwlock.
            unsafe { lock_rwlock(rw, $write, None) }
        }

        /// The timed form (`CLOCK_REALTIME` deadline).
        ///
        /// # Safety
        /// The C contract of the glibc function.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $timed(rw: *mut pthread_rwlock_t, abstime: *const timespec) -> c_int {
            // SAFETY: the caller's call.
            unsafe { $clock(rw, libc::CLOCK_REALTIME, abstime) }
        }

        /// The form with a clock.
        ///
        /// # Safety
        /// The C contract of the glibc function.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $clock(
            rw: *mut pthread_rwlock_t,
            clock: clockid_t,
            abstime: *const timespec,
        ) -> c_int {
            if !green_rwlock(rw) {
                // SAFETY: the caller's call, unchanged.
                return unsafe { real::$clock(rw, clock, abstime) };
            }
            // SAFETY: the caller's timespec.
            match unsafe { deadline_at(clock, abstime) } {
                // SAFETY: the caller's live rwlock.
                Ok(deadline) => unsafe { lock_rwlock(rw, $write, deadline) },
                Err(code) => code,
            }
        }
    )+};
}

rwlock_locks! {
    /// greenshim's `pthread_rwlock_rdlock`: on a green thread, parks while a writer holds it.
    pthread_rwlock_rdlock / pthread_rwlock_timedrdlock / pthread_rwlock_clockrdlock => false;
    /// greenshim's `pthread_rwlock_wrlock`: on a green thread, parks while it is held.
    pthread_rwlock_wrlock / pthread_rwlock_timedwrlock / pthread_rwlock_clockwrlock => true;
}

/// greenshim's `pthread_rwlock_trywrlock`: records the owning green thread.
///
/// # Safety
/// The C contract of `pthread_rwlock_trywrlock`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_rwlock_trywrlock(rw: *mut pthread_rwlock_t) -> c_int {
    // SAFETY: the caller's call, unchanged.
    let r = unsafe { real::pthread_rwlock_trywrlock(rw) };
    if r == 0 && green_rwlock(rw) {
        set_owner(rw.addr(), Some(green_id()));
    }
    r
}

/// greenshim's `pthread_rwlock_unlock`: wakes the green waiters after glibc's unlock, from any
/// thread; a green writer's unlock goes through on whichever worker it runs.
///
/// # Safety
/// The C contract of `pthread_rwlock_unlock`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_rwlock_unlock(rw: *mut pthread_rwlock_t) -> c_int {
    let mut owned = false;
    if green_rwlock(rw) && owner_of(rw.addr()) == Some(green_id()) {
        owned = true;
        // SAFETY: write-locked by this green thread: glibc decides writer or reader by this
        // record, which only the writer touches while it holds the lock.
        unsafe { field(rw, RWLOCK_CUR_WRITER) }.store(os_tid(), Ordering::Relaxed);
    }
    // SAFETY: the caller's call.
    let r = unsafe { real::pthread_rwlock_unlock(rw) };
    if r == 0 {
        if owned {
            set_owner(rw.addr(), None);
        }
        futex::wake_green(rw.addr(), i32::MAX, BITSET_ALL);
    }
    r
}

// ---------------------------------------------------------------------------------------------
// Semaphores

fn green_sem(s: *mut sem_t) -> bool {
    decide(Family::Locks, |green| green && !s.is_null())
}

/// Takes a unit of `s` for the calling green thread, parking while there is none. The
/// `sem_wait` result (`-1` with `errno`).
///
/// # Safety
/// `s` is a live semaphore.
unsafe fn wait_sem(s: *mut sem_t, deadline: Option<Instant>) -> c_int {
    let attempt = || {
        // SAFETY: live semaphore.
        if unsafe { real::sem_trywait(s) } == 0 {
            return Some(0);
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EAGAIN) => None,
            e => Some(e.unwrap_or(libc::EINVAL)),
        }
    };
    match retry_parked(s.addr(), "sem_wait", deadline, attempt) {
        Some(0) => 0,
        Some(code) => {
            set_errno(code);
            -1
        }
        None => {
            set_errno(libc::ETIMEDOUT);
            -1
        }
    }
}

/// greenshim's `sem_wait`: on a green thread, parks while the count is zero.
///
/// # Safety
/// The C contract of `sem_wait`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sem_wait(s: *mut sem_t) -> c_int {
    if !green_sem(s) {
        // SAFETY: the caller's call, unchanged.
        return unsafe { real::sem_wait(s) };
    }
    // SAFETY: the caller's live semaphore.
    unsafe { wait_sem(s, None) }
}

/// greenshim's `sem_timedwait` (`CLOCK_REALTIME` deadline).
///
/// # Safety
/// The C contract of `sem_timedwait`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sem_timedwait(s: *mut sem_t, abstime: *const timespec) -> c_int {
    // SAFETY: the caller's call.
    unsafe { sem_clockwait(s, libc::CLOCK_REALTIME, abstime) }
}

/// greenshim's `sem_clockwait`.
///
/// # Safety
/// The C contract of `sem_clockwait`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sem_clockwait(
    s: *mut sem_t,
    clock: clockid_t,
    abstime: *const timespec,
) -> c_int {
    if !green_sem(s) {
        // SAFETY: the caller's call, unchanged.
        return unsafe { real::sem_clockwait(s, clock, abstime) };
    }
    // POSIX: the deadline is not looked at when a unit is there.
    // SAFETY: the caller's live semaphore.
    if unsafe { real::sem_trywait(s) } == 0 {
        return 0;
    }
    // SAFETY: the caller's timespec.
    match unsafe { deadline_at(clock, abstime) } {
        // SAFETY: the caller's live semaphore.
        Ok(deadline) => unsafe { wait_sem(s, deadline) },
        Err(code) => {
            set_errno(code);
            -1
        }
    }
}

/// greenshim's `sem_post`: wakes a green waiter after glibc's post, from any thread.
///
/// # Safety
/// The C contract of `sem_post`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sem_post(s: *mut sem_t) -> c_int {
    // SAFETY: the caller's call, unchanged.
    let r = unsafe { real::sem_post(s) };
    if r == 0 {
        futex::wake_green(s.addr(), 1, BITSET_ALL);
    }
    r
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
