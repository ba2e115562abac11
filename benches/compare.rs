//! The whole comparison: W1–W5 (BENCHMARKS.md) for greenshim and every peer in the project,
//! each measurement in its own child process, interleaved over `--runs` rounds, then one
//! markdown table of medians with ratios against tokio current-thread, and the same as an SVG
//! bar chart (`--svg PATH`, default `target/compare.svg`).
//!
//! ```text
//! scripts/bench [flags]        # installs wrk (W5's load generator) when missing, then this
//! cargo bench --bench compare -- [--runs 3] [--duration 5] [--workloads W1,W2,W3,W4,W5]
//!     [--impls greenshim,patched,tokio-ct,tokio-mt,may,std,go,epoll] [--workers N]
//!     [--raise-map-count]
//!     [--n1 100000] [--n2 500000] [--n3 100000] [--svg target/compare.svg]
//! ```
//! An implementation may be written `name@workers` to override `--workers` for it. Every
//! workload runs the implementations it has: W1–W3 have no `patched` form (they make no libc
//! calls to patch), W3 has no `std` form (100 000 OS threads), and `go` (goroutines,
//! `benches/go/peers.go`, built with `go build` when the Go toolchain is installed;
//! `scripts/bench` installs it) has W1 and W3 only; `epoll` (one thread running one
//! level-triggered epoll loop, `benches/common/epoll_loop.rs`: the floor for CPU per request)
//! has W4 and W5 only. W4's load is the project's
//! generator (`benches/w4/loadgen.rs`) at C = 50 and 1000; W5's is `wrk -t1 -cC -dDs --latency`
//! at C = 100 and 1000, each after one second of warm-up load. Beside requests/s and p99, each
//! reports the server's CPU time per request over the measured interval (its utime + stime from
//! `/proc/<pid>/stat`), a figure that does not depend on how fast the load generator is.

// Each workload program is also a binary of its own and declares the shared flag parser itself.
#![allow(clippy::duplicate_mod)]

#[path = "common/chart.rs"]
mod chart;
mod common;
#[path = "w4_echo.rs"]
mod echo;
#[path = "w5_http.rs"]
mod http_hello;
#[path = "w2_ping_pong.rs"]
mod ping_pong;
#[path = "w3_sleepers.rs"]
mod sleepers;
#[path = "w1_spawn_join.rs"]
mod spawn_join;

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One line of the table: a workload's metric at one setting.
struct Row {
    label: String,
    unit: &'static str,
    higher_is_better: bool,
    /// Digits after the decimal point in the table.
    decimals: usize,
}

/// An implementation as the user named it (`tokio-mt@2`), split into name and workers.
struct Impl {
    spec: String,
    name: String,
    workers: usize,
}

impl Impl {
    fn parse(spec: &str, default_workers: usize) -> Impl {
        let (name, workers) = match spec.split_once('@') {
            Some((name, w)) => (name, w.parse().expect("--impls name@workers")),
            None => (spec, default_workers),
        };
        let name = if name == "native" { "greenshim" } else { name };
        Impl {
            spec: spec.to_owned(),
            name: name.to_owned(),
            workers,
        }
    }

    /// Whether workload `w` has a form for this implementation.
    fn runs(&self, w: &str) -> bool {
        match w {
            "W1" => !matches!(self.name.as_str(), "patched" | "epoll"),
            "W2" => !matches!(self.name.as_str(), "patched" | "go" | "epoll"),
            "W3" => !matches!(self.name.as_str(), "patched" | "std" | "epoll"),
            _ => self.name != "go",
        }
    }

    /// The Go peer's program, built once per process (into `target/go-peers`); `None` with the
    /// reason when the Go toolchain is missing or the build fails.
    fn go_program() -> Result<&'static str, String> {
        static BUILT: std::sync::OnceLock<Result<&'static str, String>> =
            std::sync::OnceLock::new();
        BUILT
            .get_or_init(|| {
                let out = "target/go-peers/peers";
                let built = Command::new("go")
                    .args(["build", "-o", out, "benches/go/peers.go"])
                    .status()
                    .map_err(|e| format!("go is not installed ({e}); scripts/bench installs it"))?;
                if built.success() {
                    Ok(out)
                } else {
                    Err(format!("go build of benches/go/peers.go failed: {built}"))
                }
            })
            .clone()
    }

    fn child_args(&self, workload: &str) -> Vec<String> {
        [
            "--workload",
            workload,
            "--impl",
            &self.name,
            "--workers",
            &self.workers.to_string(),
        ]
        .map(str::to_owned)
        .to_vec()
    }
}

