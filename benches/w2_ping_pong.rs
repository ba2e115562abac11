//! W2 ping-pong (BENCHMARKS.md): two green threads, two channels; A sends i, B replies i+1,
//! A checks; N round trips timed inside A, over `greenshim::sync::mpsc`.
//!
//! `cargo bench --bench w2_ping_pong -- --n 500000 [--workers N] [--peer LABEL]
//! [--impl greenshim|may|tokio-ct|tokio-mt|std]`
//!
//! The other implementations run the identical exchange for comparison in the same run:
//! `may` (may's coroutines and `may::sync::mpsc`, with `--workers` workers, default one per
//! CPU), `tokio-ct`/`tokio-mt` (tokio's current-thread or multi-thread runtime, two tasks,
//! `tokio::sync::mpsc` unbounded), `std` (two OS threads, `std::sync::mpsc`),
//! `greenshim-std-mpsc` (two green threads after `monkey::patch_all()`, exchanging over
//! unmodified `std::sync::mpsc`: its waits are `thread::park` on the worker's parker, which the
//! patch leaves to the kernel, so each blocks its worker; it needs the two green threads on
//! different workers, and deadlocks on one).
//! `cargo bench --bench compare -- --workloads W2` sets them side by side.

mod common;

use std::time::{Duration, Instant};

/// Runs W2 with the implementation named by `--impl` and prints its result line.
pub fn main() {
    let args = common::Args::parse();
    let n: u64 = args.get("n", 500_000);
    let imp: String = args.get("impl", "greenshim".to_owned());
    let peer: String = args.get("peer", imp.clone());
    let workers: usize = args.get("workers", 0);
    let (total, workers) = match imp.as_str() {
        "greenshim" => {
            let settings = args.start_runtime();
            (greenshim_ping_pong(n), settings.workers)
        }
        "may" => {
            let workers = common::default_workers(workers);
            may::config().set_workers(workers);
            (may_ping_pong(n), workers)
        }
        "tokio-ct" => (tokio_ping_pong(n, common::tokio_runtime(false, 0)), 1),
        "tokio-mt" => {
            let workers = common::default_workers(workers);
            (
                tokio_ping_pong(n, common::tokio_runtime(true, workers)),
                workers,
            )
        }
        "std" => (std_ping_pong(n), 2),
        "greenshim-std-mpsc" => {
            let settings = args.start_runtime();
            greenshim::monkey::patch_all().expect("patch before any spawn");
            (greenshim_std_mpsc_ping_pong(n), settings.workers)
        }
        other => panic!(
            "--impl {other}: expected greenshim, greenshim-std-mpsc, may, tokio-ct, tokio-mt or std"
        ),
    };
    println!(
        "RESULT workload=W2 peer={peer} n={n} total_s={:.4} ns_per_rt={:.0} workers={workers}",
        total.as_secs_f64(),
        total.as_secs_f64() * 1e9 / n as f64
    );
}

/// The exchange on two green threads over the channel kind `$channel` makes.
macro_rules! green_ping_pong {
    ($n:expr, $channel:path) => {{
        let n: u64 = $n;
        let (to_b, from_a) = $channel();
        let (to_a, from_b) = $channel();
        let b = greenshim::spawn(move || {
            for i in from_a.iter() {
                if to_a.send(i + 1).is_err() {
                    break;
                }
            }
        });
        let a = greenshim::spawn(move || {
            let t = Instant::now();
            for i in 0..n {
                to_b.send(i).expect("B is gone");
                assert_eq!(from_b.recv().expect("B is gone"), i + 1);
            }
            t.elapsed()
        });
        let total = a.join().expect("A failed");
        b.join().expect("B failed");
        total
    }};
}

fn greenshim_ping_pong(n: u64) -> Duration {
    green_ping_pong!(n, greenshim::sync::mpsc::channel::<u64>)
}

fn greenshim_std_mpsc_ping_pong(n: u64) -> Duration {
    green_ping_pong!(n, std::sync::mpsc::channel::<u64>)
}

fn may_ping_pong(n: u64) -> Duration {
    use may::sync::mpsc::channel;
    let (to_b, from_a) = channel::<u64>();
    let (to_a, from_b) = channel::<u64>();
    // SAFETY: the closures use no thread-local storage across yields.
    let b = unsafe {
        may::coroutine::spawn(move || {
            for i in from_a.iter() {
                if to_a.send(i + 1).is_err() {
                    break;
                }
            }
        })
    };
    // SAFETY: as above.
    let a = unsafe {
        may::coroutine::spawn(move || {
            let t = Instant::now();
            for i in 0..n {
                to_b.send(i).expect("B is gone");
                assert_eq!(from_b.recv().expect("B is gone"), i + 1);
            }
            t.elapsed()
        })
    };
    let total = a.join().expect("A failed");
    b.join().expect("B failed");
    total
}

fn tokio_ping_pong(n: u64, rt: tokio::runtime::Runtime) -> Duration {
    rt.block_on(async move {
        let (to_b, mut from_a) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let (to_a, mut from_b) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let b = tokio::spawn(async move {
            while let Some(i) = from_a.recv().await {
                if to_a.send(i + 1).is_err() {
                    break;
                }
            }
        });
        let a = tokio::spawn(async move {
            let t = Instant::now();
            for i in 0..n {
                to_b.send(i).expect("B is gone");
                assert_eq!(from_b.recv().await.expect("B is gone"), i + 1);
            }
            t.elapsed()
        });
        let total = a.await.expect("A failed");
        b.await.expect("B failed");
        total
    })
}

fn std_ping_pong(n: u64) -> Duration {
    use std::sync::mpsc::channel;
    let (to_b, from_a) = channel::<u64>();
    let (to_a, from_b) = channel::<u64>();
    let b = std::thread::spawn(move || {
        for i in from_a.iter() {
            if to_a.send(i + 1).is_err() {
                break;
            }
        }
    });
    let t = Instant::now();
    for i in 0..n {
        to_b.send(i).expect("B is gone");
        assert_eq!(from_b.recv().expect("B is gone"), i + 1);
    }
    let total = t.elapsed();
    drop(to_b);
    b.join().expect("B failed");
    total
}
