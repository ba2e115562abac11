//! Wake-ups from plain threads come in bursts (a thread spawning green threads in a loop, the
//! timer waking a crowd of sleepers). A reactor that has just taken two dispatcher batches in
//! quick succession lingers: it looks at the batch between every two green threads of its
//! worker for a while, and the wakers meanwhile skip the eventfd write and the worker's
//! wake-up. These tests check that wakers find a lingering reactor, and that no wake-up is
//! lost while reactors start and stop lingering and plain threads keep waking green threads
//! (every scenario under a watchdog, so a lost wake-up fails instead of hanging).

mod util;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use greenshim_shim::fd::linger;

/// The counters are process-wide: the tests run one at a time.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A plain thread spawns a burst of green threads and joins them: spawns find a lingering
/// reactor and hand their green thread over without a signal, and every green thread runs.
/// (How many kicks a burst saves is a speed matter, measured in W1: 100 000 spawns made
/// 11 899 to 30 896 eventfd writes before lingering and 1 802 to 5 992 after, 3 runs each of
/// `perf stat -e syscalls:sys_enter_write` on the release build; in a debug build on a loaded
/// machine the counts vary too much to bound here.)
#[test]
fn spawns_from_a_plain_thread_find_a_lingering_reactor() {
    let _serial = one_at_a_time();
    util::workers(2);
    const N: u64 = 20_000;
    let skips = util::watchdog(Duration::from_secs(60), || {
        // Start-up and a first green thread, so the burst below is all that is counted.
        greenshim::spawn(|| ()).join().unwrap();
        let skips = linger::skips();
        let handles: Vec<_> = (0..N).map(|i| greenshim::spawn(move || i)).collect();
        let sum: u64 = handles.into_iter().map(|g| g.join().unwrap()).sum();
        assert_eq!(sum, N * (N - 1) / 2);
        linger::skips() - skips
    });
    assert!(
        skips > 0,
        "none of {N} spawns from a plain thread found a lingering reactor"
    );
}

/// Four plain threads spawn and join green threads that sleep now and then (timer wake-ups go
/// through the dispatcher too), in rounds with pauses between them, so that reactors start and
/// stop lingering again and again while wake-ups arrive: every green thread finishes.
#[test]
fn no_wake_up_is_lost_while_reactors_start_and_stop_lingering() {
    let _serial = one_at_a_time();
    util::workers(2);
    util::watchdog(Duration::from_secs(120), || {
        let spawners: Vec<_> = (0..4u64)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut done = 0u64;
                    for round in 0..40u64 {
                        let handles: Vec<_> = (0..200u64)
                            .map(|i| {
                                greenshim::spawn(move || {
                                    if (i + round + t) % 7 == 0 {
                                        greenshim::sleep(Duration::from_micros(50 + i % 200));
                                    }
                                    1u64
                                })
                            })
                            .collect();
                        done += handles.into_iter().map(|g| g.join().unwrap()).sum::<u64>();
                        // Long enough for a reactor to stop lingering (30 µs without work).
                        std::thread::sleep(Duration::from_micros(100 * (round % 3)));
                    }
                    done
                })
            })
            .collect();
        let total: u64 = spawners.into_iter().map(|s| s.join().unwrap()).sum();
        assert_eq!(total, 4 * 40 * 200);
    });
}
