//! `sem_*` (unnamed and named semaphores, process-private).

use std::ffi::c_int;
use std::time::Instant;

use crate::sys::real;
use libc::{clockid_t, sem_t, timespec};

use crate::interpose::futex::{self, BITSET_ALL};
use crate::interpose::{Family, decide, set_errno};

use super::*;

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
