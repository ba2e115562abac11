//! Waiting on `greenshim::sync` parks the green thread: on ONE worker, green threads that
//! contend for locks and channels never deadlock it, plain threads and green threads share the
//! same objects, and kills and timeouts reach green threads parked on every primitive.

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use greenshim::sync::{
    Arc, Barrier, Condvar, Mutex, Once, OnceLock, RwLock, RwLockWriteGuard, mpsc,
};
use greenshim::{Greenlet, Timeout};

#[test]
fn a_thousand_green_threads_share_one_mutex_held_across_parks() {
    util::workers(1);
    let parks = util::green_parks();
    let m = Arc::new(Mutex::new(0u64));
    let gs: Vec<_> = (0..1000)
        .map(|_| {
            let m = m.clone();
            greenshim::spawn(move || {
                for _ in 0..3 {
                    let mut g = m.lock().unwrap();
                    let v = *g;
                    // Parking with the lock held: with std's mutex the next locker on this one
                    // worker would block it for good.
                    greenshim::sleep(Duration::from_micros(10));
                    *g = v + 1;
                }
            })
        })
        .collect();
    for r in greenshim::joinall(gs) {
        r.unwrap();
    }
    assert_eq!(*m.lock().unwrap(), 3000);
    assert!(
        util::green_parks() - parks >= 3000,
        "lockers parked instead of spinning"
    );
}

