//! The monkey patch's Locks family on ONE worker: std's futex-based locks (`Mutex`, `RwLock`,
//! `Condvar`, `OnceLock`, `LazyLock`) park the green thread instead of blocking the worker.
//! Every scenario runs under a watchdog, so a deadlock fails the test instead of hanging it.

mod util;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex, Once, OnceLock, RwLock};
use std::time::{Duration, Instant};

use greenshim::monkey::{self, Family};

fn patched() {
    static PATCH: Once = Once::new();
    util::workers(1);
    PATCH.call_once(|| monkey::patch_all().expect("patch before any spawn"));
    assert!(monkey::is_patched(Family::Locks));
}

fn green_futex_waits() -> u64 {
    monkey::stats().family(Family::Locks).cooperative
}

#[test]
fn std_mutex_held_across_a_patched_sleep_by_50_green_threads() {
    patched();
    let before = green_futex_waits();
    let (counter, elapsed) = util::watchdog(Duration::from_secs(20), || {
        let m = Arc::new(Mutex::new(0u64));
        let start = Instant::now();
        let gs: Vec<_> = (0..50)
            .map(|_| {
                let m = m.clone();
                greenshim::spawn(move || {
                    let mut g = m.lock().unwrap();
                    std::thread::sleep(Duration::from_millis(2));
                    *g += 1;
                })
            })
            .collect();
        for g in gs {
            g.join().unwrap();
        }
        (*m.lock().unwrap(), start.elapsed())
    });
    assert_eq!(counter, 50);
    // Serialised by the lock: at least 50 x 2 ms, and nowhere near a blocked worker's forever.
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    assert!(
        green_futex_waits() > before,
        "no futex wait took the green path"
    );
}

#[test]
fn rwlock_readers_and_writers_across_parks() {
    patched();
    let (value, max_readers) = util::watchdog(Duration::from_secs(20), || {
        let l = Arc::new(RwLock::new(0u64));
        let readers = Arc::new(AtomicUsize::new(0));
        let max_readers = Arc::new(AtomicUsize::new(0));
        let gs: Vec<_> = (0..40)
            .map(|i| {
                let (l, readers, max_readers) = (l.clone(), readers.clone(), max_readers.clone());
                greenshim::spawn(move || {
                    if i % 4 == 0 {
                        let mut w = l.write().unwrap();
                        std::thread::sleep(Duration::from_millis(3));
                        *w += 1;
                    } else {
                        let r = l.read().unwrap();
                        let now = readers.fetch_add(1, Ordering::SeqCst) + 1;
                        max_readers.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(3));
                        readers.fetch_sub(1, Ordering::SeqCst);
                        drop(r);
                    }
                })
            })
            .collect();
        for g in gs {
            g.join().unwrap();
        }
        let v = *l.read().unwrap();
        (v, max_readers.load(Ordering::SeqCst))
    });
    assert_eq!(value, 10);
    // Readers shared the lock while parked in their sleeps.
    assert!(max_readers > 1, "readers never overlapped");
}

#[test]
fn condvar_wait_timeout_parks_while_a_ticker_ticks() {
    patched();
    let (ticks, timed_out) = util::watchdog(Duration::from_secs(20), || {
        let ticker = util::Ticker::start();
        let waiter = greenshim::spawn(|| {
            let m = Mutex::new(());
            let cv = Condvar::new();
            let g = m.lock().unwrap();
            let (_g, r) = cv.wait_timeout(g, Duration::from_millis(300)).unwrap();
            r.timed_out()
        });
        let timed_out = waiter.join().unwrap();
        let n = ticker.stop();
        (n, timed_out)
    });
    assert!(timed_out);
    // 300 ms of 1 ms sleeps: well over 50 ticks if the wait parked, about 0 if it blocked.
    assert!(
        ticks >= 50,
        "the ticker ticked {ticks} times during the wait"
    );
}

