//! Synchronous clients that drive an async runtime on the calling thread for every call, used
//! unmodified from many green threads after `patch_all()`: the way `postgres` wraps
//! `tokio-postgres` (its own current-thread runtime with I/O, `block_on` per call), a shared
//! multi-thread runtime entered with `block_on` per call, and a current-thread runtime with
//! timers only.
//!
//! tokio records "runtime entered" per OS thread. Were a green thread to park inside
//! `block_on`, the next green thread on its worker calling `block_on` would panic ("Cannot
//! start a runtime from within a runtime"), and on two workers the parked one could resume
//! inside its runtime on another OS thread. While a green thread is inside a tokio runtime
//! (tokio says so), and whenever it waits in an event loop greenshim did not create, its waits
//! block its worker, as a plain thread's would; outside, it parks as usual (see the `monkey`
//! docs, "Event loops and runtimes greenshim did not create"). Each case runs in a child
//! process (the worker count is per process) under a hang guard.

mod util;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Green threads, each with its own client.
const CLIENTS: u32 = 100;
/// Calls per client.
const CALLS: u32 = 5;
/// How long the server takes to answer a call.
const SERVE_TIME: Duration = Duration::from_millis(2);

/// A std server on plain OS threads (one per connection): answers each little-endian `u32` `n`
/// with `2n + 1` after [`SERVE_TIME`], and records how many calls it served at once at most.
fn serve() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let seen_peak = peak.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let mut conn = conn.unwrap();
            let (in_flight, peak) = (in_flight.clone(), peak.clone());
            std::thread::spawn(move || {
                let mut b = [0u8; 4];
                while conn.read_exact(&mut b).is_ok() {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(SERVE_TIME);
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let n = u32::from_le_bytes(b);
                    if conn.write_all(&(2 * n + 1).to_le_bytes()).is_err() {
                        break;
                    }
                }
            });
        }
    });
    (addr, seen_peak)
}

/// A synchronous client over an async driver, entered with `block_on` on the calling thread
/// for every call: on its own current-thread runtime (I/O and time enabled), or on a
/// multi-thread runtime shared by every client.
struct Client {
    rt: Arc<tokio::runtime::Runtime>,
    conn: tokio::net::TcpStream,
}

impl Client {
    fn connect(addr: std::net::SocketAddr, shared: Option<Arc<tokio::runtime::Runtime>>) -> Client {
        let rt = shared.unwrap_or_else(|| {
            Arc::new(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap(),
            )
        });
        let conn = rt.block_on(tokio::net::TcpStream::connect(addr)).unwrap();
        Client { rt, conn }
    }

    fn call(&mut self, n: u32) -> u32 {
        let conn = &mut self.conn;
        self.rt.block_on(async {
            conn.write_all(&n.to_le_bytes()).await.unwrap();
            let mut b = [0u8; 4];
            // A timer in the same runtime, as drivers keep for their own timeouts.
            tokio::time::timeout(Duration::from_secs(20), conn.read_exact(&mut b))
                .await
                .expect("a call timed out")
                .unwrap();
            u32::from_le_bytes(b)
        })
    }
}

/// The child: [`CLIENTS`] green threads, each making [`CALLS`] calls through its own client;
/// prints what the parent checks.
#[test]
fn child_entry() {
    let Ok(case) = std::env::var("RUNTIME_CLIENTS_CASE") else {
        return;
    };
    let (kind, workers) = case.split_once(':').unwrap();
    util::workers(workers.parse().unwrap());
    greenshim::monkey::patch_all().unwrap();
    let (addr, peak) = serve();
    if kind == "then-cooperative" {
        after_a_call_the_green_thread_is_cooperative_again(addr);
        return;
    }
    let shared = (kind == "multi-thread").then(|| {
        Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
        )
    });
    let waits_before = waits();
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let shared = shared.clone();
            let kind = kind.to_owned();
            greenshim::spawn(move || {
                let mut client = (kind != "timers-only").then(|| Client::connect(addr, shared));
                // Timers only: a runtime without I/O parks on a condition variable.
                let timers = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .unwrap();
                (0..CALLS)
                    .map(|i| {
                        let n = c * 1000 + i;
                        let got = match client.as_mut() {
                            Some(client) => client.call(n),
                            None => timers.block_on(async {
                                tokio::time::sleep(SERVE_TIME).await;
                                2 * n + 1
                            }),
                        };
                        assert_eq!(got, 2 * n + 1, "client {c}, call {i}");
                        1
                    })
                    .sum::<u32>()
            })
        })
        .collect();
    let calls: u32 = clients.into_iter().map(|g| g.join().unwrap()).sum();
    println!(
        "CALLS {calls} PEAK {} WAITS {} IN {:?}",
        peak.load(Ordering::SeqCst),
        waits() - waits_before,
        started.elapsed()
    );
}