#[test]
fn green_waits_overlap_on_one_worker() {
    util::workers(1);
    let cv = Arc::new((Mutex::new(()), Condvar::new()));
    let start = Instant::now();
    let gs: Vec<_> = (0..50)
        .map(|i| {
            let cv = cv.clone();
            greenshim::spawn(move || {
                if i % 2 == 0 {
                    let (m, c) = &*cv;
                    let (_g, r) = c
                        .wait_timeout(m.lock().unwrap(), Duration::from_millis(200))
                        .unwrap();
                    assert!(r.timed_out());
                } else {
                    let (_tx, rx) = mpsc::channel::<()>();
                    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
                }
            })
        })
        .collect();
    for r in greenshim::joinall(gs) {
        r.unwrap();
    }
    // 50 waits of 200 ms each, overlapped on one worker: far below 10 s.
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn plain_and_green_threads_share_channels_and_locks() {
    util::workers(1);
    // Green senders, a plain-thread receiver.
    let (tx, rx) = mpsc::sync_channel::<u32>(4);
    let senders: Vec<_> = (0..20)
        .map(|i| {
            let tx = tx.clone();
            greenshim::spawn(move || tx.send(i).unwrap())
        })
        .collect();
    drop(tx);
    let plain = std::thread::spawn(move || rx.iter().sum::<u32>());
    for r in greenshim::joinall(senders) {
        r.unwrap();
    }
    assert_eq!(plain.join().unwrap(), (0..20).sum());

    // A plain-thread sender, green receivers on a shared receiver.
    let (tx, rx) = mpsc::channel::<u32>();
    let got = Arc::new(AtomicUsize::new(0));
    let receiver = {
        let got = got.clone();
        greenshim::spawn(move || {
            for _ in rx.iter() {
                got.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let plain = std::thread::spawn(move || {
        for i in 0..100 {
            tx.send(i).unwrap();
        }
    });
    plain.join().unwrap();
    receiver.join().unwrap();
    assert_eq!(got.load(Ordering::SeqCst), 100);

    // A plain thread waits for a mutex that a parked green thread holds.
    let m = Arc::new(Mutex::new(0));
    let (locked_tx, locked_rx) = mpsc::channel();
    let holder = {
        let m = m.clone();
        greenshim::spawn(move || {
            let mut g = m.lock().unwrap();
            locked_tx.send(()).unwrap();
            greenshim::sleep(Duration::from_millis(50));
            *g += 1;
        })
    };
    locked_rx.recv().unwrap();
    let m2 = m.clone();
    let plain = std::thread::spawn(move || {
        *m2.lock().unwrap() += 10;
    });
    plain.join().unwrap();
    holder.join().unwrap();
    assert_eq!(*m.lock().unwrap(), 11);
}

#[test]
fn a_plain_thread_and_green_threads_wait_on_one_condvar() {
    util::workers(1);
    let state = Arc::new((Mutex::new(false), Condvar::new()));
    let waiting = Arc::new(AtomicUsize::new(0));
    let spawn_waiter = |green: bool| {
        let (state, waiting) = (state.clone(), waiting.clone());
        let f = move || {
            let (m, c) = &*state;
            let g = m.lock().unwrap();
            waiting.fetch_add(1, Ordering::SeqCst);
            let _g = c.wait_while(g, |go| !*go).unwrap();
        };
        if green {
            let g = greenshim::spawn(f);
            Box::new(move || g.join().unwrap()) as Box<dyn FnOnce()>
        } else {
            let h = std::thread::spawn(f);
            Box::new(move || h.join().unwrap())
        }
    };
    let joins: Vec<_> = [true, false, true, true, false]
        .into_iter()
        .map(spawn_waiter)
        .collect();
    util::eventually(Duration::from_secs(5), "all waiting", || {
        waiting.load(Ordering::SeqCst) == 5
    });
    *state.0.lock().unwrap() = true;
    state.1.notify_all();
    joins.into_iter().for_each(|j| j());
}

/// Spawns `f` (which parks on some primitive), waits until it has parked, then kills it and
/// checks that it died of the kill promptly.
fn killed_while_parked<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) {
    let g = greenshim::spawn(f);
    wait_parked(what, &g);
    let start = Instant::now();
    g.kill();
    let Ok(r) = g.join_timeout(Duration::from_secs(5)) else {
        panic!("{what}: the kill did not end the wait");
    };
    assert!(matches!(&r, Err(e) if e.is_killed()), "{what}: not killed");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{what}: kill took {:?}",
        start.elapsed()
    );
}

/// Bounded wait until the green thread is parked (as run info shows it) and stays unfinished.
/// (Counting parks from after the spawn missed a green thread that had already parked.)
fn wait_parked<T>(what: &str, g: &Greenlet<T>) {
    let parked = || {
        greenshim::run_info()
            .green_threads
            .iter()
            .any(|t| t.id == g.id() && t.state == greenshim::monitor::State::Parked)
    };
    util::eventually(Duration::from_secs(5), "parked", || {
        parked() || g.is_finished()
    });
    greenshim::sleep(Duration::from_millis(20));
    assert!(!g.is_finished(), "{what}: it should still be waiting");
}

#[test]
fn kill_reaches_green_threads_parked_on_every_std_mirror() {
    util::workers(1);
    let m = Arc::new(Mutex::new(0));
    let guard = m.lock().unwrap();
    let m2 = m.clone();
    killed_while_parked("Mutex::lock", move || *m2.lock().unwrap() += 1);
    drop(guard);
    assert!(
        !m.is_poisoned(),
        "a waiter that never held it poisons nothing"
    );
    *m.lock().unwrap() += 1;

    let l = Arc::new(RwLock::new(0));
    let w = l.write().unwrap();
    let l2 = l.clone();
    killed_while_parked("RwLock::read", move || *l2.read().unwrap());
    drop(w);
    let r = l.read().unwrap();
    let l2 = l.clone();
    killed_while_parked("RwLock::write", move || *l2.write().unwrap() += 1);
    drop(r);
    // A writer that left the queue no longer holds readers back.
    assert!(l.try_read().is_ok());
    assert!(l.try_write().is_ok());

    let pair = Arc::new((Mutex::new(()), Condvar::new()));
    let p = pair.clone();
    killed_while_parked("Condvar::wait", move || {
        let g = p.0.lock().unwrap();
        let _g = p.1.wait(g).unwrap();
    });
    assert!(
        pair.0.try_lock().is_ok(),
        "the mutex was released, not kept"
    );
    assert!(!pair.0.is_poisoned());

    let b = Arc::new(Barrier::new(2));
    let b2 = b.clone();
    killed_while_parked("Barrier::wait", move || b2.wait().is_leader());
    // The killed waiter no longer counts: two fresh arrivals are needed.
    let b3 = b.clone();
    let other = greenshim::spawn(move || b3.wait().is_leader());
    let me = b.wait().is_leader();
    assert!(me ^ other.join().unwrap());

    let once = Arc::new(Once::new());
    let (started_tx, started_rx) = mpsc::channel();
    let (finish_tx, finish_rx) = mpsc::channel::<()>();
    let o = once.clone();
    let init = greenshim::spawn(move || {
        o.call_once(|| {
            started_tx.send(()).unwrap();
            // The initializer runs until the test lets it finish.
            finish_rx.recv().unwrap();
        })
    });
    started_rx.recv().unwrap();
    let o = once.clone();
    killed_while_parked("Once::call_once (waiting)", move || o.call_once(|| {}));
    finish_tx.send(()).unwrap();
    init.join().unwrap();
    assert!(once.is_completed());

    let cell = Arc::new(OnceLock::<u8>::new());
    let c = cell.clone();
    killed_while_parked("OnceLock::wait", move || *c.wait());
    assert_eq!(cell.set(1), Ok(()));

    let (tx, rx) = mpsc::channel::<u8>();
    killed_while_parked("Receiver::recv", move || rx.recv());
    assert!(tx.send(1).is_err(), "the killed receiver was dropped");

    let (tx, rx) = mpsc::sync_channel::<u8>(0);
    killed_while_parked("SyncSender::send", move || tx.send(7));
    assert!(rx.recv().is_err(), "the value went down with its sender");
}

#[test]
fn timeout_cuts_waits_on_green_and_plain_threads() {
    util::workers(1);
    let m = Arc::new(Mutex::new(()));
    let _held = m.lock().unwrap();
    for green in [true, false] {
        let (m, tx_keep) = (m.clone(), mpsc::channel::<u8>());
        let f = move || {
            let start = Instant::now();
            let r1 = Timeout::new(Duration::from_millis(50)).run(|| drop(m.lock()));
            let r2 = Timeout::new(Duration::from_millis(50)).run(|| tx_keep.1.recv());
            (r1.is_err(), r2.is_err(), start.elapsed())
        };
        let (a, b, took) = if green {
            greenshim::spawn(f).join().unwrap()
        } else {
            std::thread::spawn(f).join().unwrap()
        };
        assert!(a && b, "green={green}: both waits timed out");
        assert!(took < Duration::from_secs(2), "green={green}: {took:?}");
    }
}

#[test]
fn downgrade_keeps_writers_out_and_lets_waiting_readers_in() {
    util::workers(1);
    // (std has `downgrade` since 1.92, above this crate's MSRV, so it is not in sync_parity.)
    let l = Arc::new(RwLock::new(1));
    let mut w = l.write().unwrap();
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let l = l.clone();
            greenshim::spawn(move || *l.read().unwrap())
        })
        .collect();
    greenshim::sleep(Duration::from_millis(20));
    *w = 2;
    let r = RwLockWriteGuard::downgrade(w);
    assert!(matches!(
        l.try_write(),
        Err(greenshim::sync::TryLockError::WouldBlock)
    ));
    let seen: Vec<i32> = greenshim::joinall(readers)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        seen,
        [2, 2, 2],
        "readers ran while the downgraded guard was held"
    );
    assert_eq!(*r, 2);
    drop(r);
    assert!(l.try_write().is_ok());
}

