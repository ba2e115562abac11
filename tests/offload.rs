//! The offload pool: bounded by its configured size, panics come back to the caller, borrowed
//! data is safe to use, and a plain thread runs the closure itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn setup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        greenshim::runtime::Config::new()
            .workers(1)
            .offload_threads(4)
            .apply()
            .unwrap();
    });
    assert_eq!(greenshim::runtime::settings().offload_threads, 4);
}

#[test]
fn the_pool_never_runs_more_jobs_than_its_size() {
    setup();
    let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let jobs: Vec<_> = (0..40)
        .map(|i| {
            let (now, peak) = (now.clone(), peak.clone());
            greenshim::spawn(move || {
                greenshim::offload(|| {
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(10));
                    now.fetch_sub(1, Ordering::SeqCst);
                    i
                })
            })
        })
        .collect();
    let sum: usize = greenshim::joinall(jobs)
        .into_iter()
        .map(Result::unwrap)
        .sum();
    assert_eq!(sum, 40 * 39 / 2);
    let peak = peak.load(Ordering::SeqCst);
    assert!((2..=4).contains(&peak), "peak concurrency {peak}, limit 4");
    assert!(greenshim::runtime::offload_stats().threads_alive <= 4);
}

#[test]
fn a_panic_in_the_job_resumes_in_the_green_thread() {
    setup();
    let g = greenshim::spawn(|| greenshim::offload(|| -> u8 { panic!("job failed") }));
    let err = g.join().unwrap_err();
    assert_eq!(err.panic_message(), Some("job failed"));
}

#[test]
fn jobs_may_borrow_from_the_green_threads_stack() {
    setup();
    let total = greenshim::spawn(|| {
        let data: Vec<u64> = (1..=1000).collect();
        let mut out = 0;
        greenshim::offload(|| out = data.iter().sum());
        out
    })
    .join()
    .unwrap();
    assert_eq!(total, 500_500);
}

#[test]
fn a_plain_thread_runs_the_closure_itself() {
    setup();
    let me = std::thread::current().id();
    assert_eq!(greenshim::offload(|| std::thread::current().id()), me);
    let on_green = greenshim::spawn(|| {
        greenshim::offload(|| std::thread::current().name().map(str::to_owned))
    })
    .join()
    .unwrap();
    assert_eq!(on_green.as_deref(), Some("greenshim-offload"));
}
