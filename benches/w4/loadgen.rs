//! The W4 load generator (BENCHMARKS.md): C connections, each repeating {write 64 bytes; read
//! exactly 64 back; verify} for D seconds after a warm-up; requests/s and p50/p99 latency.
//!
//! One epoll loop per load thread (level-triggered, non-blocking sockets), so the generator
//! itself is cheap enough to share a small machine with the server under test.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::common::epoll_loop as epoll;

/// What one load run measured.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Requests answered (and verified) during the measured period.
    pub requests: u64,
    /// Length of the measured period in seconds.
    pub secs: f64,
    /// Median request latency in microseconds.
    pub p50_us: f64,
    /// 99th-percentile request latency in microseconds.
    pub p99_us: f64,
    /// Connections that failed or answered wrongly.
    pub errors: u64,
}

impl Load {
    /// Requests per second.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.secs
    }
}

struct Conn {
    stream: TcpStream,
    seq: u64,
    got: usize,
    buf: [u8; 64],
    sent_at: Instant,
}

fn request(conn: usize, seq: u64) -> [u8; 64] {
    let mut r = [0u8; 64];
    r[..8].copy_from_slice(&(conn as u64).to_le_bytes());
    r[8..16].copy_from_slice(&seq.to_le_bytes());
    for (i, b) in r[16..].iter_mut().enumerate() {
        *b = (i as u8) ^ (seq as u8);
    }
    r
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect(addr) {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Drives `conns` connections to `addr` on `threads` OS threads. `at_window_edge` runs on the
/// calling thread as the measured period opens and again as it closes (compare.rs reads the
/// server's CPU time there); it does not run at all when no connection could be set up.
pub fn run(
    addr: SocketAddr,
    conns: usize,
    threads: usize,
    warmup: Duration,
    duration: Duration,
    mut at_window_edge: impl FnMut(),
) -> io::Result<Load> {
    let threads = threads.clamp(1, conns.max(1));
    // Every connection is set up before the clock starts: slow connects (a full accept
    // backlog retries after a second) must not eat into the measured window.
    let ready = std::sync::Arc::new(std::sync::Barrier::new(threads));
    let (window_tx, window) = std::sync::mpsc::channel();
    let mut handles = Vec::new();
    for t in 0..threads {
        let share = conns / threads + usize::from(t < conns % threads);
        let first = (0..t)
            .map(|i| conns / threads + usize::from(i < conns % threads))
            .sum();
        let ready = ready.clone();
        let window_tx = window_tx.clone();
        handles.push(std::thread::spawn(move || {
            drive(addr, first, share, &ready, &window_tx, warmup, duration)
        }));
    }
    drop(window_tx);
    // Every sender is gone without a message when the threads failed before the clock started.
    if let Ok((from, end)) = window.recv() {
        std::thread::sleep(from.saturating_duration_since(Instant::now()));
        at_window_edge();
        std::thread::sleep(end.saturating_duration_since(Instant::now()));
        at_window_edge();
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (l, e) = h.join().expect("load thread panicked")?;
        lat.extend(l);
        errors += e;
    }
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |&ns| ns as f64 / 1000.0)
    };
    Ok(Load {
        requests: lat.len() as u64,
        secs: duration.as_secs_f64(),
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        errors,
    })
}

/// One load thread: returns the latencies (ns) of requests completed in the measured window
/// and the number of connections that failed. One of the threads sends the window to `window`.
fn drive(
    addr: SocketAddr,
    first: usize,
    n: usize,
    ready: &std::sync::Barrier,
    window: &std::sync::mpsc::Sender<(Instant, Instant)>,
    warmup: Duration,
    duration: Duration,
) -> io::Result<(Vec<u32>, u64)> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let s = connect(addr)?;
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        conns.push(Conn {
            stream: s,
            seq: 0,
            got: 0,
            buf: [0; 64],
            sent_at: Instant::now(),
        });
    }
    let ep = epoll::create()?;
    for (i, c) in conns.iter().enumerate() {
        let fd = c.stream.as_raw_fd();
        epoll::ctl(ep, libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN as u32, i as u64)?;
    }
    let started = ready.wait();
    let measure_from = Instant::now() + warmup;
    let end = measure_from + duration;
    if started.is_leader() {
        window.send((measure_from, end)).ok();
    }
    let mut errors = 0u64;
    let mut dead = vec![false; n];
    for (i, c) in conns.iter_mut().enumerate() {
        c.sent_at = Instant::now();
        if c.stream.write_all(&request(first + i, 0)).is_err() {
            dead[i] = true;
            errors += 1;
        }
    }
    let mut lat: Vec<u32> = Vec::with_capacity(1 << 20);
    // SAFETY: epoll_event is plain old data; all-zero is valid.
    let mut events = vec![unsafe { std::mem::zeroed::<libc::epoll_event>() }; 1024];
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        // SAFETY: `events` is a live buffer of 1024 entries.
        let k = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), 1024, 50) };
        if k < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in &events[..k as usize] {
            let i = ev.u64 as usize;
            if dead[i] {
                continue;
            }
            let c = &mut conns[i];
            match c.stream.read(&mut c.buf[c.got..]) {
                Ok(0) => {
                    dead[i] = true;
                    errors += 1;
                    continue;
                }
                Ok(m) => c.got += m,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(_) => {
                    dead[i] = true;
                    errors += 1;
                    continue;
                }
            }
            if c.got < 64 {
                continue;
            }
            let done = Instant::now();
            if c.buf != request(first + i, c.seq) {
                dead[i] = true;
                errors += 1;
                continue;
            }
            if c.sent_at >= measure_from && done <= end {
                lat.push((done - c.sent_at).as_nanos().min(u32::MAX as u128) as u32);
            }
            c.seq += 1;
            c.got = 0;
            c.sent_at = done;
            if c.stream.write_all(&request(first + i, c.seq)).is_err() {
                dead[i] = true;
                errors += 1;
            }
        }
    }
    // SAFETY: `ep` is an fd this function opened and closes once.
    unsafe { libc::close(ep) };
    Ok((lat, errors))
}