/// std's `once_lock` test shape: a green thread spins on `get` until another publishes. On one
/// worker the publisher only runs because the spinner's budget runs out and it yields.
#[test]
fn spinning_on_once_lock_get_lets_the_publisher_run() {
    util::workers(1);
    let yields = greenshim::runtime::park_stats().budget_yields;
    let got = util::watchdog(Duration::from_secs(20), || {
        let cell = Arc::new(greenshim::sync::OnceLock::new());
        let c = cell.clone();
        let spinner = greenshim::spawn(move || {
            while c.get().is_none() {}
            *c.get().unwrap()
        });
        let publisher = greenshim::spawn(move || cell.set(92).unwrap());
        publisher.join().unwrap();
        spinner.join().unwrap()
    });
    assert_eq!(got, 92);
    assert!(greenshim::runtime::park_stats().budget_yields > yields);
}

/// `while tx.send(x).is_ok() {}` on an unbounded channel: the receiver it wakes runs, takes
/// what it wants and hangs up, which ends the loop.
#[test]
fn a_send_loop_does_not_starve_its_receiver() {
    util::workers(1);
    let (sent, got) = util::watchdog(Duration::from_secs(20), || {
        let (tx, rx) = greenshim::sync::mpsc::channel::<u64>();
        let receiver = greenshim::spawn(move || rx.iter().take(1000).sum::<u64>());
        let sender = greenshim::spawn(move || {
            let mut n = 0u64;
            while tx.send(1).is_ok() {
                n += 1;
            }
            n
        });
        let got = receiver.join().unwrap();
        (sender.join().unwrap(), got)
    });
    assert_eq!(got, 1000);
    assert!(sent >= 1000, "{sent}");
}
