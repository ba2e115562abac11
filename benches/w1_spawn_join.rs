//! W1 spawn-join (BENCHMARKS.md): spawn N green threads from the main thread, green thread i
//! returns i, join all in spawn order, check the sum.
//!
//! `cargo bench --bench w1_spawn_join -- --n 100000 [--workers N] [--peer LABEL] [--stack-pool K]
//! [--impl greenshim|tokio-ct|tokio-mt|may|std] [--bursts B --idle-ms M]`
//!
//! With `--bursts B` (greenshim only), the spawn-join is repeated B times with `--idle-ms` of
//! idleness in between (with `--hold-ms H`, each green thread first sleeps H ms, so that a whole
//! burst is alive at once), and each burst prints a `BURST` line with its time and the process's
//! resident memory just before it: how the stack arena's warm size (`GREENSHIM_STACK_WARM`)
//! trades memory kept between bursts against page faults in the next one.
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
    let bursts: u32 = args.get("bursts", 0);
    if bursts > 0 {
        args.start_runtime();
        let idle = std::time::Duration::from_millis(args.get("idle-ms", 1500));
        // Each green thread sleeps this long first, so that all of a burst is alive at once.
        let hold = std::time::Duration::from_millis(args.get("hold-ms", 0));
        for b in 0..bursts {
            if b > 0 {
                std::thread::sleep(idle);
            }
            let rss_before = common::rss_kib();
            let t = Instant::now();
            let handles: Vec<_> = (0..n)
                .map(|i| {
                    greenshim::spawn(move || {
                        if !hold.is_zero() {
                            greenshim::sleep(hold);
                        }
                        i
                    })
                })
                .collect();
            let spawned = t.elapsed();
            let sum: u64 = handles.into_iter().map(|g| g.join().unwrap()).sum();
            assert_eq!(sum, n * (n - 1) / 2);
            let st = greenshim::runtime::stack_stats();
            println!(
                "BURST {b} ns_per_task={:.0} spawn_ns_per_task={:.0} rss_before_kib={rss_before} rss_after_kib={} stacks_trimmed={}",
                t.elapsed().as_secs_f64() * 1e9 / n as f64,
                spawned.as_secs_f64() * 1e9 / n as f64,
                common::rss_kib(),
                st.trimmed
            );
        }
        return;
    }
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
