//! A mirror of `std::time`: the same types, and a [`sleep`] that parks only the green thread.
//!
//! `use greenshim::time;` replaces `use std::time;` (and `std::thread::sleep`).

#![forbid(unsafe_code)]

pub use std::time::{
    Duration, Instant, SystemTime, SystemTimeError, TryFromFloatSecsError, UNIX_EPOCH,
};

use greenshim_shim::park;

/// Sleeps for `dur`. On a green thread only the green thread waits: its worker runs others, and
/// it is woken by greenshim's timer (queued on a worker, never run on the timer thread).
/// `Duration::ZERO` yields to other green threads. On a plain thread it blocks like
/// `std::thread::sleep`.
///
/// # Differences from std
/// A sleep is a park point: a [`Timeout`](crate::Timeout) or a kill interrupts it.
pub fn sleep(dur: Duration) {
    if dur.is_zero() {
        return crate::yield_now();
    }
    let result = match Instant::now().checked_add(dur) {
        Some(deadline) => park::sleep_until(deadline),
        None => loop {
            if let Err(i) = park::park(None) {
                break Err(i);
            }
        },
    };
    if let Err(interrupt) = result {
        interrupt.raise();
    }
}

/// Sleeps until `deadline` (no-op if it has passed).
pub fn sleep_until(deadline: Instant) {
    if let Err(interrupt) = park::sleep_until(deadline) {
        interrupt.raise();
    }
}