/// What one child printed and its peak resident set size in KiB.
struct ChildRun {
    stdout: String,
    max_rss_kib: f64,
}

/// Runs this program with `args` as a child, up to `limit`, and collects its output and peak
/// RSS (`wait4`'s rusage).
fn run_child(args: &[String], limit: Duration) -> Result<ChildRun, String> {
    let program = if args.windows(2).any(|a| a[0] == "--impl" && a[1] == "go") {
        Impl::go_program()?.into()
    } else {
        std::env::current_exe().expect("own path")
    };
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start: {e}"))?;
    let mut out = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).ok();
        s
    });
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + limit;
    let mut status = 0;
    // SAFETY: rusage is plain data; all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: status and usage are valid for writes; pid is our unreaped child.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        if r < 0 {
            return Err(format!("wait4: {}", std::io::Error::last_os_error()));
        }
        if Instant::now() > deadline {
            child.kill().ok();
            // SAFETY: as above; this reaps the killed child.
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            return Err(format!("did not finish within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let stdout = reader.join().unwrap_or_default();
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(format!(
            "failed (wait status {status:#x}): {}",
            stdout.trim()
        ));
    }
    Ok(ChildRun {
        stdout,
        max_rss_kib: usage.ru_maxrss as f64,
    })
}

/// The value of `name=` in a RESULT line.
fn field(text: &str, name: &str) -> Result<f64, String> {
    let prefix = format!("{name}=");
    text.split_whitespace()
        .find_map(|f| f.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no {name}= in {:?}", text.trim()))
}

/// A server child, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// Starts the W4 or W5 server of `imp` on a free port and waits until it accepts.
fn start_server(workload: &str, imp: &Impl) -> Result<(Server, SocketAddr), String> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let child = Command::new(std::env::current_exe().expect("own path"))
        .args(imp.child_args(workload))
        .args(["--mode", "serve", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start server: {e}"))?;
    let server = Server(child);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return Err("server did not start listening within 10 s".to_owned());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok((server, addr))
}

/// One wrk run against `addr`: requests/s, p99 in µs, errors (socket errors + non-2xx), and
/// requests completed.
fn wrk(addr: SocketAddr, conns: usize, secs: u64) -> Result<(f64, f64, f64, f64), String> {
    let out = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{conns}"),
            &format!("-d{secs}s"),
            "--latency",
            &format!("http://{addr}/"),
        ])
        .output()
        .map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |start: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(start))
            .map(|l| l[start.len()..].trim().to_owned())
    };
    let rps: f64 = line("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk output: {text}"))?;
    let p99 = line("99%")
        .and_then(|v| parse_wrk_time(&v))
        .ok_or_else(|| format!("no 99% latency in wrk output: {text}"))?;
    // "  123456 requests in 5.00s, 10.01MB read"
    let requests: f64 = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no request count in wrk output: {text}"))?;
    let mut errors = 0.0;
    if let Some(v) = line("Socket errors:") {
        errors += v
            .split(',')
            .filter_map(|p| p.split_whitespace().last()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    if let Some(v) = line("Non-2xx or 3xx responses:") {
        errors += v.parse::<f64>().unwrap_or(0.0);
    }
    Ok((rps, p99, errors, requests))
}

/// wrk's `1.23ms` / `456.00us` / `1.02s` / `2.00m` as microseconds.
fn parse_wrk_time(v: &str) -> Option<f64> {
    let split = v.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = v.split_at(split);
    let num: f64 = num.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        _ => return None,
    };
    Some(num * scale)
}

/// The fewest clock ticks of server CPU a CPU/request figure is made from: one tick of
/// resolution (10 ms at the usual 100 Hz) in each of the two readings is then at most 2 %.
const MIN_CPU_TICKS: u64 = 100;

/// CPU time process `pid` has used, utime + stime (fields 14 and 15 of `/proc/<pid>/stat`), in
/// clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // Field 2, the command name, is in parentheses and may hold spaces; field 3 follows them.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    match (field(14), field(15)) {
        (Some(utime), Some(stime)) => Ok(utime + stime),
        _ => Err(format!("no utime/stime in /proc/{pid}/stat: {stat:?}")),
    }
}

