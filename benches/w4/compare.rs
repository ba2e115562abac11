//! Runs W4 for several implementations, interleaved, and prints a markdown table of medians.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::loadgen::{self, Load};

pub struct Plan {
    pub impls: Vec<String>,
    pub conns: Vec<usize>,
    pub runs: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub load_threads: usize,
    pub workers: usize,
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `imp` (optionally `name@workers`, overriding `workers`) as a child process.
fn start_server(imp: &str, workers: usize) -> (Server, SocketAddr) {
    let (imp, workers) = match imp.split_once('@') {
        Some((name, w)) => (name, w.parse().expect("impl@workers")),
        None => (imp, workers),
    };
    let port = free_port();
    let child = Command::new(std::env::current_exe().expect("own path"))
        .args([
            "--mode",
            "serve",
            "--impl",
            imp,
            "--port",
            &port.to_string(),
        ])
        .args(["--workers", &workers.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .expect("start server");
    let server = Server(child);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "{imp} server did not start listening"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    (server, addr)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run(plan: &Plan) {
    // results[impl][conns] = loads
    let mut results: Vec<Vec<Vec<Load>>> =
        vec![vec![Vec::new(); plan.conns.len()]; plan.impls.len()];
    for run in 0..plan.runs {
        for (ci, &c) in plan.conns.iter().enumerate() {
            for (ii, imp) in plan.impls.iter().enumerate() {
                let (server, addr) = start_server(imp, plan.workers);
                let load = loadgen::run(addr, c, plan.load_threads, plan.warmup, plan.duration)
                    .unwrap_or_else(|e| panic!("{imp} C={c}: {e}"));
                drop(server);
                eprintln!(
                    "run {} {imp:>10} C={c:<5} {:>9.0} req/s  p50 {:>7.1} us  p99 {:>7.1} us  errors {}",
                    run + 1,
                    load.rps(),
                    load.p50_us,
                    load.p99_us,
                    load.errors
                );
                println!(
                    "RESULT workload=W4 peer={imp} conns={c} req_per_s={:.0} p50_us={:.1} p99_us={:.1} errors={}",
                    load.rps(),
                    load.p50_us,
                    load.p99_us,
                    load.errors
                );
                results[ii][ci].push(load);
            }
        }
    }
    let baseline = plan.impls.iter().position(|i| i == "tokio-ct");
    println!();
    let mut header = String::from("| implementation |");
    let mut rule = String::from("|---|");
    for c in &plan.conns {
        header += &format!(" C={c} req/s | vs tokio-ct | p50 / p99 µs |");
        rule += "---:|---:|---:|";
    }
    println!("{header}\n{rule}");
    for (imp, per_conns) in plan.impls.iter().zip(&results) {
        let mut line = format!("| {imp} |");
        for (ci, loads) in per_conns.iter().enumerate() {
            let rps = median(loads.iter().map(Load::rps).collect());
            let p50 = median(loads.iter().map(|l| l.p50_us).collect());
            let p99 = median(loads.iter().map(|l| l.p99_us).collect());
            let ratio = baseline.map_or("—".to_owned(), |b| {
                let base = median(results[b][ci].iter().map(Load::rps).collect());
                format!("{:.2}", rps / base)
            });
            line += &format!(" {rps:.0} | {ratio} | {p50:.0} / {p99:.0} |");
        }
        println!("{line}");
    }
    println!(
        "\nmedians of {} interleaved runs, {} s each after {} s warm-up, {} load thread(s), server --workers {}",
        plan.runs,
        plan.duration.as_secs_f64(),
        plan.warmup.as_secs_f64(),
        plan.load_threads,
        plan.workers
    );
}
