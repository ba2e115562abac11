#![allow(missing_docs)] // criterion_group! generates an undocumented function
//! Criterion micro benchmarks of `greenshim::sync`: an uncontended mutex lock+unlock (against
//! std's), a contended one (4 green threads on one mutex, against 4 OS threads on std's), and
//! a channel ping-pong round trip between two green threads (W2's exchange).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

fn in_green(iters: u64, body: fn(u64) -> Duration) -> Duration {
    greenshim::spawn(move || body(iters)).join().unwrap()
}

fn uncontended(c: &mut Criterion) {
    greenshim::runtime::start().unwrap();
    c.bench_function("mutex_uncontended_std", |b| {
        let m = std::sync::Mutex::new(0u64);
        b.iter(|| *black_box(&m).lock().unwrap() += 1)
    });
    c.bench_function("mutex_uncontended_greenshim_green_thread", |b| {
        b.iter_custom(|iters| {
            in_green(iters, |n| {
                let m = greenshim::sync::Mutex::new(0u64);
                let t = Instant::now();
                for _ in 0..n {
                    *black_box(&m).lock().unwrap() += 1;
                }
                t.elapsed()
            })
        })
    });
}

/// Time per lock+unlock with 4 lockers that each hold the lock briefly.
fn contended(c: &mut Criterion) {
    const LOCKERS: u64 = 4;
    c.bench_function("mutex_contended_4_std_threads", |b| {
        b.iter_custom(|iters| {
            let m = std::sync::Arc::new(std::sync::Mutex::new(0u64));
            let per = iters.div_ceil(LOCKERS);
            let t = Instant::now();
            let hs: Vec<_> = (0..LOCKERS)
                .map(|_| {
                    let m = m.clone();
                    std::thread::spawn(move || {
                        for _ in 0..per {
                            *m.lock().unwrap() += 1;
                        }
                    })
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
            t.elapsed()
        })
    });
    c.bench_function("mutex_contended_4_green_threads", |b| {
        b.iter_custom(|iters| {
            let m = greenshim::sync::Arc::new(greenshim::sync::Mutex::new(0u64));
            let per = iters.div_ceil(LOCKERS);
            let t = Instant::now();
            let gs: Vec<_> = (0..LOCKERS)
                .map(|_| {
                    let m = m.clone();
                    greenshim::spawn(move || {
                        for i in 0..per {
                            *m.lock().unwrap() += 1;
                            if i % 64 == 0 {
                                // Let the others interleave, as a real workload parks.
                                greenshim::yield_now();
                            }
                        }
                    })
                })
                .collect();
            greenshim::joinall(gs);
            t.elapsed()
        })
    });
}

fn ping_pong(c: &mut Criterion) {
    c.bench_function("mpsc_ping_pong_round_trip", |b| {
        b.iter_custom(|iters| {
            in_green(iters, |n| {
                use greenshim::sync::mpsc::channel;
                let (to_b, from_a) = channel::<u64>();
                let (to_a, from_b) = channel::<u64>();
                let echo = greenshim::spawn(move || {
                    for i in from_a.iter() {
                        to_a.send(i + 1).unwrap();
                    }
                });
                let t = Instant::now();
                for i in 0..n {
                    to_b.send(i).unwrap();
                    assert_eq!(from_b.recv().unwrap(), i + 1);
                }
                let took = t.elapsed();
                drop(to_b);
                echo.join().unwrap();
                took
            })
        })
    });
}

criterion_group!(benches, uncontended, contended, ping_pong);
criterion_main!(benches);