/// Server CPU time per request in µs, from `cpu_ticks` read as the measured interval opened
/// and as it closed, or why there is no sensible figure.
fn cpu_per_request(readings: &[Result<u64, String>], requests: f64) -> Result<f64, String> {
    let ticks = match readings {
        [Ok(before), Ok(after)] => after.saturating_sub(*before),
        [Err(e), _] | [_, Err(e)] => return Err(e.clone()),
        _ => return Err(format!("{} CPU readings, not 2", readings.len())),
    };
    // SAFETY: sysconf takes no pointers.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    if ticks < MIN_CPU_TICKS || requests == 0.0 {
        return Err(format!(
            "the server used {ticks} ticks of {:.0} ms, fewer than {MIN_CPU_TICKS}: too \
             coarse (a longer --duration helps)",
            1e3 / per_sec
        ));
    }
    Ok(ticks as f64 / per_sec * 1e6 / requests)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `1234567.8` with `decimals` as `1 234 568` (thin grouping, as the README writes numbers).
fn group(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(a, b)| (a, Some(b)));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{out}.{f}"),
        None => out,
    }
}

/// Settings of one comparison.
struct Plan {
    workloads: Vec<String>,
    impls: Vec<Impl>,
    runs: usize,
    duration: u64,
    n1: u64,
    n2: u64,
    n3: u64,
    raise_map_count: bool,
}

/// Where samples go: `samples[row][impl]`, and the notes printed under the table.
struct Results {
    rows: Vec<Row>,
    samples: Vec<Vec<Vec<f64>>>,
    notes: Vec<String>,
    impls: usize,
}

impl Results {
    /// The index of the row labelled `label`, adding it on first use.
    fn row(&mut self, label: String, unit: &'static str, higher: bool, decimals: usize) -> usize {
        if let Some(i) = self.rows.iter().position(|r| r.label == label) {
            return i;
        }
        self.rows.push(Row {
            label,
            unit,
            higher_is_better: higher,
            decimals,
        });
        self.samples.push(vec![Vec::new(); self.impls]);
        self.rows.len() - 1
    }

    fn note(&mut self, note: String) {
        eprintln!("  {note}");
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }
}

