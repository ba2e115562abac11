//! The `Sleep` family: `sleep`, `usleep`, `nanosleep` and `clock_nanosleep` (std's
//! `thread::sleep`) park the green thread on greenshim's timer.
//!
//! A kill or `Timeout` that arrives during the sleep ends it early, reported as a completed
//! sleep (std's `thread::sleep` retries on `EINTR`, so that is the only early end it lets its
//! caller see); the interrupt is recorded as delivered (see the module docs of `interpose`).

use crate::sys::real;
use std::ffi::{c_int, c_uint};
use std::time::{Duration, Instant, SystemTime};

use super::{Family, cooperative, set_errno};
use crate::park;
use crate::park::context;

/// A `timespec` as a duration; `None` if it is not a valid one (negative, or nanoseconds out
/// of range), which libc reports as `EINVAL`.
fn duration_of(ts: &libc::timespec) -> Option<Duration> {
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec)
        .ok()
        .filter(|n| *n < 1_000_000_000)?;
    Some(Duration::new(secs, nanos))
}

/// Parks the green thread until `deadline`. An interrupt ends it early and is recorded as
/// delivered.
fn park_until(deadline: Option<Instant>) {
    if deadline.is_some_and(|d| d <= Instant::now()) {
        // A zero sleep lets the other green threads run, as `greenshim::sleep(ZERO)` does.
        if let Err(i) = park::yield_now() {
            context::current().deliver(i);
        }
        return;
    }
    loop {
        // Too far to represent: sleep "forever", a day at a time.
        let step = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        match park::sleep_until(step) {
            Ok(()) if deadline.is_none() => {}
            Ok(()) => return,
            Err(i) => {
                context::current().deliver(i);
                return;
            }
        }
    }
}

/// The deadline of a `clock_nanosleep` request, or the `E*` code to fail with.
pub(crate) fn deadline_of(
    clock: libc::clockid_t,
    flags: c_int,
    req: &libc::timespec,
) -> Result<Option<Instant>, c_int> {
    let d = duration_of(req).ok_or(libc::EINVAL)?;
    if flags & libc::TIMER_ABSTIME == 0 {
        return Ok(Instant::now().checked_add(d));
    }
    // Absolute: how far the target is from the clock's now.
    let left = match clock {
        libc::CLOCK_REALTIME => {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            d.saturating_sub(now)
        }
        libc::CLOCK_MONOTONIC | libc::CLOCK_BOOTTIME => {
            let mut now = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `now` is a valid out-parameter.
            if unsafe { libc::clock_gettime(clock, &mut now) } != 0 {
                return Err(libc::EINVAL);
            }
            d.saturating_sub(duration_of(&now).unwrap_or_default())
        }
        _ => return Err(libc::ENOTSUP),
    };
    Ok(Instant::now().checked_add(left))
}

/// greenshim's `clock_nanosleep`: cooperative for relative and absolute sleeps on the
/// realtime, monotonic and boot-time clocks.
///
/// # Safety
/// The C contract of `clock_nanosleep(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn clock_nanosleep(
    clock: libc::clockid_t,
    flags: c_int,
    req: *const libc::timespec,
    rem: *mut libc::timespec,
) -> c_int {
    if req.is_null() || !cooperative(Family::Sleep) {
        // SAFETY: the caller's arguments pass through unchanged.
        return unsafe { real::clock_nanosleep(clock, flags, req, rem) };
    }
    // SAFETY: the caller passes a valid timespec.
    match deadline_of(clock, flags, unsafe { &*req }) {
        Ok(deadline) => {
            park_until(deadline);
            0
        }
        // An unusual clock: let libc sleep (it blocks the worker, as before patching).
        // SAFETY: as above.
        Err(libc::ENOTSUP) => unsafe { real::clock_nanosleep(clock, flags, req, rem) },
        Err(code) => code,
    }
}

/// greenshim's `nanosleep`.
///
/// # Safety
/// The C contract of `nanosleep(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nanosleep(req: *const libc::timespec, rem: *mut libc::timespec) -> c_int {
    if req.is_null() || !cooperative(Family::Sleep) {
        // SAFETY: the caller's arguments pass through unchanged.
        return unsafe { real::nanosleep(req, rem) };
    }
    // SAFETY: the caller passes a valid timespec.
    match duration_of(unsafe { &*req }) {
        Some(d) => {
            park_until(Instant::now().checked_add(d));
            0
        }
        None => {
            set_errno(libc::EINVAL);
            -1
        }
    }
}

/// greenshim's `usleep`.
///
/// # Safety
/// None beyond `usleep(3)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn usleep(usec: libc::useconds_t) -> c_int {
    if !cooperative(Family::Sleep) {
        // SAFETY: plain value argument.
        return unsafe { real::usleep(usec) };
    }
    park_until(Instant::now().checked_add(Duration::from_micros(usec.into())));
    0
}

/// greenshim's `sleep`. Returns 0 (the whole time slept), or the seconds left when a kill or
/// timeout ended it early.
///
/// # Safety
/// None beyond `sleep(3)`'s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sleep(seconds: c_uint) -> c_uint {
    if !cooperative(Family::Sleep) {
        // SAFETY: plain value argument.
        return unsafe { real::sleep(seconds) };
    }
    let deadline = Instant::now().checked_add(Duration::from_secs(seconds.into()));
    park_until(deadline);
    deadline.map_or(0, |d| {
        let left = d.saturating_duration_since(Instant::now());
        // Rounded up, as an interrupted sleep(3) reports.
        (left.as_secs() + u64::from(left.subsec_nanos() > 0))
            .try_into()
            .unwrap_or(c_uint::MAX)
    })
}

/// References every interposer of the family, so that a binary that patches links them.
pub(crate) fn keep_linked() {
    std::hint::black_box([
        clock_nanosleep as *const (),
        nanosleep as *const (),
        usleep as *const (),
        sleep as *const (),
    ]);
}
