//! `pthread_cond_*`.

use std::ffi::c_int;
use std::sync::atomic::Ordering;

use crate::sys::real;
use libc::{clockid_t, pthread_cond_t, pthread_mutex_t, timespec};

use crate::interpose::futex::{self, BITSET_ALL, Parked};
use crate::interpose::{Family, decide};

use super::mutex::{lock_mutex, mutex_kind, unlock_mutex};
use super::*;

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