/// Measures workload `w` for implementation `ii` once, adding its samples to `res`.
fn measure(plan: &Plan, w: &str, ii: usize, res: &mut Results) {
    let imp = &plan.impls[ii];
    let limit = Duration::from_secs(120);
    let mut simple = |n: u64, key: &str, label: String, unit, decimals| {
        let mut args = imp.child_args(w);
        args.extend(["--n".to_owned(), n.to_string()]);
        if plan.raise_map_count {
            args.push("--raise-map-count".to_owned());
        }
        let row = res.row(label, unit, false, decimals);
        match run_child(&args, limit).and_then(|c| Ok((field(&c.stdout, key)?, c.max_rss_kib))) {
            Ok((v, rss)) => {
                eprintln!("  {w} {:<12} {key}={v} max_rss={rss} KiB", imp.spec);
                res.samples[row][ii].push(v);
                Some(rss)
            }
            Err(e) => {
                res.note(format!("{w} {}: {e}", imp.spec));
                None
            }
        }
    };
    match w {
        "W1" => {
            let label = format!("W1 spawn-join, n={}", plan.n1);
            simple(plan.n1, "ns_per_task", label, "ns/task", 0);
        }
        "W2" => {
            let label = format!("W2 ping-pong, n={}", plan.n2);
            simple(plan.n2, "ns_per_rt", label, "ns/round trip", 0);
        }
        "W3" => {
            let label = format!("W3 {} sleepers of 1 s, wall", plan.n3);
            if let Some(rss) = simple(plan.n3, "wall_s", label, "s", 2) {
                let row = res.row("W3 peak RSS per sleeper".to_owned(), "KiB", false, 2);
                res.samples[row][ii].push(rss / plan.n3 as f64);
            }
        }
        "W4" | "W5" => {
            let conns: &[usize] = if w == "W4" { &[50, 1000] } else { &[100, 1000] };
            for &c in conns {
                let name = if w == "W4" { "W4 echo" } else { "W5 HTTP" };
                let rps_row = res.row(format!("{name}, C={c}"), "req/s", true, 0);
                let p99_row = res.row(format!("{name}, C={c}, p99"), "µs", false, 0);
                let cpu_row = res.row(format!("{name}, C={c}, CPU/req"), "µs", false, 2);
                let measured = start_server(w, imp).and_then(|(server, addr)| {
                    let pid = server.0.id();
                    let mut cpu = Vec::new();
                    let r = if w == "W4" {
                        let second = Duration::from_secs(1);
                        let d = Duration::from_secs(plan.duration);
                        echo::w4::loadgen::run(addr, c, 1, second, d, || cpu.push(cpu_ticks(pid)))
                            .map(|l| (l.rps(), l.p99_us, l.errors as f64, l.requests as f64))
                            .map_err(|e| e.to_string())
                    } else {
                        wrk(addr, c, 1).and_then(|_| {
                            cpu.push(cpu_ticks(pid));
                            let r = wrk(addr, c, plan.duration);
                            cpu.push(cpu_ticks(pid));
                            r
                        })
                    };
                    drop(server);
                    r.map(|(rps, p99, errors, requests)| {
                        (rps, p99, errors, cpu_per_request(&cpu, requests))
                    })
                });
                match measured {
                    Ok((rps, p99, errors, cpu)) => {
                        let cpu_text = cpu.as_ref().map_or("—".to_owned(), |v| format!("{v:.2}"));
                        eprintln!(
                            "  {w} {:<12} C={c:<5} {rps:>9.0} req/s  p99 {p99:>8.0} µs  \
                             CPU {cpu_text:>6} µs/req  errors {errors}",
                            imp.spec
                        );
                        match cpu {
                            Ok(v) => res.samples[cpu_row][ii].push(v),
                            Err(e) => res.note(format!("{w} {} C={c}: no CPU/req: {e}", imp.spec)),
                        }
                        if errors > 0.0 {
                            res.note(format!(
                                "{w} {} C={c}: {errors} errors in one run",
                                imp.spec
                            ));
                        }
                        res.samples[rps_row][ii].push(rps);
                        res.samples[p99_row][ii].push(p99);
                    }
                    Err(e) => res.note(format!("{w} {} C={c}: {e}", imp.spec)),
                }
            }
        }
        other => panic!("unknown workload {other}; one of W1 W2 W3 W4 W5"),
    }
}

