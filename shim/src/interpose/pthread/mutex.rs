//! `pthread_mutex_*`.

use std::ffi::c_int;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::sys::real;
use libc::{clockid_t, pthread_mutex_t, timespec};

use crate::interpose::futex::{self, BITSET_ALL};
use crate::interpose::{Family, decide};

use super::*;

/// How greenshim handles a mutex on a green thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MutexKind {
    /// Normal or adaptive: glibc does not check the owner on unlock.
    Plain,
    /// Recursive: greenshim tracks the owning green thread, whose relocks count.
    Recursive,
    /// Error-checking: greenshim tracks the owning green thread, whose relocks fail.
    ErrorCheck,
}

impl MutexKind {
    pub(super) fn owned(self) -> bool {
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

pub(super) fn mutex_kind(m: *mut pthread_mutex_t) -> Option<MutexKind> {
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
        set_owner(m.addr(), green_id());
    }
    r
}

/// Takes `m` for the calling green thread, parking while another holds it.
///
/// # Safety
/// `m` is a live mutex.
pub(super) unsafe fn lock_mutex(
    m: *mut pthread_mutex_t,
    kind: MutexKind,
    deadline: Option<Instant>,
) -> c_int {
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

/// Releases `m` for the calling green thread.
///
/// # Safety
/// `m` is a live mutex.
pub(super) unsafe fn unlock_mutex(m: *mut pthread_mutex_t, kind: MutexKind) -> c_int {
    if kind.owned() {
        match owner_of(m.addr()) {
            Some(owner) if owner != green_id() => return libc::EPERM,
            Some(me) => {
                // SAFETY: owned by this green thread.
                unsafe { rehome_mutex(m) };
                // SAFETY: live mutex, owned by this OS thread now.
                let r = unsafe { real::pthread_mutex_unlock(m) };
                // SAFETY: live mutex.
                if r == 0 && unsafe { field(m, MUTEX_OWNER) }.load(Ordering::Relaxed) != os_tid() {
                    release_owner(m.addr(), me);
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
