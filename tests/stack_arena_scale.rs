//! 200 000 live green threads, each parked with a deadline (a timer entry, as a sleep), at
//! Linux's default
//! `vm.max_map_count` of 65 530: one kernel mapping per stack would need 400 000. The test
//! sets the limit when it can (root) and restores it; it says so and skips when it cannot.
//! Its own binary: it changes a machine-wide limit.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use greenshim::runtime::{self, StackMode};
use greenshim_shim::sys;

const DEFAULT_MAX_MAP_COUNT: usize = 65_530;

/// Restores `vm.max_map_count` when dropped.
struct Restore(usize);

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = std::fs::write("/proc/sys/vm/max_map_count", self.0.to_string());
    }
}

#[test]
fn two_hundred_thousand_sleepers_at_the_default_mapping_limit() {
    util::workers(2);
    let original = sys::max_map_count().expect("vm.max_map_count readable");
    let _restore = Restore(original);
    if original != DEFAULT_MAX_MAP_COUNT
        && std::fs::write(
            "/proc/sys/vm/max_map_count",
            DEFAULT_MAX_MAP_COUNT.to_string(),
        )
        .is_err()
    {
        eprintln!(
            "skipped: vm.max_map_count is {original} and cannot be set to {DEFAULT_MAX_MAP_COUNT} \
             (needs root)"
        );
        return;
    }
    runtime::start().expect("runtime starts");
    if runtime::stack_mode() != StackMode::Arena {
        eprintln!("skipped: stacks are {:?} here", runtime::stack_mode());
        return;
    }
    assert_eq!(sys::max_map_count().unwrap(), DEFAULT_MAX_MAP_COUNT);
    let n = 200_000;
    let (live_peak, maps_peak) = util::watchdog(Duration::from_secs(120), move || {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        static FINISHED: AtomicUsize = AtomicUsize::new(0);
        // Released once all have started, so that they overlap however long spawning takes
        // (a fixed sleep made the count depend on the machine's speed).
        let go = Arc::new(greenshim::Event::new());
        let hs: Vec<_> = (0..n)
            .map(|i| {
                let go = go.clone();
                greenshim::spawn(move || {
                    STARTED.fetch_add(1, Ordering::Relaxed);
                    assert!(go.wait_timeout(Duration::from_secs(100)), "never released");
                    FINISHED.fetch_add(1, Ordering::Relaxed);
                    i * 3
                })
            })
            .collect();
        util::eventually(
            Duration::from_secs(60),
            "every green thread started",
            || STARTED.load(Ordering::Relaxed) == n,
        );
        let live = n - FINISHED.load(Ordering::Relaxed);
        let maps = sys::current_map_count().unwrap();
        go.set();
        for (i, h) in hs.into_iter().enumerate() {
            assert_eq!(h.join().expect("green thread ends"), i * 3);
        }
        (live, maps)
    });
    eprintln!("{live_peak} green threads alive at once; {maps_peak} mappings");
    assert_eq!(live_peak, n, "not all alive at once");
    assert!(
        maps_peak < DEFAULT_MAX_MAP_COUNT / 4,
        "{maps_peak} mappings"
    );
}
