//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::Once;
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
