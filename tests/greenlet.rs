//! Lifecycle semantics of `Greenlet`: join values, panics, kill, joinall, iwait, spawn_later.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use greenshim::{
    Builder, JoinError, iwait, joinall, joinall_timeout, killall, sleep, spawn, spawn_later,
};

const LONG: Duration = Duration::from_secs(30);

fn setup() {
    util::workers(2);
}

#[test]
fn join_returns_the_value() {
    setup();
    assert_eq!(spawn(|| 40 + 2).join().unwrap(), 42);
    let s = spawn(|| String::from("moved")).join().unwrap();
    assert_eq!(s, "moved");
}

#[test]
fn a_panic_is_contained_and_returned_with_its_payload() {
    setup();
    let seven = std::hint::black_box(7);
    let g = spawn(move || -> u32 { panic!("boom {seven}") });
    let err = g.join().unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("boom 7"));
    assert_eq!(err.to_string(), "green thread panicked: boom 7");
    let payload = err.into_panic();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("boom 7")
    );
    // The process goes on: a new green thread still runs.
    assert_eq!(spawn(|| 1).join().unwrap(), 1);
}

/// Sets a flag when dropped: proves that a killed green thread's destructors ran.
struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn kill_interrupts_a_sleep_and_runs_destructors() {
    setup();
    let dropped = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (d, s) = (dropped.clone(), started.clone());
    let g = spawn(move || {
        let _flag = DropFlag(d);
        s.store(true, Ordering::SeqCst);
        sleep(Duration::from_secs(3600));
        "woke up"
    });
    util::eventually(LONG, "greenlet started", || started.load(Ordering::SeqCst));
    let t = Instant::now();
    g.kill();
    let err = g.join().unwrap_err();
    assert!(err.is_killed(), "{err:?}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "kill took {:?}",
        t.elapsed()
    );
    assert!(dropped.load(Ordering::SeqCst), "destructor did not run");
}

#[test]
fn kill_interrupts_a_green_thread_parked_on_a_join() {
    setup();
    let target_done = Arc::new(AtomicBool::new(false));
    let td = target_done.clone();
    let target = spawn(move || {
        sleep(Duration::from_secs(3600));
        td.store(true, Ordering::SeqCst);
    });
    let waiter = spawn(move || target.join().is_ok());
    // Let the waiter park on the join (a later kill still lands at its next park).
    sleep(Duration::from_millis(20));
    let t = Instant::now();
    waiter.kill();
    assert!(waiter.join().unwrap_err().is_killed());
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "kill took {:?}",
        t.elapsed()
    );
    // Killing the joiner does not touch the green thread it was joining.
    assert!(
        !target_done.load(Ordering::SeqCst),
        "the target finished early"
    );
}

#[test]
fn kill_is_sticky_even_if_the_greenlet_catches_the_unwind() {
    setup();
    let g = spawn(|| {
        let first = std::panic::catch_unwind(|| sleep(Duration::from_secs(3600)));
        assert!(first.is_err());
        // The kill is still pending: the next park unwinds again.
        sleep(Duration::from_secs(3600));
        "escaped"
    });
    sleep(Duration::from_millis(20));
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
}

#[test]
fn kill_of_a_finished_greenlet_is_harmless() {
    setup();
    let g = spawn(|| 5);
    util::eventually(LONG, "finished", || g.is_finished());
    g.kill();
    assert_eq!(g.join().unwrap(), 5);
}

#[test]
fn join_timeout_hands_the_greenlet_back() {
    setup();
    let release = Arc::new(AtomicBool::new(false));
    let r = release.clone();
    let g = spawn(move || {
        while !r.load(Ordering::SeqCst) {
            sleep(Duration::from_millis(1));
        }
        9
    });
    let g = g
        .join_timeout(Duration::from_millis(30))
        .expect_err("should time out");
    assert!(!g.is_finished());
    release.store(true, Ordering::SeqCst);
    assert_eq!(g.join_timeout(LONG).expect("finishes").unwrap(), 9);
}

#[test]
fn joinall_returns_every_result_in_order() {
    setup();
    let gs: Vec<_> = (0..100u64)
        .map(|i| {
            spawn(move || {
                sleep(Duration::from_millis(100 - i));
                if i == 13 { panic!("unlucky") } else { i }
            })
        })
        .collect();
    let results = joinall(gs);
    assert_eq!(results.len(), 100);
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(v) => assert_eq!(v, i as u64),
            Err(e) => {
                assert_eq!(i, 13);
                assert_eq!(e.panic_message(), Some("unlucky"));
            }
        }
    }
}

