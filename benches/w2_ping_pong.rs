//! W2 ping-pong (BENCHMARKS.md): two green threads, two channels; A sends i, B replies i+1,
//! A checks; N round trips timed inside A, over `greenshim::sync::mpsc`.
//!
//! `cargo bench --bench w2_ping_pong -- --n 500000 [--workers N] [--peer LABEL]
//! [--impl greenshim|may|tokio-ct|std]`
//!
//! `cargo bench --bench w2_ping_pong -- --compare greenshim,greenshim@1,may,may@1,tokio-ct
//! [--runs 5] [--n 500000]` runs each implementation (`name@workers` sets the workers) as a
//! child process, interleaved, and prints a markdown table of medians with ratios against
//! tokio current-thread.
//!
//! The other implementations run the identical exchange for comparison in the same run:
//! `may` (may's coroutines and `may::sync::mpsc`, with `--workers` workers), `tokio-ct`
//! (tokio's current-thread runtime, two tasks, `tokio::sync::mpsc` unbounded), `std` (two OS
//! threads, `std::sync::mpsc`).

mod common;

use std::time::{Duration, Instant};

fn main() {
    let args = common::Args::parse();
    let n: u64 = args.get("n", 500_000);
    if args.has("compare") {
        let impls: String = args.get("compare", String::new());
        compare(
            &impls.split(',').collect::<Vec<_>>(),
            args.get("runs", 5),
            n,
        );
        return;
    }
    let imp: String = args.get("impl", "greenshim".to_owned());
    let peer: String = args.get("peer", imp.clone());
    let (total, workers) = match imp.as_str() {
        "greenshim" => {
            let settings = args.start_runtime();
            (greenshim_ping_pong(n), settings.workers)
        }
        "may" => {
            let workers: usize = args.get("workers", 0);
            let workers = if workers == 0 {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            } else {
                workers
            };
            may::config().set_workers(workers);
            (may_ping_pong(n), workers)
        }
        "tokio-ct" => (tokio_ping_pong(n), 1),
        "std" => (std_ping_pong(n), 2),
        other => panic!("--impl {other}: expected greenshim, may, tokio-ct or std"),
    };
    println!(
        "RESULT workload=W2 peer={peer} n={n} total_s={:.4} ns_per_rt={:.0} workers={workers}",
        total.as_secs_f64(),
        total.as_secs_f64() * 1e9 / n as f64
    );
}

fn greenshim_ping_pong(n: u64) -> Duration {
    use greenshim::sync::mpsc::channel;
    let (to_b, from_a) = channel::<u64>();
    let (to_a, from_b) = channel::<u64>();
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

fn tokio_ping_pong(n: u64) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
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

/// Runs every implementation `runs` times, interleaved, each in a child process, and prints a
/// table of median nanoseconds per round trip.
fn compare(impls: &[&str], runs: usize, n: u64) {
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); impls.len()];
    for _ in 0..runs {
        for (i, imp) in impls.iter().enumerate() {
            let (name, workers) = imp.split_once('@').unwrap_or((imp, "0"));
            let out = std::process::Command::new(std::env::current_exe().expect("own path"))
                .args(["--impl", name, "--workers", workers, "--n", &n.to_string()])
                .output()
                .expect("run child");
            let text = String::from_utf8_lossy(&out.stdout);
            let ns = text
                .split_whitespace()
                .find_map(|f| f.strip_prefix("ns_per_rt="))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{imp}: no result in {text:?}"));
            results[i].push(ns);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<f64> = results.iter_mut().map(median).collect();
    let base = impls
        .iter()
        .position(|i| *i == "tokio-ct")
        .map(|i| medians[i]);
    println!("W2 ping-pong, n={n}, medians of {runs} interleaved runs\n");
    println!("| impl | ns per round trip | vs tokio-ct (lower is better) |");
    println!("|---|---:|---:|");
    for (imp, m) in impls.iter().zip(&medians) {
        let ratio = base.map_or("-".to_owned(), |b| format!("{:.2}", m / b));
        println!("| {imp} | {m:.0} | {ratio} |");
    }
}
