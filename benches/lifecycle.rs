#![allow(missing_docs)] // criterion_group! generates an undocumented function
//! Criterion micro benchmarks of the lifecycle layer: spawn+join, yield, zero sleep, a Timeout
//! that does not fire, and a park/unpark round trip between two green threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};

fn spawn_join(c: &mut Criterion) {
    greenshim::runtime::start().unwrap();
    c.bench_function("spawn_join_from_thread", |b| {
        b.iter(|| greenshim::spawn(|| 1u64).join().unwrap())
    });
    c.bench_function("spawn_join_batch_100_from_thread", |b| {
        b.iter(|| {
            let gs: Vec<_> = (0..100u64).map(|i| greenshim::spawn(move || i)).collect();
            greenshim::joinall(gs)
                .into_iter()
                .map(Result::unwrap)
                .sum::<u64>()
        })
    });
}

/// Runs `body(iters)` inside one green thread and returns the time it measured.
fn in_green(iters: u64, body: fn(u64) -> std::time::Duration) -> std::time::Duration {
    greenshim::spawn(move || body(iters)).join().unwrap()
}

fn switches(c: &mut Criterion) {
    c.bench_function("yield_now_in_green_thread", |b| {
        b.iter_custom(|iters| {
            in_green(iters, |n| {
                let t = std::time::Instant::now();
                for _ in 0..n {
                    greenshim::yield_now();
                }
                t.elapsed()
            })
        })
    });
    c.bench_function("timeout_run_not_firing", |b| {
        b.iter_custom(|iters| {
            in_green(iters, |n| {
                let t = std::time::Instant::now();
                for i in 0..n {
                    let r = greenshim::with_timeout(std::time::Duration::from_secs(60), || i);
                    assert_eq!(r, Ok(i));
                }
                t.elapsed()
            })
        })
    });
    c.bench_function("park_unpark_round_trip", |b| {
        b.iter_custom(|iters| {
            in_green(iters, |n| {
                // Ping-pong with thread::park / Thread::unpark between two green threads.
                let me = greenshim::thread::current();
                let turn = Arc::new(AtomicBool::new(false));
                let t2 = turn.clone();
                let peer = greenshim::thread::spawn(move || {
                    for _ in 0..n {
                        while !t2.load(Ordering::Acquire) {
                            greenshim::thread::park();
                        }
                        t2.store(false, Ordering::Release);
                        me.unpark();
                    }
                });
                let peer_thread = peer.thread().clone();
                let t = std::time::Instant::now();
                for _ in 0..n {
                    turn.store(true, Ordering::Release);
                    peer_thread.unpark();
                    while turn.load(Ordering::Acquire) {
                        greenshim::thread::park();
                    }
                }
                let elapsed = t.elapsed();
                peer.join().unwrap();
                elapsed
            })
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = spawn_join, switches
}
criterion_main!(benches);
