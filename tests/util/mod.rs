//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

/// Runs every green thread of this test binary on `workers` worker threads. Must be called
/// before the first spawn in the binary; later calls with the same value are no-ops.
pub fn workers(n: usize) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        greenshim::runtime::Config::new()
            .workers(n)
            .apply()
            .expect("configure runtime")
    });
    assert_eq!(
        greenshim::runtime::settings().workers,
        n,
        "runtime started with another worker count"
    );
}

/// Polls `cond` every millisecond until it holds, panicking after `limit` (a generous bound
/// for a condition that should become true promptly).
pub fn eventually(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "{what}: not true after {limit:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Green parks counted so far.
pub fn green_parks() -> u64 {
    greenshim::runtime::park_stats().green_parks
}

/// Runs `f` on a plain thread and fails if it has not finished within `limit`: a deadlock
/// becomes a test failure instead of a hung run.
pub fn watchdog<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()).ok());
    rx.recv_timeout(limit).unwrap_or_else(|e| {
        panic!(
            "deadlock or hang: not finished within {limit:?} ({e}); {:?}\n{}",
            greenshim::monkey::stats().futex(),
            greenshim::run_info()
        )
    })
}

/// A green thread that counts a tick after every 1 ms `std::thread::sleep` (patched: a park):
/// if it keeps ticking while other green threads of its worker wait, their waits parked
/// instead of blocking the worker.
pub struct Ticker {
    ticks: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    green: greenshim::Greenlet<()>,
}

impl Ticker {
    /// Starts ticking.
    pub fn start() -> Ticker {
        let ticks = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (ticks.clone(), stop.clone());
        let green = greenshim::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(1));
                t.fetch_add(1, Ordering::SeqCst);
            }
        });
        Ticker { ticks, stop, green }
    }

    /// Stops the ticker and returns how many times it ticked.
    pub fn stop(self) -> u64 {
        let n = self.ticks.load(Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
        self.green.join().unwrap();
        n
    }
}
