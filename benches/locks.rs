//! The monkey patch's Locks family, measured (issue 15): what an unmodified std `Mutex` costs on
//! a green thread with the patch off and on, and std's `Mutex` against `greenshim::sync::Mutex`
//! when 4 green threads of one worker contend for it.
//!
//! `cargo bench --bench locks -- [--n 10000000] [--contended-n 200000]`
//!
//! One worker. Uncontended: `--n` lock+unlock pairs of a std `Mutex` on one green thread,
//! first unpatched, then after `monkey::patch_all()` (the hook is only reached when a lock is
//! contended, so both should match). Contended: 4 green threads each take the lock
//! `--contended-n` times and yield while holding it, so every other taker finds it held and
//! waits (std's `Mutex` in a futex wait, parked by the patch; greenshim's in its wait queue).
//! Prints one `RESULT` line per measurement, in ns per lock+unlock.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let args = common::Args::parse();
    let n: u64 = args.get("n", 10_000_000);
    let contended_n: u64 = args.get("contended-n", 200_000);
    greenshim::runtime::Config::new()
        .workers(1)
        .apply()
        .expect("configure runtime");
    greenshim::runtime::start().expect("start runtime");

    let off = greenshim::spawn(move || uncontended_std(n)).join().unwrap();
    report("std_mutex_uncontended_green_unpatched", n, off);
    greenshim::monkey::patch_all().expect("patch with no green thread running");
    let on = greenshim::spawn(move || uncontended_std(n)).join().unwrap();
    report("std_mutex_uncontended_green_patched", n, on);

    let before = greenshim::monkey::stats().futex().green_wakes;
    let std_lock = Arc::new(std::sync::Mutex::new(0u64));
    let t = contended(contended_n, move || {
        let mut g = std_lock.lock().unwrap();
        greenshim::yield_now();
        *g += 1;
    });
    let wakes = greenshim::monkey::stats().futex().green_wakes - before;
    report(
        "std_mutex_contended_4_green_1_worker_patched",
        4 * contended_n,
        t,
    );
    println!("INFO futex_table_green_wakes={wakes}");

    let gs_lock = Arc::new(greenshim::sync::Mutex::new(0u64));
    let t = contended(contended_n, move || {
        let mut g = gs_lock.lock().unwrap();
        greenshim::yield_now();
        *g += 1;
    });
    report(
        "greenshim_mutex_contended_4_green_1_worker",
        4 * contended_n,
        t,
    );
}

fn uncontended_std(n: u64) -> Duration {
    let m = std::sync::Mutex::new(0u64);
    let t = Instant::now();
    for _ in 0..n {
        *black_box(&m).lock().unwrap() += 1;
    }
    t.elapsed()
}

/// 4 green threads each run `critical` `per` times; the wall time of all of them.
fn contended(per: u64, critical: impl Fn() + Send + Sync + Clone + 'static) -> Duration {
    let t = Instant::now();
    let gs: Vec<_> = (0..4)
        .map(|_| {
            let critical = critical.clone();
            greenshim::spawn(move || {
                for _ in 0..per {
                    critical();
                }
            })
        })
        .collect();
    greenshim::joinall(gs).into_iter().for_each(|r| r.unwrap());
    t.elapsed()
}

fn report(name: &str, ops: u64, total: Duration) {
    println!(
        "RESULT bench={name} ops={ops} total_s={:.4} ns_per_op={:.1}",
        total.as_secs_f64(),
        total.as_secs_f64() * 1e9 / ops as f64
    );
}