fn print_table(plan: &Plan, res: &Results) {
    let base = plan
        .impls
        .iter()
        .position(|i| i.name == "tokio-ct" && i.spec == "tokio-ct");
    println!();
    let mut header = String::from("| workload | unit |");
    let mut rule = String::from("|---|---|");
    for imp in &plan.impls {
        header += &format!(" {} |", imp.spec);
        rule += "---:|";
    }
    println!("{header}\n{rule}");
    for (ri, row) in res.rows.iter().enumerate() {
        let medians: Vec<Option<f64>> = res.samples[ri]
            .iter()
            .map(|s| (!s.is_empty()).then(|| median(s)))
            .collect();
        let base = base.and_then(|b| medians[b]);
        let mut line = format!("| {} | {} |", row.label, row.unit);
        for m in &medians {
            let cell = match (m, base) {
                (None, _) => "—".to_owned(),
                (Some(v), Some(b)) if *v > 0.0 => {
                    let ratio = if row.higher_is_better { v / b } else { b / v };
                    format!("{} (×{ratio:.2})", group(*v, row.decimals))
                }
                (Some(v), _) => group(*v, row.decimals),
            };
            line += &format!(" {cell} |");
        }
        println!("{line}");
    }
    println!(
        "\nMedians of {} interleaved runs; W4/W5 {} s of load after 1 s of warm-up. CPU/req: the \
         server process's utime + stime over those seconds (/proc/<pid>/stat, 10 ms ticks) per \
         request completed in them. (×r): how many times better than tokio-ct (above 1: better; \
         for times and memory, tokio-ct's value over this one). Workers: {}.",
        plan.runs,
        plan.duration,
        plan.impls
            .iter()
            .map(|i| format!(
                "{} {}",
                i.spec,
                if i.workers == 0 {
                    "default".to_owned()
                } else {
                    i.workers.to_string()
                }
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("Machine: {}.", machine());
    for n in &res.notes {
        println!("- {n}");
    }
}

/// Writes the table as an SVG bar chart to `path` (see [`chart`]).
fn write_chart(plan: &Plan, res: &Results, path: &str) {
    let base = plan
        .impls
        .iter()
        .position(|i| i.name == "tokio-ct" && i.spec == "tokio-ct");
    let names: Vec<String> = plan.impls.iter().map(|i| i.spec.clone()).collect();
    let rows: Vec<chart::ChartRow<'_>> = res
        .rows
        .iter()
        .enumerate()
        .map(|(ri, row)| chart::ChartRow {
            label: &row.label,
            unit: row.unit,
            higher_is_better: row.higher_is_better,
            values: res.samples[ri]
                .iter()
                .map(|s| (!s.is_empty()).then(|| median(s)))
                .collect(),
        })
        .collect();
    let title = format!(
        "greenshim and its peers: medians of {} runs, (×r) against tokio-ct",
        plan.runs
    );
    match std::fs::write(path, chart::svg(&title, &names, base, &rows)) {
        Ok(()) => println!("Chart: {path}"),
        Err(e) => eprintln!("cannot write the chart to {path}: {e}"),
    }
}

/// CPU count and model, and the kernel.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown kernel".to_owned(), |k| k.trim().to_owned());
    format!("{cpus} CPUs, {model}, Linux {kernel}")
}

fn orchestrate(args: &common::Args) {
    let list = |name: &str, default: &str| -> Vec<String> {
        args.get(name, default.to_owned())
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let workers: usize = args.get("workers", 0);
    let mut plan = Plan {
        workloads: list("workloads", "W1,W2,W3,W4,W5"),
        impls: list(
            "impls",
            "greenshim,patched,tokio-ct,tokio-mt,may,std,go,epoll",
        )
        .iter()
        .map(|s| Impl::parse(s, workers))
        .collect(),
        runs: args.get("runs", 3),
        duration: args.get("duration", 5),
        n1: args.get("n1", 100_000),
        n2: args.get("n2", 500_000),
        n3: args.get("n3", 100_000),
        raise_map_count: args.has("raise-map-count"),
    };
    assert!(plan.runs >= 1, "--runs must be at least 1");
    if plan.raise_map_count {
        // W1's `std` form (one OS thread per task) needs as many mappings as W3's green
        // threads; raise the limit once, before either runs.
        common::raise_map_count(common::map_count_needed(plan.n1.max(plan.n3) as usize));
    }
    let mut res = Results {
        rows: Vec::new(),
        samples: Vec::new(),
        notes: Vec::new(),
        impls: plan.impls.len(),
    };
    if plan.workloads.iter().any(|w| w == "W5") && Command::new("wrk").arg("-v").output().is_err() {
        res.note("W5 skipped: wrk is not installed (scripts/bench installs it)".to_owned());
        plan.workloads.retain(|w| w != "W5");
    }
    let loads = plan
        .workloads
        .iter()
        .filter(|w| *w == "W4" || *w == "W5")
        .count() as u64;
    let per_run = loads * 2 * plan.impls.len() as u64 * (plan.duration + 2) + 40;
    eprintln!(
        "{} runs of {:?} over {} implementations; about {} min",
        plan.runs,
        plan.workloads,
        plan.impls.len(),
        (per_run * plan.runs as u64).div_ceil(60)
    );
    let started = Instant::now();
    for run in 0..plan.runs {
        eprintln!("run {} of {}", run + 1, plan.runs);
        for w in &plan.workloads {
            for ii in 0..plan.impls.len() {
                if plan.impls[ii].runs(w) {
                    measure(&plan, w, ii, &mut res);
                }
            }
        }
    }
    print_table(&plan, &res);
    write_chart(
        &plan,
        &res,
        &args.get("svg", "target/compare.svg".to_owned()),
    );
    println!(
        "Took {:.0} s: `cargo bench --bench compare -- {}`",
        started.elapsed().as_secs_f64(),
        std::env::args()
            .skip(1)
            .filter(|a| a != "--bench")
            .collect::<Vec<_>>()
            .join(" ")
    );
}

fn main() {
    let args = common::Args::parse();
    match args.get("workload", String::new()).as_str() {
        "" => orchestrate(&args),
        "W1" => spawn_join::main(),
        "W2" => ping_pong::main(),
        "W3" => sleepers::main(),
        "W4" => echo::main(),
        "W5" => http_hello::main(),
        other => panic!("unknown --workload {other}"),
    }
}
