//! greenshim's demonstration: ten thousand blocking green threads on a couple of OS threads.
//!
//! Run with `cargo run --release --example demo`. No arguments; finishes in a few seconds.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::io::{Read, Write};

use greenshim::net::{TcpListener, TcpStream};
use greenshim::{Builder, Timeout, joinall, sleep, spawn};

const GREEN_THREADS: u64 = 10_000;
const STEPS: u64 = 5;
const STEP: Duration = Duration::from_millis(100);

fn main() {
    let settings = greenshim::runtime::start().expect("runtime");
    // Before the first spawn: unmodified std code on green threads becomes cooperative
    // (section 4).
    greenshim::monkey::patch_all().expect("monkey patch");
    println!(
        "greenshim demo: {GREEN_THREADS} green threads, each blocking {STEPS} times for {STEP:?}, on {} worker OS thread(s)\n",
        settings.workers
    );

    // 1. Ten thousand copies of plain blocking code.
    let progress = Arc::new(AtomicU64::new(0));
    let os_threads = Arc::new(Mutex::new(HashSet::new()));
    let start = Instant::now();
    let greenlets: Vec<_> = (0..GREEN_THREADS)
        .map(|i| {
            let (progress, os_threads) = (progress.clone(), os_threads.clone());
            spawn(move || {
                for _ in 0..STEPS {
                    sleep(STEP); // blocking code: only this green thread waits
                    progress.fetch_add(1, Ordering::Relaxed);
                    // Which OS thread runs us right now (read and used with no park between).
                    let id = format!("{:?}", std::thread::current().id());
                    os_threads.lock().unwrap().insert(id);
                }
                i
            })
        })
        .collect();
    let watcher = std::thread::spawn({
        let progress = progress.clone();
        move || {
            let total = GREEN_THREADS * STEPS;
            loop {
                let done = progress.load(Ordering::Relaxed);
                println!(
                    "  t={:>6.3}s  {done:>6}/{total} sleeps finished",
                    start.elapsed().as_secs_f64()
                );
                if done == total {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    let sum: u64 = joinall(greenlets)
        .into_iter()
        .map(|r| r.expect("green thread failed"))
        .sum();
    let elapsed = start.elapsed();
    watcher.join().unwrap();
    assert_eq!(sum, GREEN_THREADS * (GREEN_THREADS - 1) / 2);
    let sequential = STEP * (GREEN_THREADS * STEPS) as u32;
    println!(
        "\n{} sleeps of {STEP:?} took {:.2} s on {} OS thread(s) (one after another: {:.0} s, {:.0}x less)\n",
        GREEN_THREADS * STEPS,
        elapsed.as_secs_f64(),
        os_threads.lock().unwrap().len(),
        sequential.as_secs_f64(),
        sequential.as_secs_f64() / elapsed.as_secs_f64(),
    );

    // 2. Sockets: blocking std-shaped code, one green thread per connection.
    echo_demo();

    // 3. gevent's lifecycle: kill a blocked green thread, time out a blocking block.
    let stuck = Builder::new()
        .name("stuck")
        .spawn(|| sleep(Duration::from_secs(3600)))
        .expect("spawn");
    sleep(Duration::from_millis(10));
    let t = Instant::now();
    stuck.kill();
    let outcome = stuck.join();
    println!(
        "kill:    a green thread blocked for an hour was killed in {:?}: {:?}",
        t.elapsed(),
        outcome.err()
    );
    let t = Instant::now();
    let r = Timeout::new(Duration::from_millis(50)).run(|| sleep(Duration::from_secs(3600)));
    println!(
        "timeout: a blocking call under a 50 ms Timeout returned {:?} after {:?}",
        r.err(),
        t.elapsed()
    );
    let panicked = spawn(|| -> u8 { panic!("contained") }).join();
    println!(
        "panic:   a panicking green thread is joined as {:?}; the program goes on",
        panicked.err()
    );

    // 4. The monkey patch: code that knows nothing of greenshim.
    monkey_demo();
}

/// A "legacy" function: std only, written as if greenshim did not exist.
fn legacy_job(i: u64) -> u64 {
    use std::net::ToSocketAddrs;
    std::thread::sleep(Duration::from_millis(100));
    let resolved = ("localhost", 80).to_socket_addrs().map_or(0, |a| a.count());
    i + u64::from(resolved > 0)
}

fn monkey_demo() {
    const JOBS: u64 = 1_000;
    let before = greenshim::monkey::stats();
    let t = Instant::now();
    let jobs: Vec<_> = (0..JOBS).map(|i| spawn(move || legacy_job(i))).collect();
    let sum: u64 = joinall(jobs).into_iter().map(|r| r.expect("job")).sum();
    assert_eq!(sum, JOBS * (JOBS - 1) / 2 + JOBS);
    let after = greenshim::monkey::stats();
    use greenshim::monkey::Family;
    println!(
        "\nmonkey:  {JOBS} runs of a std-only function (std::thread::sleep 100 ms + a std name \
         lookup) on green threads after patch_all(): {:.2} s (one after another: {:.0} s); \
         {} sleeps parked, {} lookups ran off the worker",
        t.elapsed().as_secs_f64(),
        JOBS as f64 * 0.1,
        after.family(Family::Sleep).cooperative - before.family(Family::Sleep).cooperative,
        after.family(Family::Dns).cooperative - before.family(Family::Dns).cooperative,
    );
}

const CLIENTS: usize = 2_000;
const ROUND_TRIPS: usize = 20;

/// An echo server and 2 000 clients, all blocking code on green threads, all connections open
/// at once.
fn echo_demo() {
    let before = greenshim::live_count();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = spawn(move || {
        for conn in listener.incoming() {
            let mut conn = conn.expect("accept");
            spawn(move || {
                let mut buf = [0u8; 1024];
                while let Ok(n @ 1..) = conn.read(&mut buf) {
                    conn.write_all(&buf[..n]).expect("echo");
                }
            });
        }
    });
    let start = Instant::now();
    // Open every connection first, in waves below std's listen backlog of 128 (beyond it the
    // kernel drops connection requests and clients retry after a second, green or not).
    let mut streams = Vec::new();
    for _ in 0..CLIENTS / 50 {
        let wave: Vec<_> = (0..50)
            .map(|_| spawn(move || TcpStream::connect(addr).expect("connect")))
            .collect();
        streams.extend(joinall(wave).into_iter().map(|r| r.expect("connect")));
    }
    let clients: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(i, mut s)| {
            spawn(move || {
                let mut back = [0u8; 32];
                for r in 0..ROUND_TRIPS {
                    let msg = [(i + r) as u8; 32];
                    s.write_all(&msg).expect("send");
                    s.read_exact(&mut back).expect("receive");
                    assert_eq!(back, msg);
                }
                s
            })
        })
        .collect();
    let open: Vec<_> = joinall(clients)
        .into_iter()
        .map(|r| r.expect("client"))
        .collect();
    let elapsed = start.elapsed();
    println!(
        "sockets: {CLIENTS} connections open at once, {} echo round trips in {:.2} s \
         ({:.0}/s), plain blocking read/write on green threads\n",
        CLIENTS * ROUND_TRIPS,
        elapsed.as_secs_f64(),
        (CLIENTS * ROUND_TRIPS) as f64 / elapsed.as_secs_f64()
    );
    drop(open);
    server.kill();
    // Let the 2 000 connection handlers see EOF and finish before the next part.
    while greenshim::live_count() > before {
        sleep(Duration::from_millis(1));
    }
}
