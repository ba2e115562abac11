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

/// Runs the binary's green threads on `workers` workers with `patch_all()` applied, and holds
/// the binary's one lock until the guard is dropped: for tests that count process-wide or need
/// every worker, one at a time.
pub fn patched_one_at_a_time(workers: usize) -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    static PATCH: Once = Once::new();
    let serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    self::workers(workers);
    PATCH.call_once(|| greenshim::monkey::patch_all().expect("patch before any spawn"));
    assert!(greenshim::monkey::is_patched(
        greenshim::monkey::Family::Locks
    ));
    serial
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

/// Sets this process's soft limit on open fds to `n` (at most the hard limit); returns the old
/// soft limit.
pub fn set_fd_limit(n: libc::rlim_t) -> libc::rlim_t {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read or write one rlimit through a pointer to a live local.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut lim), 0);
        let old = lim.rlim_cur;
        lim.rlim_cur = n.min(lim.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &raw const lim), 0);
        old
    }
}

/// Opens `/dev/null` until the fd limit is reached (checked: the last open fails with
/// `EMFILE`); dropping the result frees them again.
pub fn use_up_fds() -> Vec<std::fs::File> {
    let mut hog = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => hog.push(f),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EMFILE));
                return hog;
            }
        }
    }
}

/// Spawns green threads that sleep for an hour until spawning fails (more than `limit` spawns
/// fail the test), then checks that the error is `OutOfMemory` naming `needle`, and that the
/// infallible `spawn` panics with it too. Returns the parked green threads.
pub fn spawn_until_out_of_stacks(limit: usize, needle: &str) -> Vec<greenshim::Greenlet<()>> {
    let mut parked = Vec::with_capacity(limit);
    let err = loop {
        match greenshim::Builder::new().spawn(|| greenshim::sleep(Duration::from_secs(3600))) {
            Ok(h) => parked.push(h),
            Err(e) => break e,
        }
        assert!(
            parked.len() <= limit,
            "no error after {} spawns",
            parked.len()
        );
    };
    assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory);
    let msg = err.to_string();
    assert!(msg.contains(needle), "{msg}");
    let panic = std::panic::catch_unwind(|| greenshim::spawn(|| ())).unwrap_err();
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains(needle), "{text}");
    parked
}

/// Kills `parked`, waits until their stacks are released, and checks that spawning works again.
pub fn release_and_spawn_again(parked: &[greenshim::Greenlet<()>]) {
    greenshim::killall(parked);
    eventually(Duration::from_secs(30), "stacks released", || {
        greenshim::live_count() < 10
    });
    assert_eq!(greenshim::spawn(|| 3).join().unwrap(), 3);
}