#[test]
fn joinall_timeout_gives_back_all_handles_when_some_are_late() {
    setup();
    let gs = vec![
        spawn(|| 1),
        spawn(|| {
            sleep(Duration::from_secs(3600));
            2
        }),
    ];
    let gs = joinall_timeout(gs, Duration::from_millis(50)).expect_err("one is late");
    assert_eq!(gs.len(), 2);
    killall(&gs);
    assert!(gs.iter().all(|g| g.is_finished()));
    let results = joinall(gs);
    assert_eq!(results[0].as_ref().ok(), Some(&1));
    assert!(matches!(results[1], Err(JoinError::Killed)));
    let quick = joinall_timeout(vec![spawn(|| 3), spawn(|| 4)], LONG).expect("both finish");
    assert_eq!(
        quick.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        vec![3, 4]
    );
}

#[test]
fn iwait_yields_in_completion_order() {
    setup();
    let delays = [60u64, 10, 40, 0, 20];
    let gs: Vec<_> = delays
        .iter()
        .map(|&ms| {
            spawn(move || {
                sleep(Duration::from_millis(ms * 3));
                ms
            })
        })
        .collect();
    let order: Vec<(usize, u64)> = iwait(gs).map(|(i, r)| (i, r.unwrap())).collect();
    assert_eq!(order, vec![(3, 0), (1, 10), (4, 20), (2, 40), (0, 60)]);
}

#[test]
fn iwait_works_inside_a_green_thread() {
    setup();
    let order = spawn(|| {
        let gs = vec![
            spawn(|| {
                sleep(Duration::from_millis(60));
                'a'
            }),
            spawn(|| 'b'),
        ];
        iwait(gs).map(|(_, r)| r.unwrap()).collect::<String>()
    })
    .join()
    .unwrap();
    assert_eq!(order, "ba");
}

#[test]
fn spawn_later_waits_and_can_be_cancelled() {
    setup();
    let t = Instant::now();
    let g = spawn_later(Duration::from_millis(50), move || t.elapsed());
    assert!(g.join().unwrap() >= Duration::from_millis(50));
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let g = spawn_later(Duration::from_millis(200), move || {
        r.store(true, Ordering::SeqCst)
    });
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn ids_are_unique_and_names_are_kept() {
    setup();
    let gs: Vec<_> = (0..200).map(|_| spawn(greenshim::current_id)).collect();
    let ids: Vec<u64> = gs.iter().map(|g| g.id()).collect();
    let inside: Vec<u64> = joinall(gs).into_iter().map(Result::unwrap).collect();
    assert_eq!(ids, inside, "id seen inside differs from the handle's");
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len());
    let g = Builder::new()
        .name("worker-7")
        .spawn(|| greenshim::thread::current().name().map(str::to_owned))
        .unwrap();
    assert_eq!(g.name(), Some("worker-7"));
    assert_eq!(g.join().unwrap().as_deref(), Some("worker-7"));
}

#[test]
fn builder_rejects_a_tiny_stack_and_accepts_a_big_one() {
    setup();
    let err = Builder::new().stack_size(1024).spawn(|| ()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let g = Builder::new().stack_size(1 << 20).spawn(|| {
        // Use most of a megabyte of stack: would overflow the default 64 KiB.
        let buf = [7u8; 700 * 1024];
        std::hint::black_box(&buf)
            .iter()
            .map(|&b| b as u64)
            .sum::<u64>()
    });
    assert_eq!(g.unwrap().join().unwrap(), 7 * 700 * 1024);
}

#[test]
fn green_threads_spawned_from_green_threads_and_joined_from_plain_threads() {
    setup();
    let outer = spawn(|| (0..50u32).map(|i| spawn(move || i * 2)).collect::<Vec<_>>());
    let inner = outer.join().unwrap();
    let handle =
        std::thread::spawn(move || joinall(inner).into_iter().map(Result::unwrap).sum::<u32>());
    assert_eq!(handle.join().unwrap(), 2 * (0..50).sum::<u32>());
}

#[test]
fn worker_threads_are_named_after_greenshim_not_the_starting_thread() {
    setup();
    let workers = greenshim::runtime::settings().workers;
    let names: Vec<String> = (0..4 * workers)
        .map(|_| {
            spawn(|| std::fs::read_to_string("/proc/thread-self/comm").unwrap())
                .join()
                .unwrap()
        })
        .collect();
    let expected: Vec<String> = (0..workers).map(|w| format!("greenshim-w{w}\n")).collect();
    for n in &names {
        assert!(expected.contains(n), "a green thread ran on {n:?}");
    }
    let all: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .collect();
    for w in &expected {
        assert!(all.contains(w), "no thread named {w:?}: {all:?}");
    }
    assert!(all.iter().any(|n| n == "greenshim-mtime\n"), "{all:?}");
}
