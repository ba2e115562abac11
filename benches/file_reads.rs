//! 10 000 concurrent reads of small files: green threads through `greenshim::fs` against one
//! std thread per read, same files, same machine.
//!
//! `cargo bench --bench file_reads -- [--n 10000] [--size 4096] [--workers N]`
//!
//! Prints one `RESULT workload=file_reads` line per implementation.

mod common;

use std::time::Instant;

fn main() {
    let args = common::Args::parse();
    let n: usize = args.get("n", 10_000);
    let size: usize = args.get("size", 4096);
    let settings = args.start_runtime();
    let dir = std::env::temp_dir().join(format!("greenshim-file-reads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let paths: Vec<_> = (0..n)
        .map(|i| {
            let p = dir.join(format!("f{i}"));
            std::fs::write(&p, vec![(i % 251) as u8; size]).unwrap();
            p
        })
        .collect();

    let t = Instant::now();
    let gs: Vec<_> = paths
        .iter()
        .cloned()
        .map(|p| greenshim::spawn(move || greenshim::fs::read(p).unwrap().len()))
        .collect();
    let total: usize = greenshim::joinall(gs).into_iter().map(Result::unwrap).sum();
    let green = t.elapsed().as_secs_f64();
    assert_eq!(total, n * size);
    let jobs = greenshim::runtime::offload_stats();
    println!(
        "RESULT workload=file_reads peer=greenshim n={n} size={size} total_s={green:.4} us_per_read={:.2} workers={} offload_threads_started={}",
        green * 1e6 / n as f64,
        settings.workers,
        jobs.threads_started
    );

    let t = Instant::now();
    let hs: Vec<_> = paths
        .iter()
        .cloned()
        .map(|p| {
            std::thread::Builder::new()
                .stack_size(64 << 10)
                .spawn(move || std::fs::read(p).unwrap().len())
                .unwrap()
        })
        .collect();
    let total: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
    let threads = t.elapsed().as_secs_f64();
    assert_eq!(total, n * size);
    println!(
        "RESULT workload=file_reads peer=std-threads n={n} size={size} total_s={threads:.4} us_per_read={:.2}",
        threads * 1e6 / n as f64
    );
    std::fs::remove_dir_all(dir).unwrap();
}
