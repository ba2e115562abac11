//! The monkey patch's Locks family for C code on ONE worker: `pthread_mutex_*`,
//! `pthread_cond_*`, `pthread_rwlock_*` and `sem_*` called by C (the fixture crate
//! `tests/legacy-c`, built with FORTIFY) park green threads instead of blocking the worker.
//! Each C facility belongs to one test (its state is global); every scenario runs under a
//! watchdog, so a deadlock fails instead of hanging.

mod util;

use std::sync::Once;
use std::time::{Duration, Instant};

use greenshim::monkey::{self, Family};
use greenshim_legacy_c::locks;

fn patched() {
    static PATCH: Once = Once::new();
    util::workers(1);
    PATCH.call_once(|| monkey::patch_all().expect("patch before any spawn"));
    assert!(monkey::is_patched(Family::Locks));
    assert!(
        greenshim_shim::interpose::pthread::supported(),
        "glibc's lock layout self-test failed"
    );
}

fn spawn_all<T: Send + 'static>(
    n: usize,
    f: impl Fn(usize) -> T + Send + Sync + Clone + 'static,
) -> Vec<T> {
    let gs: Vec<_> = (0..n)
        .map(|i| {
            let f = f.clone();
            greenshim::spawn(move || f(i))
        })
        .collect();
    gs.into_iter().map(|g| g.join().unwrap()).collect()
}

#[test]
fn c_store_mutex_held_across_sleep_and_file_write() {
    patched();
    let path = std::env::temp_dir().join(format!("greenshim-c-store-{}", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let coop = monkey::stats().family(Family::Locks).cooperative;

    // 50 green threads hold the store's pthread mutex across a nanosleep and a write: a
    // blocked worker would deadlock at the second one.
    let (results, ticks) = util::watchdog(Duration::from_secs(30), move || {
        let ticker = util::Ticker::start();
        let results = spawn_all(50, move |_| locks::store_put(fd, 3));
        (results, ticker.stop())
    });
    assert!(results.iter().all(|&r| r == 0), "{results:?}");
    assert_eq!(locks::store_state(), (50, 0), "(counter, violations)");
    assert!(ticks > 0, "the ticker never ran");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 50);
    assert!(monkey::stats().family(Family::Locks).cooperative > coop);

    // A plain thread holds it for 300 ms while 20 green threads wait and a ticker ticks.
    let (results, ticks, waited) = util::watchdog(Duration::from_secs(30), || {
        let plain = std::thread::spawn(|| locks::store_put(-1, 300));
        std::thread::sleep(Duration::from_millis(50));
        let ticker = util::Ticker::start();
        let start = Instant::now();
        let mut results = spawn_all(20, |_| locks::store_put(-1, 0));
        let waited = start.elapsed();
        let ticks = ticker.stop();
        results.push(plain.join().unwrap());
        (results, ticks, waited)
    });
    assert!(results.iter().all(|&r| r == 0), "{results:?}");
    assert_eq!(locks::store_state(), (71, 0), "(counter, violations)");
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    // ~250 ms of 1 ms sleeps while every green waiter waited: far more than a blocked worker's 0.
    assert!(
        ticks >= 25,
        "ticker ticked {ticks} times: the waiters blocked the worker"
    );
    std::fs::remove_file(&path).ok();
}

#[test]
fn c_queue_on_mutex_and_condition_variables() {
    patched();
    let (mut got, timed_out, ticks, waited) = util::watchdog(Duration::from_secs(30), || {
        let producers: Vec<_> = (0..4i64)
            .map(|p| {
                greenshim::spawn(move || {
                    for i in 0..50 {
                        assert_eq!(locks::queue_put(p * 1000 + i), 0);
                    }
                })
            })
            .collect();
        let got = spawn_all(4, |_| {
            (0..50)
                .map(|_| locks::queue_get(10_000).unwrap())
                .collect::<Vec<_>>()
        });
        for p in producers {
            p.join().unwrap();
        }
        // An empty queue: the timed wait times out while the ticker keeps ticking.
        let ticker = util::Ticker::start();
        let start = Instant::now();
        let timed_out = greenshim::spawn(|| locks::queue_get(300)).join().unwrap();
        let waited = start.elapsed();
        (got.concat(), timed_out, ticker.stop(), waited)
    });
    got.sort_unstable();
    let want: Vec<i64> = (0..4)
        .flat_map(|p| (0..50).map(move |i| p * 1000 + i))
        .collect();
    assert_eq!(got, want);
    assert_eq!(timed_out, Err(libc::ETIMEDOUT));
    assert!(waited >= Duration::from_millis(290), "{waited:?}");
    assert!(
        ticks >= 30,
        "ticker ticked {ticks} times during a 300 ms wait"
    );
}

#[test]
fn c_recursive_and_error_checking_mutexes_follow_their_green_owner() {
    patched();
    let results = util::watchdog(Duration::from_secs(30), || {
        spawn_all(20, |_| locks::recursive(3))
    });
    assert!(results.iter().all(|&r| r == 0), "{results:?}");
    // Green threads of one worker share its kernel thread id: without greenshim's owner record
    // the second would take the recursive mutex as its own.
    assert_eq!(locks::recursive_violations(), 0);

    let (a, b) = util::watchdog(Duration::from_secs(30), || {
        let a = greenshim::spawn(|| {
            let first = locks::errorcheck_lock();
            let relock = locks::errorcheck_lock();
            std::thread::sleep(Duration::from_millis(100));
            (first, relock, locks::errorcheck_unlock())
        });
        let b = greenshim::spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            let foreign_unlock = locks::errorcheck_unlock();
            let start = Instant::now();
            let lock = locks::errorcheck_lock();
            let waited = start.elapsed();
            (foreign_unlock, lock, waited, locks::errorcheck_unlock())
        });
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(
        a,
        (0, libc::EDEADLK, 0),
        "(lock, relock, unlock) of the owner"
    );
    assert_eq!(
        b.0,
        libc::EPERM,
        "unlock by a green thread that does not own it"
    );
    assert_eq!(
        (b.1, b.3),
        (0, 0),
        "(lock, unlock) after the owner released it"
    );
    assert!(
        b.2 >= Duration::from_millis(50),
        "took it while owned: {:?}",
        b.2
    );
}

#[test]
fn c_rwlock_readers_share_and_writers_exclude() {
    patched();
    let results = util::watchdog(Duration::from_secs(30), || {
        spawn_all(16, |i| {
            locks::rw(i % 4 == 0, if i % 4 == 0 { 5 } else { 20 })
        })
    });
    assert!(results.iter().all(|&r| r == 0), "{results:?}");
    let (violations, max_readers) = locks::rw_state();
    assert_eq!(violations, 0);
    assert!(max_readers >= 2, "readers never overlapped: {max_readers}");
}

#[test]
fn c_semaphore_bounds_its_green_holders() {
    patched();
    assert_eq!(locks::sem_init(3), 0);
    let results = util::watchdog(Duration::from_secs(30), || {
        spawn_all(20, |_| locks::sem_use(10))
    });
    assert!(results.iter().all(|&r| r == 0), "{results:?}");
    assert_eq!(locks::sem_max(), 3, "at most 3 holders, and 3 reached");
}
