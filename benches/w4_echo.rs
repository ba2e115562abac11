//! W4 TCP echo (BENCHMARKS.md): the server in each implementation and the load generator.
//!
//! ```text
//! cargo bench --bench w4_echo -- --mode serve --impl greenshim --port P [--workers N]
//! cargo bench --bench w4_echo -- --mode load --addr 127.0.0.1:P --conns 50 [--duration 5]
//! ```
//! `--impl`: `greenshim` or `native` (greenshim::net), `patched` (std::net on green threads
//! after `monkey::patch_all()`), `tokio-ct`, `tokio-mt`, `may` (raw may, one worker per CPU
//! unless `--workers`), `std` (a thread per connection), `epoll` (one thread, one epoll loop).
//! `--workers 0` is each one's default.
//! `cargo bench --bench compare -- --workloads W4` runs them side by side.

mod common;
/// The servers and the load generator.
pub mod w4 {
    pub mod loadgen;
    pub mod servers;
}

use std::time::Duration;

/// Serves (`--mode serve`, the default) or loads (`--mode load`) as the flags say.
pub fn main() {
    let args = common::Args::parse();
    let mode: String = args.get("mode", "serve".to_owned());
    let workers: usize = args.get("workers", 0);
    match mode.as_str() {
        "serve" => {
            let imp: String = args.get("impl", "greenshim".to_owned());
            let port: u16 = args.get("port", 7000);
            w4::servers::serve(&imp, port, workers);
        }
        "load" => {
            let duration = Duration::from_secs_f64(args.get("duration", 5.0));
            let warmup = Duration::from_secs_f64(args.get("warmup", 1.0));
            let load_threads: usize = args.get("load-threads", 1);
            let addr: std::net::SocketAddr = args.get("addr", "127.0.0.1:0".parse().unwrap());
            let conns: usize = args.get("conns", 50);
            let peer: String = args.get("peer", "unknown".to_owned());
            let l =
                w4::loadgen::run(addr, conns, load_threads, warmup, duration, || {}).expect("load");
            println!(
                "RESULT workload=W4 peer={peer} conns={conns} req_per_s={:.0} p50_us={:.1} p99_us={:.1} errors={}",
                l.rps(),
                l.p50_us,
                l.p99_us,
                l.errors
            );
        }
        other => panic!("unknown --mode {other}; one of serve load"),
    }
}
