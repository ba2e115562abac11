//! W3 sleepers (BENCHMARKS.md): N green threads each sleep 1 s, then finish; join all.
//! Peak RSS is read from outside: `/usr/bin/time -v` (maximum resident set size / N).
//!
//! `cargo bench --bench w3_sleepers -- --n 100000 [--workers N] [--stack-size BYTES] [--raise-map-count]`
//!
//! 100 000 live green threads need about 200 000 memory mappings, over Linux's default
//! `vm.max_map_count` of 65 530. The program says what it needs; with `--raise-map-count`
//! (root only) it raises the limit itself.

mod common;

use std::time::{Duration, Instant};

use greenshim_shim::{runtime::MAPS_PER_STACK, sys};

fn main() {
    let args = common::Args::parse();
    let n: usize = args.get("n", 100_000);
    let peer: String = args.get("peer", "greenshim".to_owned());
    let needed = n * MAPS_PER_STACK + 16_384;
    let limit = sys::max_map_count().unwrap_or(0);
    if limit < needed {
        if args.has("raise-map-count") {
            match sys::raise_max_map_count(needed) {
                Ok(now) => eprintln!("raised vm.max_map_count from {limit} to {now}"),
                Err(e) => panic!("cannot raise vm.max_map_count to {needed} (needs root): {e}"),
            }
        } else {
            eprintln!(
                "W3 with n={n} needs vm.max_map_count >= {needed} (now {limit}); rerun with \
                 --raise-map-count as root, or `sysctl -w vm.max_map_count={needed}`"
            );
            std::process::exit(2);
        }
    }
    let settings = args.start_runtime();
    let t = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| greenshim::spawn(|| greenshim::sleep(Duration::from_secs(1))))
        .collect();
    for g in handles {
        g.join().expect("green thread failed");
    }
    let wall = t.elapsed().as_secs_f64();
    println!(
        "RESULT workload=W3 peer={peer} n={n} wall_s={wall:.3} stack_size={} workers={} map_count_needed={needed}",
        settings.stack_size, settings.workers
    );
}
