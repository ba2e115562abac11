//! W3 sleepers (BENCHMARKS.md): N green threads each sleep 1 s, then finish; join all.
//! Peak RSS is read from outside: `/usr/bin/time -v` (maximum resident set size / N), or the
//! child's `ru_maxrss` when `cargo bench --bench compare` runs it.
//!
//! `cargo bench --bench w3_sleepers -- --n 100000 [--workers N] [--stack-size BYTES] [--raise-map-count] [--sleep-ms 1000]
//! [--impl greenshim|tokio-ct|tokio-mt|may]`
//!
//! greenshim's stacks come from its arena (a few mappings for any number of green threads)
//! where the kernel has guard regions; elsewhere, and for raw may, 100 000 live green threads
//! need about 200 000 memory mappings, over Linux's default `vm.max_map_count` of 65 530. The
//! program then says what it needs; with `--raise-map-count` (root only) it raises the limit
//! itself. The peers do the identical work: tokio tasks on
//! `tokio::time::sleep`, raw may coroutines on `may::coroutine::sleep` (its default stacks).

mod common;

use std::time::{Duration, Instant};

use greenshim_shim::sys;

/// Checks `vm.max_map_count` for `n` stacks (raising it with `--raise-map-count`); exits with
/// status 2 and says what is needed when it is too low.
fn check_map_count(args: &common::Args, n: usize) -> usize {
    let needed = common::map_count_needed(n);
    let limit = sys::max_map_count().unwrap_or(0);
    if limit < needed {
        if args.has("raise-map-count") {
            common::raise_map_count(needed);
        } else {
            eprintln!(
                "W3 with n={n} needs vm.max_map_count >= {needed} (now {limit}); rerun with \
                 --raise-map-count as root, or `sysctl -w vm.max_map_count={needed}`"
            );
            std::process::exit(2);
        }
    }
    needed
}

/// Runs W3 with the implementation named by `--impl` and prints its result line.
pub fn main() {
    let args = common::Args::parse();
    let n: usize = args.get("n", 100_000);
    let imp: String = args.get("impl", "greenshim".to_owned());
    let peer: String = args.get("peer", imp.clone());
    let workers: usize = args.get("workers", 0);
    // W3 sleeps 1 s; longer sleeps (`--sleep-ms`) keep every green thread alive at once when
    // spawning them takes longer than a second (a million of them).
    let second = Duration::from_millis(args.get("sleep-ms", 1000));
    let (wall, extra) = match imp.as_str() {
        "greenshim" => {
            let settings = args.start_runtime();
            // From the arena, stacks need no mapping each (greenshim_shim::stacks).
            let needed = match greenshim::runtime::stack_mode() {
                greenshim::runtime::StackMode::Arena => 0,
                _ => check_map_count(&args, n),
            };
            let t = Instant::now();
            let handles: Vec<_> = (0..n)
                .map(|_| greenshim::spawn(move || greenshim::sleep(second)))
                .collect();
            // The mappings with (nearly) every green thread alive.
            let maps = sys::current_map_count().unwrap_or(0);
            let spawned_s = t.elapsed().as_secs_f64();
            for g in handles {
                g.join().expect("green thread failed");
            }
            let extra = format!(
                "stack_size={} workers={} map_count_needed={needed} maps_at_peak={maps} \
                 max_map_count={} spawn_s={spawned_s:.3} sleep_ms={} stacks={:?}",
                settings.stack_size,
                settings.workers,
                sys::max_map_count().unwrap_or(0),
                second.as_millis(),
                greenshim::runtime::stack_mode(),
            );
            (t.elapsed(), extra)
        }
        "tokio-ct" | "tokio-mt" => {
            let rt = common::tokio_runtime(imp == "tokio-mt", workers);
            rt.block_on(async move {
                let t = Instant::now();
                let handles: Vec<_> = (0..n)
                    .map(|_| tokio::spawn(tokio::time::sleep(second)))
                    .collect();
                for h in handles {
                    h.await.expect("task failed");
                }
                (t.elapsed(), String::new())
            })
        }
        "may" => {
            let needed = check_map_count(&args, n);
            may::config().set_workers(common::default_workers(workers));
            let t = Instant::now();
            // SAFETY: the closures use no thread-local storage.
            let handles: Vec<_> = (0..n)
                .map(|_| unsafe { may::coroutine::spawn(move || may::coroutine::sleep(second)) })
                .collect();
            for h in handles {
                h.join().expect("coroutine failed");
            }
            (t.elapsed(), format!("map_count_needed={needed}"))
        }
        other => panic!("--impl {other}: expected greenshim, tokio-ct, tokio-mt or may"),
    };
    println!(
        "RESULT workload=W3 peer={peer} n={n} wall_s={:.3} {extra}",
        wall.as_secs_f64()
    );
}
