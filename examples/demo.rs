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

    // 5. Diagnostics: what each green thread waits on, and who holds a worker.
    diagnostics_demo();
}

/// Section 5: `run_info` while one green thread computes without parking, and the blocking
/// detector's report about it.
fn diagnostics_demo() {
    use greenshim::monitor;
    monitor::set_reporter(|r| println!("  monitor report: {r}"));
    monitor::enable(Duration::from_millis(100));
    let (tx, rx) = greenshim::sync::mpsc::channel::<()>();
    let waiter = Builder::new()
        .name("waiting-for-a-message")
        .spawn(move || rx.recv().is_ok())
        .expect("spawn");
    let sleeper = Builder::new()
        .name("sleeping")
        .spawn(|| sleep(Duration::from_secs(60)))
        .expect("spawn");
    let hog = Builder::new()
        .name("cpu-hog")
        .spawn(|| {
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(300) {
                std::hint::black_box(0u64);
            }
        })
        .expect("spawn");
    sleep(Duration::from_millis(50));
    println!("\ndiagnostics: greenshim::run_info() while \"cpu-hog\" computes for 300 ms:");
    for g in greenshim::run_info().green_threads {
        if g.name.is_some() {
            println!("  {g}");
        }
    }
    hog.join().expect("hog");
    tx.send(()).expect("send");
    assert!(waiter.join().expect("waiter"));
    sleeper.kill();
    assert!(sleeper.join().is_err());
    monitor::disable();
    monitor::clear_reporter();
}

/// How long the demo's slow server takes per request (a slow backend).
const SLOW: Duration = Duration::from_millis(100);
const FETCHES: usize = 1_000;

/// The "legacy" code of section 4: std only, written as if greenshim did not exist.
mod legacy {
    use std::io::{self, BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    /// A slow server: reads a request line, waits `delay` (std's sleep), answers.
    pub fn serve(listener: TcpListener, delay: std::time::Duration) {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            greenshim::spawn(move || {
                let mut line = String::new();
                if BufReader::new(&conn).read_line(&mut line).is_ok() {
                    std::thread::sleep(delay);
                    let _ = write!(conn, "answer to {}", line.trim_end());
                }
            });
        }
    }

    /// A blocking client: one request, the whole answer.
    pub fn fetch(addr: SocketAddr, i: usize) -> io::Result<String> {
        let mut s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
        writeln!(s, "GET /page/{i}")?;
        let mut body = String::new();
        s.read_to_string(&mut body)?;
        Ok(body)
    }

    /// A listener whose backlog holds every client of the demo at once (std's is 128; Linux
    /// lets `listen` be called again to change it).
    pub fn listener() -> TcpListener {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        // SAFETY: `listen` on a socket this function owns.
        unsafe { libc::listen(l.as_raw_fd(), 4096) };
        l
    }
}

/// Section 4: a std-only client and server, unchanged, run one after another, on a pool of OS
/// threads, and on green threads after `patch_all()`.
fn monkey_demo() {
    use greenshim::monkey::Family;
    let listener = legacy::listener();
    let addr = listener.local_addr().expect("address");
    spawn(move || legacy::serve(listener, SLOW));
    let check = |i: usize, body: &str| assert_eq!(body, format!("answer to GET /page/{i}"));

    // One after another: measured on 10 fetches, scaled to 1 000.
    let t = Instant::now();
    for i in 0..10 {
        check(i, &legacy::fetch(addr, i).expect("fetch"));
    }
    let sequential = t.elapsed().as_secs_f64() * (FETCHES / 10) as f64;

    // A pool of 50 OS threads sharing the 1 000 fetches.
    let t = Instant::now();
    let next = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..50 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= FETCHES {
                        break;
                    }
                    check(i, &legacy::fetch(addr, i).expect("fetch"));
                }
            });
        }
    });
    let pool = t.elapsed().as_secs_f64();

    // 1 000 green threads: the same function, nothing changed in it.
    let before = greenshim::monkey::stats();
    let t = Instant::now();
    let jobs: Vec<_> = (0..FETCHES)
        .map(|i| spawn(move || legacy::fetch(addr, i)))
        .collect();
    for (i, r) in joinall(jobs).into_iter().enumerate() {
        check(i, &r.expect("green thread").expect("fetch"));
    }
    let green = t.elapsed().as_secs_f64();
    let after = greenshim::monkey::stats();
    let coop = |f| after.family(f).cooperative - before.family(f).cooperative;
    println!(
        "\nmonkey:  a std-only blocking client, {FETCHES} fetches from a local server that takes \
         {SLOW:?} per request (std-only too):\n         one after another {sequential:.1} s (10 \
         measured, scaled) | 50 OS threads {pool:.2} s | {FETCHES} green threads after \
         patch_all() {green:.2} s\n         ({} socket calls and {} sleeps took the \
         cooperative path)",
        coop(Family::Sockets),
        coop(Family::Sleep),
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