/// One green thread uses a client, then spawns green threads that sleep and joins them, then
/// sleeps beside a ticker: once `block_on` has returned, its waits park it again (on one
/// worker a green thread left blocking the worker would never see the others run).
fn after_a_call_the_green_thread_is_cooperative_again(addr: std::net::SocketAddr) {
    let ticks = greenshim::spawn(move || {
        let mut client = Client::connect(addr, None);
        assert_eq!(client.call(20), 41);
        let sleepers: Vec<_> = (0..10u32)
            .map(|i| {
                greenshim::spawn(move || {
                    std::thread::sleep(Duration::from_millis(5));
                    i
                })
            })
            .collect();
        let sum: u32 = sleepers.into_iter().map(|g| g.join().unwrap()).sum();
        assert_eq!(sum, 45);
        let ticker = greenshim::spawn(|| {
            (0..20).for_each(|_| std::thread::sleep(Duration::from_millis(1)));
            20
        });
        // A patched sleep of this green thread parks it: the ticker runs meanwhile.
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            ticker.is_finished(),
            "the ticker did not run while this green thread slept"
        );
        assert_eq!(client.call(21), 43);
        ticker.join().unwrap()
    })
    .join()
    .unwrap();
    println!("CALLS 2 PEAK 0 WAITS {} IN {ticks}", waits());
}

/// Waits of green threads that blocked their worker because they were inside a foreign
/// runtime or event loop.
fn waits() -> u64 {
    greenshim::runtime::park_stats().foreign_waits
}

/// Runs the child for clients of `kind` on `workers`; returns (calls, peak calls at once at
/// the server, waits left to the kernel).
fn run_child(kind: &str, workers: usize) -> (u32, usize, u64) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture"])
        .env("RUNTIME_CLIENTS_CASE", format!("{kind}:{workers}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            child.kill().unwrap();
            panic!("the child with {workers} worker(s) hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("CALLS "))
        .unwrap_or_else(|| {
            panic!(
                "the child with {workers} worker(s) failed ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let words: Vec<&str> = line.split_whitespace().collect();
    (
        words[1].parse().unwrap(),
        words[3].parse().unwrap(),
        words[5].parse().unwrap(),
    )
}

/// Runs [`CLIENTS`] clients of `kind` on `workers`: every call answered right, every client's
/// waits left to the kernel, and with two workers two calls in flight at once.
fn clients_work(kind: &str, workers: usize) {
    let (calls, peak, waits) = run_child(kind, workers);
    assert_eq!(calls, CLIENTS * CALLS);
    assert!(
        waits >= u64::from(CLIENTS),
        "only {waits} waits blocked the worker"
    );
    if workers > 1 && kind != "timers-only" {
        // Both workers make calls at the same time: the server saw two at once.
        assert!(peak >= 2, "calls never overlapped (peak {peak})");
    }
}

#[test]
fn own_current_thread_runtime_per_client_one_worker() {
    clients_work("current-thread", 1);
}

#[test]
fn own_current_thread_runtime_per_client_two_workers() {
    clients_work("current-thread", 2);
}

#[test]
fn shared_multi_thread_runtime_one_worker() {
    clients_work("multi-thread", 1);
}

#[test]
fn shared_multi_thread_runtime_two_workers() {
    clients_work("multi-thread", 2);
}

#[test]
fn current_thread_runtime_with_timers_only_two_workers() {
    clients_work("timers-only", 2);
}

#[test]
fn after_a_call_the_green_thread_is_cooperative_again_one_worker() {
    let (calls, _peak, _waits) = run_child("then-cooperative", 1);
    assert_eq!(calls, 2);
}
