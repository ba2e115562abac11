//! W4 TCP echo (BENCHMARKS.md): the server in each implementation, the load generator, and the
//! comparison that runs them side by side.
//!
//! ```text
//! cargo bench --bench w4_echo -- --mode serve --impl greenshim --port P [--workers N]
//! cargo bench --bench w4_echo -- --mode load --addr 127.0.0.1:P --conns 50 [--duration 5]
//! cargo bench --bench w4_echo -- --mode compare [--runs 3] [--duration 5] [--conns 50,1000]
//!                                 [--impls greenshim,tokio-ct,tokio-mt,may,std]
//! ```
//! `--impl`: `greenshim` or `native` (greenshim::net), `patched` (std::net on green threads
//! after `monkey::patch_all()`), `tokio-ct`, `tokio-mt`, `may` (raw may, one worker
//! unless `--workers`), `std` (a thread per connection). `--workers 0` is each one's default.

mod common;
mod w4 {
    pub mod compare;
    pub mod loadgen;
    pub mod servers;
}

use std::time::Duration;

fn list<T: std::str::FromStr>(s: &str) -> Vec<T> {
    s.split(',')
        .map(|x| {
            x.trim()
                .parse()
                .unwrap_or_else(|_| panic!("bad list item {x:?}"))
        })
        .collect()
}

fn main() {
    let args = common::Args::parse();
    let mode: String = args.get("mode", "compare".to_owned());
    let workers: usize = args.get("workers", 0);
    let duration = Duration::from_secs_f64(args.get("duration", 5.0));
    let warmup = Duration::from_secs_f64(args.get("warmup", 1.0));
    let load_threads: usize = args.get("load-threads", 1);
    match mode.as_str() {
        "serve" => {
            let imp: String = args.get("impl", "greenshim".to_owned());
            let port: u16 = args.get("port", 0);
            w4::servers::serve(&imp, port, workers);
        }
        "load" => {
            let addr: std::net::SocketAddr = args.get("addr", "127.0.0.1:0".parse().unwrap());
            let conns: usize = args.get("conns", 50);
            let peer: String = args.get("peer", "unknown".to_owned());
            let l = w4::loadgen::run(addr, conns, load_threads, warmup, duration).expect("load");
            println!(
                "RESULT workload=W4 peer={peer} conns={conns} req_per_s={:.0} p50_us={:.1} p99_us={:.1} errors={}",
                l.rps(),
                l.p50_us,
                l.p99_us,
                l.errors
            );
        }
        "compare" => w4::compare::run(&w4::compare::Plan {
            impls: list(&args.get("impls", "greenshim,tokio-ct,tokio-mt,may,std".to_owned())),
            conns: list(&args.get("conns", "50,1000".to_owned())),
            runs: args.get("runs", 3),
            warmup,
            duration,
            load_threads,
            workers,
        }),
        other => panic!("unknown --mode {other}; one of serve load compare"),
    }
}