#[test]
fn condvar_notify_between_green_threads() {
    patched();
    let got = util::watchdog(Duration::from_secs(20), || {
        let pair = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let consumers: Vec<_> = (0..10)
            .map(|_| {
                let pair = pair.clone();
                greenshim::spawn(move || {
                    let (m, cv) = &*pair;
                    let mut q = m.lock().unwrap();
                    loop {
                        if let Some(v) = q.pop() {
                            return v;
                        }
                        q = cv.wait(q).unwrap();
                    }
                })
            })
            .collect();
        let producer = {
            let pair = pair.clone();
            greenshim::spawn(move || {
                for i in 0..10u64 {
                    std::thread::sleep(Duration::from_millis(2));
                    pair.0.lock().unwrap().push(i);
                    pair.1.notify_one();
                }
            })
        };
        producer.join().unwrap();
        let mut got: Vec<u64> = consumers.into_iter().map(|c| c.join().unwrap()).collect();
        got.sort_unstable();
        got
    });
    assert_eq!(got, (0..10).collect::<Vec<_>>());
}

#[test]
fn once_lock_and_lazy_lock_initialised_by_a_green_thread_that_parks() {
    patched();
    static LAZY: LazyLock<u64> = LazyLock::new(|| {
        std::thread::sleep(Duration::from_millis(100));
        7
    });
    let (ticks, values) = util::watchdog(Duration::from_secs(20), || {
        let cell = Arc::new(OnceLock::new());
        let inits = Arc::new(AtomicUsize::new(0));
        let ticker = util::Ticker::start();
        let gs: Vec<_> = (0..20)
            .map(|_| {
                let (cell, inits) = (cell.clone(), inits.clone());
                greenshim::spawn(move || {
                    let v = *cell.get_or_init(|| {
                        inits.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(100));
                        42u64
                    });
                    v + *LAZY
                })
            })
            .collect();
        let values: Vec<u64> = gs.into_iter().map(|g| g.join().unwrap()).collect();
        let n = ticker.stop();
        assert_eq!(inits.load(Ordering::SeqCst), 1);
        (n, values)
    });
    assert!(values.iter().all(|v| *v == 49), "{values:?}");
    assert!(
        ticks >= 50,
        "the ticker ticked {ticks} times during 200 ms of init"
    );
}

#[test]
fn plain_thread_holds_a_std_mutex_while_20_green_waiters_park() {
    patched();
    let (ticks, total) = util::watchdog(Duration::from_secs(20), || {
        let m = Arc::new(Mutex::new(0u64));
        let held = Arc::new(AtomicBool::new(false));
        let holder = {
            let (m, held) = (m.clone(), held.clone());
            std::thread::spawn(move || {
                let mut g = m.lock().unwrap();
                held.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(300));
                *g += 100;
            })
        };
        while !held.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let ticker = util::Ticker::start();
        let gs: Vec<_> = (0..20)
            .map(|_| {
                let m = m.clone();
                greenshim::spawn(move || *m.lock().unwrap() += 1)
            })
            .collect();
        for g in gs {
            g.join().unwrap();
        }
        let n = ticker.stop();
        holder.join().unwrap();
        (n, *m.lock().unwrap())
    });
    assert_eq!(total, 120);
    assert!(
        ticks >= 50,
        "the ticker ticked {ticks} times while 20 waiters waited 300 ms"
    );
}

#[test]
fn mixed_green_and_plain_waiters_on_one_lock() {
    patched();
    let total = util::watchdog(Duration::from_secs(30), || {
        let m = Arc::new(Mutex::new(0u64));
        let greens: Vec<_> = (0..8)
            .map(|_| {
                let m = m.clone();
                greenshim::spawn(move || {
                    for i in 0..300 {
                        let mut g = m.lock().unwrap();
                        *g += 1;
                        if i % 50 == 0 {
                            std::thread::sleep(Duration::from_micros(200));
                        }
                    }
                })
            })
            .collect();
        let plains: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..300 {
                        *m.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        for g in greens {
            g.join().unwrap();
        }
        for p in plains {
            p.join().unwrap();
        }
        *m.lock().unwrap()
    });
    assert_eq!(total, 12 * 300);
}

#[test]
fn plain_threads_use_the_kernel_unchanged() {
    patched();
    // Plain threads only: the same stress gives the same result, and no green path is taken
    // for their waits.
    let m = Arc::new(Mutex::new(0u64));
    let cv = Arc::new(Condvar::new());
    let ts: Vec<_> = (0..4)
        .map(|_| {
            let (m, cv) = (m.clone(), cv.clone());
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    *m.lock().unwrap() += 1;
                    cv.notify_all();
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    assert_eq!(*m.lock().unwrap(), 8_000);
}
