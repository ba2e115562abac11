//! W1 spawn-join (BENCHMARKS.md): spawn N green threads from the main thread, green thread i
//! returns i, join all in spawn order, check the sum.
//!
//! `cargo bench --bench w1_spawn_join -- --n 100000 [--workers N] [--peer LABEL] [--stack-pool K]
//! [--impl greenshim|tokio-ct|tokio-mt|may|std]`
//!
//! The peers do the identical work: `tokio-ct`/`tokio-mt` spawn N tasks from the main thread's
//! `block_on` and await their handles in order; `may` spawns N raw may coroutines; `std` spawns
//! N OS threads (64 KiB stacks).

mod common;

use std::time::Instant;

/// Runs W1 with the implementation named by `--impl` and prints its result line.
pub fn main() {
    let args = common::Args::parse();
    let n: u64 = args.get("n", 100_000);
    let imp: String = args.get("impl", "greenshim".to_owned());
    let peer: String = args.get("peer", imp.clone());
    let workers: usize = args.get("workers", 0);
    let (t, sum, extra) = match imp.as_str() {
        "greenshim" => {
            let settings = args.start_runtime();
            let t = Instant::now();
            let handles: Vec<_> = (0..n).map(|i| greenshim::spawn(move || i)).collect();
            let sum: u64 = handles
                .into_iter()
                .map(|g| g.join().expect("green thread failed"))
                .sum();
            let st = greenshim::runtime::stack_stats();
            let extra = format!(
                "workers={} stack_pool={} stacks_carved={} stacks_trimmed={}",
                settings.workers, settings.stack_pool, st.carved, st.trimmed
            );
            (t.elapsed(), sum, extra)
        }
        "tokio-ct" | "tokio-mt" => {
            let rt = common::tokio_runtime(imp == "tokio-mt", workers);
            rt.block_on(async move {
                let t = Instant::now();
                let handles: Vec<_> = (0..n).map(|i| tokio::spawn(async move { i })).collect();
                let mut sum = 0;
                for h in handles {
                    sum += h.await.expect("task failed");
                }
                (t.elapsed(), sum, String::new())
            })
        }
        "may" => {
            may::config().set_workers(common::default_workers(workers));
            let t = Instant::now();
            // SAFETY: the closures use no thread-local storage.
            let handles: Vec<_> = (0..n)
                .map(|i| unsafe { may::coroutine::spawn(move || i) })
                .collect();
            let sum: u64 = handles
                .into_iter()
                .map(|h| h.join().expect("coroutine failed"))
                .sum();
            (t.elapsed(), sum, String::new())
        }
        "std" => {
            let t = Instant::now();
            let handles: Vec<_> = (0..n)
                .map(|i| {
                    std::thread::Builder::new()
                        .stack_size(64 << 10)
                        .spawn(move || i)
                        .expect("spawn thread")
                })
                .collect();
            let sum: u64 = handles
                .into_iter()
                .map(|h| h.join().expect("thread failed"))
                .sum();
            (t.elapsed(), sum, String::new())
        }
        other => panic!("--impl {other}: expected greenshim, tokio-ct, tokio-mt, may or std"),
    };
    let total = t.as_secs_f64();
    let ok = sum == n * (n - 1) / 2;
    println!(
        "RESULT workload=W1 peer={peer} n={n} total_s={total:.4} ns_per_task={:.0} ok={ok} {extra}",
        total * 1e9 / n as f64,
    );
    assert!(ok, "sum mismatch");
}
