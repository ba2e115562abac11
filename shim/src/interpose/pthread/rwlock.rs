//! `pthread_rwlock_*`.

use std::ffi::c_int;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::sys::real;
use libc::{clockid_t, pthread_rwlock_t, timespec};

use crate::interpose::futex::{self, BITSET_ALL};
use crate::interpose::{Family, decide};

use super::*;

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
            set_owner(rw.addr(), green_id());
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
        set_owner(rw.addr(), green_id());
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
    let owned = green_rwlock(rw)
        .then(green_id)
        .filter(|&me| owner_of(rw.addr()) == Some(me));
    if owned.is_some() {
        // SAFETY: write-locked by this green thread: glibc decides writer or reader by this
        // record, which only the writer touches while it holds the lock.
        unsafe { field(rw, RWLOCK_CUR_WRITER) }.store(os_tid(), Ordering::Relaxed);
    }
    // SAFETY: the caller's call.
    let r = unsafe { real::pthread_rwlock_unlock(rw) };
    if r == 0 {
        if let Some(me) = owned {
            release_owner(rw.addr(), me);
        }
        futex::wake_green(rw.addr(), i32::MAX, BITSET_ALL);
    }
    r
}
