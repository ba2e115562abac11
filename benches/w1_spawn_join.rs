//! W1 spawn-join (BENCHMARKS.md): spawn N green threads from the main thread, green thread i
//! returns i, join all in spawn order, check the sum.
//!
//! `cargo bench --bench w1_spawn_join -- --n 100000 [--workers N] [--peer LABEL] [--stack-pool K]`

mod common;

use std::time::Instant;

fn main() {
    let args = common::Args::parse();
    let n: u64 = args.get("n", 100_000);
    let peer: String = args.get("peer", "greenshim".to_owned());
    let settings = args.start_runtime();
    let t = Instant::now();
    let handles: Vec<_> = (0..n).map(|i| greenshim::spawn(move || i)).collect();
    let sum: u64 = handles
        .into_iter()
        .map(|g| g.join().expect("green thread failed"))
        .sum();
    let total = t.elapsed().as_secs_f64();
    let ok = sum == n * (n - 1) / 2;
    println!(
        "RESULT workload=W1 peer={peer} n={n} total_s={total:.4} ns_per_task={:.0} ok={ok} workers={} stack_pool={}",
        total * 1e9 / n as f64,
        settings.workers,
        settings.stack_pool
    );
    assert!(ok, "sum mismatch");
}
