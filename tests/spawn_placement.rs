//! Where a new green thread starts, on TWO workers, after `patch_all()`: never in a queue that
//! only a busy or blocked worker drains. may's own `spawn` puts every new coroutine on a
//! worker's *global* queue, which no other worker can steal from: a green thread spawned behind
//! a worker that a thread-bound wait blocks (the wait it would end) never started, and one
//! spawned behind a computing worker waited for the computation. Every scenario runs under a
//! watchdog and is repeated, so that each worker is the busy one in turn.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use greenshim::monkey;

const ROUNDS: usize = 8;

/// A green thread blocks its worker in `std::thread::park` (a thread-bound wait) until a green
/// thread spawned afterwards from a plain thread unparks it; 0 or 1 other spawns in between
/// deal the second one to either worker under a round robin.
#[test]
fn spawned_from_a_plain_thread_behind_a_blocked_worker_starts() {
    let _serial = util::patched_one_at_a_time(2);
    for round in 0..ROUNDS {
        util::watchdog(Duration::from_secs(30), move || {
            let (tx, rx) = std::sync::mpsc::channel::<std::thread::Thread>();
            let go = Arc::new(AtomicBool::new(false));
            let before = monkey::stats().futex().thread_bound_waits;
            let parked = {
                let go = go.clone();
                greenshim::spawn(move || {
                    tx.send(std::thread::current()).unwrap();
                    while !go.load(Ordering::SeqCst) {
                        std::thread::park();
                    }
                })
            };
            let worker = rx.recv().unwrap();
            util::eventually(Duration::from_secs(10), "the park blocks a worker", || {
                monkey::stats().futex().thread_bound_waits > before
            });
            for _ in 0..round % 2 {
                greenshim::spawn(|| ()).join().unwrap();
            }
            let unparker = greenshim::spawn(move || {
                go.store(true, Ordering::SeqCst);
                worker.unpark();
            });
            unparker.join().unwrap();
            parked.join().unwrap();
        });
    }
}

/// The same from a green thread: it spawns the green thread that will unpark it, then blocks
/// its own worker in `std::thread::park`. The spawns in between (not joined: the spawner must
/// not park) deal the new green thread to either worker under a round robin.
#[test]
fn spawned_from_a_green_thread_that_then_blocks_its_worker_starts() {
    let _serial = util::patched_one_at_a_time(2);
    for round in 0..ROUNDS {
        util::watchdog(Duration::from_secs(30), move || {
            greenshim::spawn(move || {
                for _ in 0..round % 2 {
                    greenshim::spawn(|| ());
                }
                let go = Arc::new(AtomicBool::new(false));
                let me = std::thread::current();
                let unparker = {
                    let go = go.clone();
                    greenshim::spawn(move || {
                        go.store(true, Ordering::SeqCst);
                        me.unpark();
                    })
                };
                while !go.load(Ordering::SeqCst) {
                    std::thread::park();
                }
                unparker.join().unwrap();
            })
            .join()
            .unwrap();
        });
    }
}

/// A green thread computes without parking until `n` green threads spawned meanwhile have
/// started (or 10 s pass): they start on the other worker instead of waiting for it. `spawn`
/// says where they are spawned from.
fn spawned_beside_a_computing_green_thread(spawn: impl Fn(Box<dyn FnOnce() + Send>)) {
    const N: usize = 8;
    let started = Arc::new(AtomicUsize::new(0));
    let computing = Arc::new(AtomicBool::new(false));
    let spinner = {
        let (started, computing) = (started.clone(), computing.clone());
        greenshim::spawn(move || {
            computing.store(true, Ordering::SeqCst);
            let deadline = Instant::now() + Duration::from_secs(10);
            while started.load(Ordering::SeqCst) < N && Instant::now() < deadline {
                std::hint::spin_loop();
            }
            started.load(Ordering::SeqCst)
        })
    };
    util::eventually(Duration::from_secs(10), "the spinner runs", || {
        computing.load(Ordering::SeqCst)
    });
    for _ in 0..N {
        let started = started.clone();
        spawn(Box::new(move || {
            started.fetch_add(1, Ordering::SeqCst);
        }));
    }
    let seen = spinner.join().unwrap();
    assert_eq!(
        seen, N,
        "green threads spawned beside a computing one did not start"
    );
}

#[test]
fn spawned_from_a_plain_thread_beside_a_computing_worker_start() {
    let _serial = util::patched_one_at_a_time(2);
    for _ in 0..ROUNDS {
        util::watchdog(Duration::from_secs(30), || {
            spawned_beside_a_computing_green_thread(|f| {
                greenshim::spawn(f);
            });
        });
    }
}

/// A green thread spawns another and then computes until it has run: the new one does not wait
/// in its spawner's queue (the other worker is woken to take it). Rounds as above.
#[test]
fn spawned_by_a_computing_green_thread_starts_on_the_other_worker() {
    let _serial = util::patched_one_at_a_time(2);
    for round in 0..ROUNDS {
        let ran = util::watchdog(Duration::from_secs(30), move || {
            greenshim::spawn(move || {
                for _ in 0..round % 2 {
                    greenshim::spawn(|| ());
                }
                let ran = Arc::new(AtomicBool::new(false));
                let child = {
                    let ran = ran.clone();
                    greenshim::spawn(move || ran.store(true, Ordering::SeqCst))
                };
                let deadline = Instant::now() + Duration::from_secs(10);
                while !ran.load(Ordering::SeqCst) && Instant::now() < deadline {
                    std::hint::spin_loop();
                }
                child.join().unwrap();
                ran.load(Ordering::SeqCst)
            })
            .join()
            .unwrap()
        });
        assert!(
            ran,
            "a spawned green thread waited behind its computing spawner"
        );
    }
}
