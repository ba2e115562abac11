#![allow(missing_docs)] // criterion_group! generates an undocumented function
//! Criterion micro benchmarks of waiting on fds: a one-byte ping-pong over a Unix socket pair
//! between two green threads (each round trip is two parks and two reactor wake-ups), and a
//! read that does not block, through the mirror against std on the same socket type.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

fn in_green(iters: u64, body: fn(u64) -> Duration) -> Duration {
    greenshim::spawn(move || body(iters)).join().unwrap()
}

fn ping_pong(c: &mut Criterion) {
    greenshim::runtime::start().unwrap();
    c.bench_function("unix_socket_ping_pong_round_trip", |b| {
        b.iter_custom(|iters| {
            in_green(iters, |n| {
                let (a, z) = greenshim::os::unix::net::UnixStream::pair().unwrap();
                let echo = greenshim::spawn(move || {
                    let mut buf = [0u8; 1];
                    while (&z).read_exact(&mut buf).is_ok() {
                        (&z).write_all(&buf).unwrap();
                    }
                });
                let mut buf = [0u8; 1];
                let t = Instant::now();
                for _ in 0..n {
                    (&a).write_all(&[1]).unwrap();
                    (&a).read_exact(&mut buf).unwrap();
                }
                let took = t.elapsed();
                drop(a);
                echo.join().unwrap();
                took
            })
        })
    });
}

fn ready_read(c: &mut Criterion) {
    c.bench_function("ready_read_std_plain_thread", |b| {
        let (mut a, mut z) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut buf = [0u8; 64];
        b.iter(|| {
            z.write_all(&[1; 64]).unwrap();
            a.read_exact(&mut buf).unwrap();
        })
    });
    c.bench_function("ready_read_mirror_green_thread", |b| {
        b.iter_custom(|iters| {
            in_green(iters, |n| {
                let (mut a, mut z) = greenshim::os::unix::net::UnixStream::pair().unwrap();
                let mut buf = [0u8; 64];
                let t = Instant::now();
                for _ in 0..n {
                    z.write_all(&[1; 64]).unwrap();
                    a.read_exact(&mut buf).unwrap();
                }
                t.elapsed()
            })
        })
    });
}

criterion_group!(benches, ping_pong, ready_read);
criterion_main!(benches);
