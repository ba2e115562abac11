//! Waits on per-OS-thread state between green threads after `patch_all()`, on TWO workers:
//! `std::sync::mpsc` rendezvous, crossbeam-channel `bounded(0)`/`bounded(1)` and
//! `std::thread::park`/`unpark`. Every green thread on a worker shares that OS thread's parker,
//! so these waits block the worker (the kernel's wait), and the other worker, woken as it
//! blocks, takes the green threads queued behind it. Each exchange needs two OS threads, so on
//! one worker they deadlock (compensation with spare workers is not in place: see the Locks
//! docs). Every scenario runs under a watchdog and is repeated; a regression fails, never
//! hangs.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use greenshim::monkey;

const ROUNDS: u64 = 200;

#[test]
fn std_mpsc_rendezvous_ping_pong_between_green_threads() {
    let _serial = util::patched_one_at_a_time(2);
    let before = monkey::stats().futex().other_workers_woken;
    for _ in 0..5 {
        let sum = util::watchdog(Duration::from_secs(30), || {
            let (to_b, b_rx) = std::sync::mpsc::sync_channel::<u64>(0);
            let (to_a, a_rx) = std::sync::mpsc::sync_channel::<u64>(0);
            let a = greenshim::spawn(move || {
                let mut sum = 0;
                for i in 0..ROUNDS {
                    to_b.send(i).unwrap();
                    sum += a_rx.recv().unwrap();
                }
                sum
            });
            let b = greenshim::spawn(move || {
                for v in b_rx.iter() {
                    to_a.send(v * 2).unwrap();
                }
            });
            let sum = a.join().unwrap();
            b.join().unwrap();
            sum
        });
        assert_eq!(sum, ROUNDS * (ROUNDS - 1));
    }
    // The waits were the kernel's (thread-bound), and each woke the other worker.
    let stats = monkey::stats().futex();
    assert!(stats.thread_bound_waits > 0, "{stats:?}");
    assert!(stats.other_workers_woken > before, "{stats:?}");
}

#[test]
fn crossbeam_bounded_zero_and_one_exchanges() {
    let _serial = util::patched_one_at_a_time(2);
    for cap in [0usize, 1] {
        for _ in 0..5 {
            let got = util::watchdog(Duration::from_secs(30), move || {
                let (tx, rx) = crossbeam_channel::bounded::<u64>(cap);
                let (back_tx, back_rx) = crossbeam_channel::bounded::<u64>(cap);
                let producer = greenshim::spawn(move || {
                    let mut echoed = 0;
                    for i in 0..ROUNDS {
                        tx.send(i).unwrap();
                        echoed += back_rx.recv().unwrap();
                    }
                    echoed
                });
                let echo = greenshim::spawn(move || {
                    while let Ok(v) = rx.recv() {
                        back_tx.send(v + 1).unwrap();
                    }
                });
                let echoed = producer.join().unwrap();
                echo.join().unwrap();
                echoed
            });
            assert_eq!(got, ROUNDS * (ROUNDS + 1) / 2, "capacity {cap}");
        }
    }
}

#[test]
fn std_thread_park_and_unpark_between_green_threads() {
    let _serial = util::patched_one_at_a_time(2);
    for _ in 0..5 {
        let done = util::watchdog(Duration::from_secs(30), || {
            let flag = Arc::new(AtomicBool::new(false));
            let (tx, rx) = std::sync::mpsc::channel();
            let parker = {
                let flag = flag.clone();
                greenshim::spawn(move || {
                    tx.send(std::thread::current()).unwrap();
                    while !flag.load(Ordering::SeqCst) {
                        std::thread::park();
                    }
                    true
                })
            };
            let unparker = greenshim::spawn(move || {
                let t = rx.recv().unwrap();
                std::thread::sleep(Duration::from_millis(5));
                flag.store(true, Ordering::SeqCst);
                t.unpark();
            });
            unparker.join().unwrap();
            parker.join().unwrap()
        });
        assert!(done);
    }
}

/// A green thread takes its worker's thread handle (as crossbeam-channel and std's `mpsc`
/// register the waiting thread's), then moves to the other worker and waits in
/// `thread::park` for an unpark sent to that handle, which reaches the first worker's parker.
/// The wait ends after the parker slice (50 ms) instead of never.
#[test]
fn a_park_whose_unpark_went_to_the_previous_worker_ends() {
    let _serial = util::patched_one_at_a_time(2);
    let before = monkey::stats().futex().parker_slices;
    util::watchdog(Duration::from_secs(30), || {
        let go = Arc::new(AtomicBool::new(false));
        let parked = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let (go, parked) = (go.clone(), parked.clone());
            greenshim::spawn(move || {
                let registered = std::thread::current();
                tx.send(registered.clone()).unwrap();
                let deadline = std::time::Instant::now() + Duration::from_secs(10);
                while std::thread::current().id() == registered.id() {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "never resumed on the other worker"
                    );
                    greenshim::sleep(Duration::from_millis(1));
                }
                parked.store(true, Ordering::SeqCst);
                while !go.load(Ordering::SeqCst) {
                    std::thread::park();
                }
            })
        };
        let registered: std::thread::Thread = rx.recv().unwrap();
        util::eventually(Duration::from_secs(10), "the waiter moved", || {
            parked.load(Ordering::SeqCst)
        });
        std::thread::sleep(Duration::from_millis(20));
        go.store(true, Ordering::SeqCst);
        registered.unpark();
        waiter.join().unwrap();
    });
    let stats = monkey::stats().futex();
    assert!(stats.parker_slices > before, "{stats:?}");
}
