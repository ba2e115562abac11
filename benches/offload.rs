#![allow(missing_docs)] // criterion_group! generates an undocumented function
//! Criterion micro benchmarks of the offload pool: the round trip of an empty job from a green
//! thread, and a small read of a file in the page cache through `greenshim::fs` (inline with
//! `RWF_NOWAIT`) against the same read forced onto the pool and against std on a plain thread.

use std::io::{Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

fn in_green(iters: u64, body: fn(u64) -> Duration) -> Duration {
    greenshim::spawn(move || body(iters)).join().unwrap()
}

fn small_file() -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("greenshim-bench-{}", std::process::id()));
    std::fs::write(&p, vec![7u8; 4096]).unwrap();
    p
}

fn round_trip(c: &mut Criterion) {
    greenshim::runtime::start().unwrap();
    c.bench_function("offload_round_trip_empty_job", |b| {
        b.iter_custom(|iters| {
            in_green(iters, |n| {
                let t = Instant::now();
                for i in 0..n {
                    assert_eq!(greenshim::offload(move || i), i);
                }
                t.elapsed()
            })
        })
    });
}

fn cached_reads(c: &mut Criterion) {
    let path = small_file();
    c.bench_function("read_4k_cached_std_plain_thread", |b| {
        let mut f = std::fs::File::open(&path).unwrap();
        let mut buf = [0u8; 4096];
        b.iter(|| {
            f.seek(SeekFrom::Start(0)).unwrap();
            f.read_exact(&mut buf).unwrap();
        })
    });
    c.bench_function("read_4k_cached_mirror_green_inline", |b| {
        b.iter_custom(|iters| {
            in_green(iters, |n| {
                let path =
                    std::env::temp_dir().join(format!("greenshim-bench-{}", std::process::id()));
                let mut f = greenshim::fs::File::open(&path).unwrap();
                let mut buf = [0u8; 4096];
                let t = Instant::now();
                for _ in 0..n {
                    f.seek(SeekFrom::Start(0)).unwrap();
                    f.read_exact(&mut buf).unwrap();
                }
                t.elapsed()
            })
        })
    });
    c.bench_function("read_4k_cached_green_forced_offload", |b| {
        b.iter_custom(|iters| {
            in_green(iters, |n| {
                let path =
                    std::env::temp_dir().join(format!("greenshim-bench-{}", std::process::id()));
                let mut f = std::fs::File::open(&path).unwrap();
                let mut buf = [0u8; 4096];
                let t = Instant::now();
                for _ in 0..n {
                    greenshim::offload(|| {
                        f.seek(SeekFrom::Start(0)).unwrap();
                        f.read_exact(&mut buf).unwrap();
                    });
                }
                t.elapsed()
            })
        })
    });
    std::fs::remove_file(path).ok();
}

criterion_group!(benches, round_trip, cached_reads);
criterion_main!(benches);
