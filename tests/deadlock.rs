//! The deadlock report (`harness = false`: libtest's own threads would count as threads that
//! might still wake a green thread, and the check stays silent while such threads exist).
//!
//! A real deadlock (two green threads each waiting on the other's channel) makes the main
//! thread's `join` return `JoinError::Deadlock` within a second, listing both waits. Waits that
//! something can still end — a sleep, a socket read, a channel a plain thread will send on —
//! are never reported, however long they take.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenshim::JoinError;
use greenshim::monitor::{self, Report, WaitOn};

fn main() {
    // The watchdog: a missed deadlock hangs a join for good, and a watchdog thread would itself
    // count as a thread that might wake someone. SIGALRM's default action ends the process.
    // SAFETY: no preconditions.
    unsafe { libc::alarm(120) };
    greenshim::monkey::patch_all().unwrap();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = reports.clone();
    monitor::set_reporter(move |r| sink.lock().unwrap().push(r.clone()));

    slow_but_live_waits_are_not_deadlocks();
    assert!(
        reports.lock().unwrap().is_empty(),
        "{:#?}",
        reports.lock().unwrap()
    );

    two_green_threads_waiting_on_each_other_are_reported_within_a_second(&reports);
    a_plain_thread_blocked_on_a_lock_is_not_a_waker();
    the_blocking_detector_names_a_thread_bound_wait(&reports);
    // Last: it leaves every worker blocked for good.
    workers_blocked_in_thread_park_with_nobody_to_unpark_are_reported();
    println!("deadlock: 5 checks passed");
}

fn two_green_threads_waiting_on_each_other_are_reported_within_a_second(
    reports: &Mutex<Vec<Report>>,
) {
    let (to_a, from_b) = greenshim::sync::mpsc::channel::<u32>();
    let (to_b, from_a) = greenshim::sync::mpsc::channel::<u32>();
    let a = greenshim::Builder::new()
        .name("a")
        .spawn(move || {
            let got = from_b.recv().unwrap();
            to_b.send(got + 1).unwrap();
        })
        .unwrap();
    let b = greenshim::Builder::new()
        .name("b")
        .spawn(move || {
            let got = from_a.recv().unwrap();
            to_a.send(got + 1).unwrap();
        })
        .unwrap();
    let t = Instant::now();
    let err = a.join().expect_err("a can never finish");
    let took = t.elapsed();
    let JoinError::Deadlock(report) = &err else {
        panic!("expected a deadlock report, got {err:?}");
    };
    assert!(took < Duration::from_secs(1), "reported after {took:?}");
    let mut names: Vec<_> = report
        .green_threads
        .iter()
        .map(|g| g.name.clone().unwrap_or_default())
        .collect();
    names.sort();
    assert_eq!(names, ["a", "b"], "{report}");
    for g in &report.green_threads {
        assert!(
            matches!(
                g.waiting_on,
                Some(WaitOn::Object {
                    what: "channel receive",
                    ..
                })
            ),
            "{g}"
        );
    }
    let text = err.to_string();
    assert!(
        text.starts_with("deadlock: all 2 green thread(s) are parked")
            && text.contains("\"a\" (spawned at tests/deadlock.rs:")
            && text.contains("parked waiting for channel receive on 0x"),
        "{text}"
    );
    // The second join of the same deadlock reports at once.
    let t = Instant::now();
    assert!(matches!(b.join(), Err(JoinError::Deadlock(_))));
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    // The report also went through the channel, once.
    let deadlocks = reports
        .lock()
        .unwrap()
        .iter()
        .filter(|r| matches!(r, Report::Deadlock(_)))
        .count();
    assert_eq!(deadlocks, 1);
}

