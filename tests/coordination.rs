//! gevent's coordination types: Event, AsyncResult, Semaphore, BoundedSemaphore, the queues,
//! Channel, Group and Pool. Run on one worker, so every wait must park.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use greenshim::queue::{GetError, PutError};
use greenshim::semaphore::OverRelease;
use greenshim::{
    AsyncResult, BoundedSemaphore, Channel, Event, Greenlet, Group, LifoQueue, Pool, PriorityQueue,
    Queue, Semaphore,
};

/// Waits (bounded) until `n` green threads are parked on something, judged by `count`.
fn until(what: &str, mut cond: impl FnMut() -> bool) {
    util::eventually(Duration::from_secs(5), what, &mut cond);
}

fn kill_parked<T: Send + 'static>(what: &str, g: Greenlet<T>) {
    greenshim::sleep(Duration::from_millis(20));
    assert!(!g.is_finished(), "{what}: should be parked");
    g.kill();
    let Ok(r) = g.join_timeout(Duration::from_secs(5)) else {
        panic!("{what}: the kill did not end the wait");
    };
    assert!(matches!(r, Err(e) if e.is_killed()), "{what}");
}

#[test]
fn event_releases_every_waiter_and_times_out() {
    util::workers(1);
    let ev = Arc::new(Event::new());
    let woke = Arc::new(AtomicUsize::new(0));
    let gs: Vec<_> = (0..100)
        .map(|_| {
            let (ev, woke) = (ev.clone(), woke.clone());
            greenshim::spawn(move || {
                ev.wait();
                woke.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    greenshim::sleep(Duration::from_millis(20));
    assert_eq!(woke.load(Ordering::SeqCst), 0);
    assert!(!ev.is_set());
    ev.set();
    for r in greenshim::joinall(gs) {
        r.unwrap();
    }
    assert_eq!(woke.load(Ordering::SeqCst), 100);
    assert!(ev.wait_timeout(Duration::ZERO), "set: returns at once");
    ev.clear();
    let start = Instant::now();
    assert!(!ev.wait_timeout(Duration::from_millis(30)));
    assert!(start.elapsed() >= Duration::from_millis(30));
    // Set from a plain thread, waited on by a green thread.
    let e = ev.clone();
    let g = greenshim::spawn(move || e.wait_timeout(Duration::from_secs(5)));
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        ev.set();
    });
    assert!(g.join().unwrap());
    let ev = Arc::new(Event::new());
    let e = ev.clone();
    kill_parked("Event::wait", greenshim::spawn(move || e.wait()));
}

#[test]
fn async_result_delivers_a_value_or_an_error_once() {
    util::workers(1);
    let r: Arc<AsyncResult<String, String>> = Arc::new(AsyncResult::new());
    let readers: Vec<_> = (0..10)
        .map(|_| {
            let r = r.clone();
            greenshim::spawn(move || r.get().cloned().map_err(Clone::clone))
        })
        .collect();
    assert!(!r.ready());
    assert_eq!(r.try_get(), None);
    assert_eq!(r.get_timeout(Duration::from_millis(10)), None);
    r.set("done".into()).unwrap();
    assert_eq!(r.set("again".into()), Err("again".to_string()));
    assert_eq!(r.set_error("late".into()), Err("late".to_string()));
    for v in greenshim::joinall(readers) {
        assert_eq!(v.unwrap(), Ok("done".to_string()));
    }
    assert!(r.successful());
    let failed: AsyncResult<u8, String> = AsyncResult::new();
    failed.set_error("boom".into()).unwrap();
    assert_eq!(failed.get(), Err(&"boom".to_string()));
    assert!(failed.ready() && !failed.successful());
    assert_eq!(failed.into_inner(), Some(Err("boom".to_string())));
    let pending: Arc<AsyncResult<u8>> = Arc::new(AsyncResult::new());
    let p = pending.clone();
    kill_parked(
        "AsyncResult::get",
        greenshim::spawn(move || p.get().is_ok()),
    );
}

#[test]
fn semaphore_bounds_concurrency_and_serves_waiters_in_order() {
    util::workers(1);
    let sem = Arc::new(Semaphore::new(3));
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let gs: Vec<_> = (0..30)
        .map(|_| {
            let (sem, inside, peak) = (sem.clone(), inside.clone(), peak.clone());
            greenshim::spawn(move || {
                let _p = sem.acquire();
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                greenshim::sleep(Duration::from_millis(2));
                inside.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    for r in greenshim::joinall(gs) {
        r.unwrap();
    }
    assert_eq!(peak.load(Ordering::SeqCst), 3);
    assert_eq!(sem.available_permits(), 3);

    // FIFO: waiters get permits in the order they queued.
    let sem = Arc::new(Semaphore::new(0));
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut gs = Vec::new();
    for i in 0..5 {
        let (s, o) = (sem.clone(), order.clone());
        gs.push(greenshim::spawn(move || {
            s.acquire().forget();
            o.lock().unwrap().push(i);
        }));
        greenshim::sleep(Duration::from_millis(10)); // queue them one after another
    }
    assert!(sem.try_acquire().is_none());
    for _ in 0..5 {
        sem.release();
    }
    for r in greenshim::joinall(gs) {
        r.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4]);
    assert!(sem.acquire_timeout(Duration::from_millis(10)).is_none());

    let b = BoundedSemaphore::new(1);
    assert_eq!(b.release(), Err(OverRelease));
    b.acquire().forget();
    assert_eq!(b.available_permits(), 0);
    assert_eq!(b.release(), Ok(()));
    assert_eq!(b.release(), Err(OverRelease));
    assert_eq!(b.available_permits(), 1);

    let sem = Arc::new(Semaphore::new(0));
    let s = sem.clone();
    kill_parked(
        "Semaphore::acquire",
        greenshim::spawn(move || s.acquire().forget()),
    );
    // The killed waiter took nothing.
    sem.release();
    assert!(sem.try_acquire().is_some());
}

#[test]
fn bounded_queue_applies_back_pressure_and_keeps_order() {
    util::workers(1);
    let q = Arc::new(Queue::bounded(3));
    let put = Arc::new(AtomicUsize::new(0));
    let producer = {
        let (q, put) = (q.clone(), put.clone());
        greenshim::spawn(move || {
            for i in 0..10 {
                q.put(i).unwrap();
                put.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    until("producer blocked on a full queue", || {
        put.load(Ordering::SeqCst) == 3
    });
    greenshim::sleep(Duration::from_millis(20));
    assert_eq!(put.load(Ordering::SeqCst), 3, "no room, so it waits");
    assert!(q.is_full());
    assert_eq!(q.try_put(99), Err(PutError::Full(99)));
    let got: Vec<i32> = (0..10).map(|_| q.get().unwrap()).collect();
    producer.join().unwrap();
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    assert_eq!(q.try_get(), Err(GetError::Empty));
    assert_eq!(
        q.get_timeout(Duration::from_millis(10)),
        Err(GetError::Empty)
    );
    q.put(1).unwrap();
    q.put(2).unwrap();
    q.put(3).unwrap();
    assert_eq!(
        q.put_timeout(4, Duration::from_millis(10)),
        Err(PutError::Full(4))
    );
    assert_eq!(q.len(), 3);
    assert_eq!(q.capacity(), Some(3));
}

#[test]
fn queue_waiters_are_served_first_come_first_served() {
    util::workers(1);
    let q = Arc::new(Queue::new());
    let mut getters = Vec::new();
    for i in 0..5 {
        let q = q.clone();
        getters.push(greenshim::spawn(move || (i, q.get().unwrap())));
        greenshim::sleep(Duration::from_millis(10)); // queue them one after another
    }
    for item in 100..105 {
        q.put(item).unwrap();
        // A barging try_get cannot take an item promised to a waiter.
        assert_eq!(q.try_get(), Err(GetError::Empty));
    }
    let got: Vec<_> = greenshim::joinall(getters)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, [(0, 100), (1, 101), (2, 102), (3, 103), (4, 104)]);
}

#[test]
fn lifo_priority_and_close() {
    util::workers(1);
    let lifo = LifoQueue::new();
    let prio = PriorityQueue::new();
    for v in [3, 1, 4, 1, 5] {
        lifo.put(v).unwrap();
        prio.put(v).unwrap();
    }
    assert_eq!(lifo.iter().take(5).collect::<Vec<_>>(), [5, 1, 4, 1, 3]);
    assert_eq!(prio.iter().take(5).collect::<Vec<_>>(), [1, 1, 3, 4, 5]);

    // close: parked putters get their items back, getters drain then fail.
    let q = Arc::new(Queue::bounded(1));
    q.put(1).unwrap();
    let q2 = q.clone();
    let putter = greenshim::spawn(move || q2.put(2));
    greenshim::sleep(Duration::from_millis(20));
    q.close();
    assert_eq!(putter.join().unwrap(), Err(PutError::Closed(2)));
    assert_eq!(q.put(3), Err(PutError::Closed(3)));
    assert_eq!(q.get(), Ok(1));
    assert_eq!(q.get(), Err(GetError::Closed));
    assert!(q.is_closed());
    let q = Arc::new(Queue::<u8>::new());
    let q2 = q.clone();
    let getter = greenshim::spawn(move || q2.get());
    greenshim::sleep(Duration::from_millis(20));
    q.close();
    assert_eq!(getter.join().unwrap(), Err(GetError::Closed));
}

#[test]
fn task_done_and_join_track_processing() {
    util::workers(1);
    let q = Arc::new(Queue::new());
    let processed = Arc::new(AtomicUsize::new(0));
    for i in 0..20 {
        q.put(i).unwrap();
    }
    assert_eq!(q.unfinished_tasks(), 20);
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (q, processed) = (q.clone(), processed.clone());
            greenshim::spawn(move || {
                while let Ok(_item) = q.get() {
                    greenshim::sleep(Duration::from_millis(1));
                    processed.fetch_add(1, Ordering::SeqCst);
                    q.task_done().unwrap();
                }
            })
        })
        .collect();
    q.join();
    assert_eq!(processed.load(Ordering::SeqCst), 20);
    assert!(q.join_timeout(Duration::ZERO));
    assert_eq!(q.task_done(), Err(greenshim::queue::TaskDoneError));
    q.close();
    for r in greenshim::joinall(workers) {
        r.unwrap();
    }
}

#[test]
fn channel_is_a_rendezvous() {
    util::workers(1);
    let ch = Arc::new(Channel::new());
    assert_eq!(ch.try_put(1), Err(PutError::Full(1)), "no getter waits");
    let c = ch.clone();
    let putters: Vec<_> = (0..3)
        .map(|i| {
            let c = c.clone();
            greenshim::spawn(move || c.put(i))
        })
        .collect();
    until("three putters parked", || ch.balance() == 3);
    assert_eq!(ch.len(), 0, "nothing is buffered");
    let got: Vec<i32> = (0..3).map(|_| ch.get().unwrap()).collect();
    assert_eq!(got, [0, 1, 2]);
    for r in greenshim::joinall(putters) {
        r.unwrap().unwrap();
    }
    let getter = greenshim::spawn(move || c.get());
    until("a getter parked", || ch.balance() == -1);
    assert_eq!(ch.try_put(7), Ok(()), "a getter waits");
    assert_eq!(getter.join().unwrap(), Ok(7));
    let c = ch.clone();
    kill_parked("Channel::put", greenshim::spawn(move || c.put(5)));
    assert_eq!(ch.balance(), 0, "the killed putter left");
    assert_eq!(ch.try_get(), Err(GetError::Empty), "its item went with it");
    let c = ch.clone();
    kill_parked("Channel::get", greenshim::spawn(move || c.get()));
}

#[test]
fn group_joins_and_kills_its_members() {
    util::workers(1);
    let group = Group::new();
    let finished = Arc::new(AtomicUsize::new(0));
    for i in 0..20u64 {
        let finished = finished.clone();
        group.spawn(move || {
            greenshim::sleep(Duration::from_millis(1 + i));
            finished.fetch_add(1, Ordering::SeqCst);
        });
    }
    assert!(!group.is_empty());
    group.join();
    assert_eq!(finished.load(Ordering::SeqCst), 20);
    assert!(group.is_empty());
    // Members that panic or are spawned elsewhere leave too.
    group.spawn(|| panic!("member fails"));
    let outside = greenshim::spawn(|| greenshim::sleep(Duration::from_millis(5)));
    group.add(&outside);
    assert!(group.join_timeout(Duration::from_secs(5)));
    // kill: every member dies and the group empties.
    let sleepers: Vec<_> = (0..10)
        .map(|_| group.spawn(|| greenshim::sleep(Duration::from_secs(3600))))
        .collect();
    assert_eq!(group.len(), 10);
    assert!(group.contains(sleepers[0].id()));
    assert!(!group.join_timeout(Duration::from_millis(10)));
    group.kill();
    assert!(group.is_empty());
    for r in greenshim::joinall(sleepers) {
        assert!(r.unwrap_err().is_killed());
    }
}

#[test]
fn pool_never_exceeds_its_size() {
    util::workers(1);
    let pool = Pool::new(4);
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let spawned: Vec<_> = (0..24)
        .map(|_| {
            let (inside, peak) = (inside.clone(), peak.clone());
            // Parks the caller while 4 run.
            pool.spawn(move || {
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                greenshim::sleep(Duration::from_millis(20));
                inside.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    assert!(pool.len() <= 4);
    pool.join();
    for r in greenshim::joinall(spawned) {
        r.unwrap();
    }
    assert_eq!(peak.load(Ordering::SeqCst), 4);
    assert_eq!(pool.free_count(), 4);
    assert_eq!(pool.size(), 4);

    // try_spawn and wait_available.
    let blockers: Vec<_> = (0..4)
        .map(|_| pool.spawn(|| greenshim::sleep(Duration::from_millis(30))))
        .collect();
    assert!(pool.is_full());
    assert!(pool.try_spawn(|| ()).is_err());
    assert!(!pool.wait_available_timeout(Duration::from_millis(1)));
    pool.wait_available();
    assert!(pool.free_count() >= 1);
    for r in greenshim::joinall(blockers) {
        r.unwrap();
    }
    // A caller parked in spawn on a full pool can be killed.
    let blockers: Vec<_> = (0..4)
        .map(|_| pool.spawn(|| greenshim::sleep(Duration::from_secs(3600))))
        .collect();
    let p = pool.clone();
    kill_parked("Pool::spawn", greenshim::spawn(move || p.spawn(|| ()).id()));
    pool.kill();
    assert_eq!(pool.free_count(), 4, "killed members returned their slots");
    for r in greenshim::joinall(blockers) {
        assert!(r.unwrap_err().is_killed());
    }
}

#[test]
fn pool_maps_in_order_and_as_completed() {
    util::workers(1);
    let pool = Pool::new(3);
    let ordered: Vec<u64> = pool
        .map(|x: u64| x * 10, 0..20)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ordered, (0..20).map(|x| x * 10).collect::<Vec<_>>());
    // Slower inputs finish later: imap keeps input order, imap_unordered yields as they end.
    let delays = [40u64, 5, 25, 1, 15];
    let inorder: Vec<u64> = pool
        .imap(
            |d: u64| {
                greenshim::sleep(Duration::from_millis(d));
                d
            },
            delays,
        )
        .map(Result::unwrap)
        .collect();
    assert_eq!(inorder, delays);
    let pool = Pool::new(5);
    let unordered: Vec<u64> = pool
        .imap_unordered(
            |d: u64| {
                greenshim::sleep(Duration::from_millis(d * 3));
                d
            },
            delays,
        )
        .map(Result::unwrap)
        .collect();
    assert_eq!(unordered, [1, 5, 15, 25, 40]);
    // A panic comes back as that item's error; the rest go on.
    let results = pool.map(
        |x: u32| {
            assert!(x != 2, "two is bad");
            x
        },
        0..4,
    );
    assert!(results[2].as_ref().is_err_and(|e| e.is_panic()));
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3);
}
