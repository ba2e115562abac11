//! Pass-through stays exact: the same libc-level operations on a plain OS thread, before and
//! after `patch_all()`, give the same results, errno values and timing behaviour.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use greenshim::monkey::{self, Family};

/// One run of the scenario: a line per operation.
fn scenario() -> Vec<String> {
    let mut t = Vec::new();
    let errno = |r: io::Error| r.raw_os_error();
    let waited =
        |start: Instant, at_least_ms: u64| start.elapsed() >= Duration::from_millis(at_least_ms);

    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    t.push(format!(
        "refused: {:?}",
        TcpStream::connect(closed).map_err(errno).err()
    ));

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut c = TcpStream::connect(addr).unwrap();
    let (mut s, _) = listener.accept().unwrap();
    // SAFETY: F_GETFL on a live fd.
    let fl = unsafe { libc::fcntl(c.as_raw_fd(), libc::F_GETFL) };
    t.push(format!("blocking flag: {}", fl & libc::O_NONBLOCK));
    c.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let start = Instant::now();
    let r = c.read(&mut [0; 4]).map_err(errno);
    t.push(format!("read timeout: {r:?} waited {}", waited(start, 95)));
    s.write_all(b"abc").unwrap();
    let mut buf = [0; 8];
    t.push(format!(
        "read: {:?}",
        c.read(&mut buf).map(|n| buf[..n].to_vec())
    ));
    c.set_nonblocking(true).unwrap();
    // SAFETY: as above.
    let fl = unsafe { libc::fcntl(c.as_raw_fd(), libc::F_GETFL) };
    t.push(format!("nonblocking flag: {}", fl & libc::O_NONBLOCK));
    let start = Instant::now();
    let r = c.read(&mut [0; 4]).map_err(errno);
    t.push(format!(
        "nonblocking read: {r:?} quick {}",
        !waited(start, 50)
    ));
    drop(s);
    c.set_nonblocking(false).unwrap();
    t.push(format!("eof: {:?}", c.read(&mut [0; 4]).map_err(errno)));

    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two fds.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let mut p = libc::pollfd {
        fd: fds[0],
        events: libc::POLLIN,
        revents: 0,
    };
    let start = Instant::now();
    // SAFETY: one live pollfd.
    let n = unsafe { libc::poll(&mut p, 1, 60) };
    t.push(format!("poll empty pipe: {n} waited {}", waited(start, 55)));
    // SAFETY: writes one byte from a live buffer.
    assert_eq!(unsafe { libc::write(fds[1], b"x".as_ptr().cast(), 1) }, 1);
    // SAFETY: as above.
    let n = unsafe { libc::poll(&mut p, 1, 60) };
    t.push(format!("poll full pipe: {n} revents {}", p.revents));
    let mut byte = 0u8;
    // SAFETY: reads one byte into a live u8.
    let n = unsafe { libc::read(fds[0], (&raw mut byte).cast(), 1) };
    t.push(format!("pipe read: {n} {byte}"));
    // SAFETY: closes fds this scenario owns.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    // SAFETY: reading an fd that was just closed fails with EBADF, nothing else.
    let n = unsafe { libc::read(fds[0], (&raw mut byte).cast(), 1) };
    t.push(format!(
        "read closed fd: {n} {:?}",
        io::Error::last_os_error().raw_os_error()
    ));
    // SAFETY: as above.
    let n = unsafe { libc::close(-1) };
    t.push(format!(
        "close(-1): {n} {:?}",
        io::Error::last_os_error().raw_os_error()
    ));

    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(30));
    t.push(format!("sleep waited {}", waited(start, 30)));
    let st = std::process::Command::new("sh")
        .args(["-c", "exit 7"])
        .status()
        .unwrap();
    t.push(format!("child: {:?}", st.code()));
    t.extend(lock_stress());
    t
}

/// std, parking_lot and crossbeam-channel synchronisation between 4 plain OS threads: the
/// futex calls they make pass through the Locks family's `syscall` once patched.
fn lock_stress() -> Vec<String> {
    use std::sync::{Arc, Condvar, Mutex};
    const PER: u64 = 20_000;
    let std_lock = Arc::new((Mutex::new(0u64), Condvar::new()));
    let pl_lock = Arc::new((parking_lot::Mutex::new(0u64), parking_lot::Condvar::new()));
    let (tx, rx) = std::sync::mpsc::sync_channel::<u64>(0);
    let (ctx, crx) = crossbeam_channel::bounded::<u64>(0);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (std_lock, pl_lock, tx, ctx) =
                (std_lock.clone(), pl_lock.clone(), tx.clone(), ctx.clone());
            std::thread::spawn(move || {
                for i in 0..PER {
                    *std_lock.0.lock().unwrap() += 1;
                    *pl_lock.0.lock() += 1;
                    if i % 1000 == 0 {
                        tx.send(i).unwrap();
                        ctx.send(i).unwrap();
                        std_lock.1.notify_all();
                        pl_lock.1.notify_all();
                    }
                }
            })
        })
        .collect();
    drop((tx, ctx));
    let std_sum = std::thread::spawn(move || rx.iter().sum::<u64>());
    let cb_sum = std::thread::spawn(move || crx.iter().sum::<u64>());
    {
        // A condvar waiter on each lock, woken by the notifications above or its timeout.
        let mut g = std_lock.0.lock().unwrap();
        while *g < 4 * PER {
            g = std_lock
                .1
                .wait_timeout(g, Duration::from_millis(5))
                .unwrap()
                .0;
        }
        let mut g = pl_lock.0.lock();
        while *g < 4 * PER {
            pl_lock.1.wait_for(&mut g, Duration::from_millis(5));
        }
    }
    for t in threads {
        t.join().unwrap();
    }
    let (std_sum, cb_sum) = (std_sum.join().unwrap(), cb_sum.join().unwrap());
    vec![
        format!("std mutex: {}", *std_lock.0.lock().unwrap()),
        format!("parking_lot mutex: {}", *pl_lock.0.lock()),
        format!("std rendezvous sum: {std_sum}"),
        format!("crossbeam rendezvous sum: {cb_sum}"),
    ]
}

#[test]
fn plain_threads_see_the_same_libc_before_and_after_the_patch() {
    let before = std::thread::spawn(scenario).join().unwrap();
    monkey::patch_all().unwrap();
    let passed = monkey::stats().family(Family::Sockets).passed_through;
    let locks_passed = monkey::stats().family(Family::Locks).passed_through;
    let after = std::thread::spawn(scenario).join().unwrap();
    assert_eq!(before, after);
    assert!(monkey::stats().family(Family::Sockets).passed_through > passed);
    // The futex waits of the lock stress reached the Locks family's hook and passed through.
    assert!(monkey::stats().family(Family::Locks).passed_through > locks_passed);
    assert_eq!(before.len(), 18, "{before:#?}");
    assert_eq!(
        before[14..],
        [
            "std mutex: 80000",
            "parking_lot mutex: 80000",
            "std rendezvous sum: 760000",
            "crossbeam rendezvous sum: 760000"
        ]
    );
}