fn slow_but_live_waits_are_not_deadlocks() {
    // A sleep: a timer will wake it.
    let sleeper = greenshim::spawn(|| greenshim::sleep(Duration::from_millis(1500)));
    assert!(sleeper.join().is_ok());

    // A channel that a plain thread sends on later: a thread outside greenshim exists.
    let (tx, rx) = greenshim::sync::mpsc::channel::<u32>();
    let receiver = greenshim::spawn(move || rx.recv().unwrap());
    let plain = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        tx.send(7).unwrap();
    });
    assert_eq!(receiver.join().unwrap(), 7);
    plain.join().unwrap();

    // A socket read: the peer is a green thread that sleeps first, then writes.
    let listener = greenshim::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let writer = greenshim::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        greenshim::sleep(Duration::from_millis(1500));
        s.write_all(b"x").unwrap();
    });
    let reader = greenshim::spawn(move || {
        let mut s = greenshim::net::TcpStream::connect(addr).unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        b[0]
    });
    assert_eq!(reader.join().unwrap(), b'x');
    writer.join().unwrap();

    // A green thread waiting on a mutex that a sleeping green thread holds.
    let m = Arc::new(greenshim::sync::Mutex::new(0));
    let m2 = m.clone();
    let holder = greenshim::spawn(move || {
        let mut g = m2.lock().unwrap();
        greenshim::sleep(Duration::from_millis(1500));
        *g += 1;
    });
    greenshim::sleep(Duration::from_millis(50));
    let m3 = m.clone();
    let waiter = greenshim::spawn(move || *m3.lock().unwrap());
    assert_eq!(waiter.join().unwrap(), 1);
    holder.join().unwrap();
}

/// Joins `g`, expecting a deadlock report within `limit`.
fn expect_deadlock<T>(
    g: greenshim::Greenlet<T>,
    limit: Duration,
) -> greenshim::monitor::DeadlockReport {
    let t = Instant::now();
    match g.join() {
        Err(JoinError::Deadlock(report)) => {
            assert!(t.elapsed() < limit, "reported after {:?}", t.elapsed());
            report
        }
        Err(e) => panic!("expected a deadlock report, got {e:?}"),
        Ok(_) => panic!("expected a deadlock report, the green thread finished"),
    }
}

fn a_plain_thread_blocked_on_a_lock_is_not_a_waker() {
    // A plain thread blocked for good on a std channel nobody sends on (a futex wait without
    // timeout): it cannot wake anyone, so it does not hide the deadlock below.
    let (keep, rx) = std::sync::mpsc::channel::<()>();
    std::mem::forget(keep);
    std::thread::spawn(move || rx.recv());
    let (to_c, from_d) = greenshim::sync::mpsc::channel::<u32>();
    let (to_d, from_c) = greenshim::sync::mpsc::channel::<u32>();
    let c = greenshim::spawn(move || to_d.send(from_d.recv().unwrap()));
    let d = greenshim::spawn(move || to_c.send(from_c.recv().unwrap()));
    let report = expect_deadlock(c, Duration::from_secs(3));
    assert!(report.green_threads.len() >= 2, "{report}");
    drop(d);
}

fn workers_blocked_in_thread_park_with_nobody_to_unpark_are_reported() {
    // Patched, `std::thread::park` on a green thread waits on its worker's own parker: the
    // kernel's, blocking the worker. Enough of them block every worker; the rest stay
    // runnable behind them, forever.
    // (A stray unpark token of the worker ends one park early: park again, as std says to.)
    let parked: Vec<_> = (0..8)
        .map(|_| {
            greenshim::spawn(|| {
                loop {
                    std::thread::park();
                }
            })
        })
        .collect();
    let mut parked = parked.into_iter();
    let report = expect_deadlock(parked.next().unwrap(), Duration::from_secs(5));
    let in_kernel = report
        .green_threads
        .iter()
        .filter(|g| g.in_libc == Some(greenshim::monitor::THREAD_BOUND_FUTEX_WAIT))
        .count();
    assert_eq!(
        in_kernel,
        greenshim::runtime::settings().workers,
        "every worker blocked in a thread-bound futex wait: {report}"
    );
    assert!(
        report.to_string().contains("per-OS-thread state"),
        "{report}"
    );
}

fn the_blocking_detector_names_a_thread_bound_wait(reports: &Mutex<Vec<Report>>) {
    // A std channel receive waits in `thread::park`: on a green thread, the worker's parker,
    // left to the kernel. The detector reports the held worker and names that wait.
    monitor::enable(Duration::from_millis(100));
    let (tx, rx) = std::sync::mpsc::channel::<u32>();
    let receiver = greenshim::Builder::new()
        .name("std-recv")
        .spawn(move || rx.recv().unwrap())
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    tx.send(5).unwrap();
    assert_eq!(receiver.join().unwrap(), 5);
    monitor::disable();
    let named = reports.lock().unwrap().iter().any(|r| {
        matches!(r, Report::Blocking(b)
            if b.green_thread.name.as_deref() == Some("std-recv")
                && b.in_libc == Some(monitor::THREAD_BOUND_FUTEX_WAIT))
    });
    assert!(named, "{:#?}", reports.lock().unwrap());
}
