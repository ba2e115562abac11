//! The monkey patch's Sockets, Poll and Process families: plain std code, written as if
//! greenshim did not exist (`std::net`, `connect_timeout`, `set_read_timeout`, `io::copy`,
//! `Command::output`), run on green threads on ONE worker after `patch_all()`. Everything
//! overlaps, the family counters prove the cooperative path ran, and results equal those of
//! the same code on plain OS threads, where every hook passes through.

mod util;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::process::Command;
use std::sync::Once;
use std::time::{Duration, Instant};

use greenshim::monkey::{self, Family};

fn patched() {
    static PATCH: Once = Once::new();
    util::workers(1);
    PATCH.call_once(|| monkey::patch_all().expect("patch before any spawn"));
    for f in [Family::Sockets, Family::Poll, Family::Process] {
        assert!(monkey::is_patched(f));
    }
}

fn coop(f: Family) -> u64 {
    monkey::stats().family(f).cooperative
}

/// A std-only server: one line in, a 200 ms "slow backend" (std's sleep), the line reversed
/// out. Runs on green threads; every call in it is plain std.
fn slow_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    greenshim::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            greenshim::spawn(move || {
                let mut line = String::new();
                if BufReader::new(&conn).read_line(&mut line).is_ok() {
                    std::thread::sleep(Duration::from_millis(200));
                    let reply: String = line.trim_end().chars().rev().collect();
                    conn.write_all(reply.as_bytes()).ok();
                }
            });
        }
    });
    addr
}

/// The legacy client: knows nothing of greenshim.
fn legacy_client(addr: SocketAddr, i: usize) -> io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    writeln!(s, "request-{i}")?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    Ok(reply)
}

#[test]
fn the_binary_exports_the_socket_poll_and_process_interposers() {
    patched();
    for (name, ours) in [
        (
            c"recv",
            greenshim_shim::interpose::sockets::recv as *const (),
        ),
        (
            c"accept4",
            greenshim_shim::interpose::sockets::accept4 as *const (),
        ),
        (c"poll", greenshim_shim::interpose::poll::poll as *const ()),
        (
            c"__read_chk",
            greenshim_shim::interpose::sockets::__read_chk as *const (),
        ),
        (
            c"waitpid",
            greenshim_shim::interpose::process::waitpid as *const (),
        ),
    ] {
        // SAFETY: dlsym with a NUL-terminated name.
        let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
        assert_eq!(found as *const (), ours, "{name:?}");
    }
}

#[test]
fn std_clients_and_server_overlap_on_one_worker_and_match_plain_threads() {
    patched();
    let addr = slow_server();
    let (sockets, polls) = (coop(Family::Sockets), coop(Family::Poll));
    let parks = util::green_parks();
    let start = Instant::now();
    let gs: Vec<_> = (0..200)
        .map(|i| greenshim::spawn(move || legacy_client(addr, i)))
        .collect();
    let green: Vec<String> = greenshim::joinall(gs)
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let took = start.elapsed();
    // 200 requests of 200 ms each on one worker: overlapped, nowhere near 40 s.
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert!(
        coop(Family::Sockets) - sockets >= 600,
        "accept, read, write per request"
    );
    assert!(coop(Family::Poll) - polls >= 1, "connect_timeout polls");
    assert!(util::green_parks() - parks >= 200);

    // The same client on plain OS threads: every hook passes through; same answers.
    let plain: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..20)
            .map(|i| s.spawn(move || legacy_client(addr, i).unwrap()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(plain, green[..20]);
    assert_eq!(green[7], "7-tseuqer");
}

#[test]
fn read_timeouts_are_park_deadlines_with_std_errors() {
    patched();
    // A server that accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(51).collect();
        std::thread::sleep(Duration::from_secs(3));
        drop(conns);
    });
    fn attempt(addr: SocketAddr) -> (io::ErrorKind, Duration) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        assert_eq!(s.read_timeout().unwrap(), Some(Duration::from_millis(300)));
        let t = Instant::now();
        let err = s.read(&mut [0; 8]).unwrap_err();
        (err.kind(), t.elapsed())
    }
    let (plain_kind, _) = attempt(addr);
    let start = Instant::now();
    let gs: Vec<_> = (0..50)
        .map(|_| greenshim::spawn(move || attempt(addr)))
        .collect();
    for r in greenshim::joinall(gs) {
        let (kind, waited) = r.unwrap();
        assert_eq!(kind, plain_kind);
        assert_eq!(kind, io::ErrorKind::WouldBlock);
        assert!(waited >= Duration::from_millis(290), "{waited:?}");
    }
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "50 timeouts overlap"
    );
    hold.join().unwrap();
}

#[test]
fn nonblocking_mode_is_the_users_and_the_kernel_flag_is_hidden() {
    patched();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let g = greenshim::spawn(move || {
        let s = TcpStream::connect(addr).unwrap();
        let (_peer, _) = listener.accept().unwrap();
        let fd = s.as_raw_fd();
        let flags = || {
            // SAFETY: F_GETFL on a live fd.
            unsafe { libc::fcntl(fd, libc::F_GETFL) }
        };
        // Adopted by the connect: the kernel fd is non-blocking, the user's is not.
        assert_eq!(flags() & libc::O_NONBLOCK, 0);
        s.set_nonblocking(true).unwrap();
        assert_ne!(flags() & libc::O_NONBLOCK, 0);
        let t = Instant::now();
        let err = (&s).read(&mut [0; 4]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(t.elapsed() < Duration::from_secs(1));
        s.set_nonblocking(false).unwrap();
        assert_eq!(flags() & libc::O_NONBLOCK, 0);
        // Blocking again: the read waits (bounded by a timeout here).
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let err = (&s).read(&mut [0; 4]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    });
    g.join().unwrap();
}

#[test]
fn refused_connects_and_resets_give_std_errors_on_both_kinds_of_thread() {
    patched();
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let plain = TcpStream::connect(closed).unwrap_err().kind();
    let green = greenshim::spawn(move || TcpStream::connect(closed).unwrap_err().kind())
        .join()
        .unwrap();
    assert_eq!(plain, io::ErrorKind::ConnectionRefused);
    assert_eq!(green, plain);
    let green = greenshim::spawn(move || {
        TcpStream::connect_timeout(&closed, Duration::from_secs(2))
            .unwrap_err()
            .kind()
    })
    .join()
    .unwrap();
    assert_eq!(green, plain);
}

#[test]
fn io_copy_between_std_sockets() {
    patched();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    const N: usize = 4 << 20;
    // A std echo server using io::copy on the accepted stream.
    greenshim::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut r = conn.try_clone().unwrap();
        let mut w = conn;
        io::copy(&mut r, &mut w).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let g = greenshim::spawn(move || {
        let s = TcpStream::connect(addr).unwrap();
        let mut w = s.try_clone().unwrap();
        let writer = greenshim::spawn(move || {
            let data: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
            w.write_all(&data).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        });
        let mut back = Vec::new();
        (&s).read_to_end(&mut back).unwrap();
        writer.join().unwrap();
        back
    });
    let back = g.join().unwrap();
    assert_eq!(back.len(), N);
    assert!(back.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
}

#[test]
fn command_output_overlaps_on_one_worker() {
    patched();
    let run = || {
        Command::new("sh")
            .args(["-c", "sleep 0.3; echo out; echo err >&2; exit 3"])
            .output()
            .unwrap()
    };
    let plain = run();
    let before = coop(Family::Process);
    let start = Instant::now();
    let gs: Vec<_> = (0..20).map(|_| greenshim::spawn(run)).collect();
    for out in greenshim::joinall(gs) {
        let out = out.unwrap();
        assert_eq!(out.status.code(), plain.status.code());
        assert_eq!(out.stdout, plain.stdout);
        assert_eq!(out.stderr, plain.stderr);
    }
    assert_eq!(plain.status.code(), Some(3));
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    assert!(coop(Family::Process) - before >= 20);
}

#[test]
fn kill_and_timeout_end_a_patched_read() {
    patched();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(2).collect();
        std::thread::sleep(Duration::from_secs(2));
        drop(conns);
    });
    // Legacy code that reports what its read returned.
    fn blocked_read(addr: SocketAddr) -> io::Result<usize> {
        TcpStream::connect(addr)?.read(&mut [0; 8])
    }
    let g = greenshim::spawn(move || blocked_read(addr));
    std::thread::sleep(Duration::from_millis(100));
    g.kill();
    match g.join_timeout(Duration::from_secs(5)) {
        Ok(r) => assert!(matches!(r, Err(greenshim::JoinError::Killed)), "{r:?}"),
        Err(_) => panic!("the kill did not end the patched read"),
    }
    let g = greenshim::spawn(move || {
        let t = Instant::now();
        let r = greenshim::Timeout::new(Duration::from_millis(150)).run(|| blocked_read(addr));
        (r.map_err(|_| "elapsed"), t.elapsed())
    });
    let (r, took) = g.join().unwrap();
    assert_eq!(r.err(), Some("elapsed"));
    assert!(took < Duration::from_secs(1), "{took:?}");
    hold.join().unwrap();
}

#[test]
fn closing_an_fd_wakes_its_parked_reader_with_ebadf() {
    patched();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = std::thread::spawn(move || {
        let c = listener.accept();
        std::thread::sleep(Duration::from_secs(2));
        drop(c);
    });
    let g = greenshim::spawn(move || {
        let s = TcpStream::connect(addr).unwrap();
        let fd = s.as_raw_fd();
        std::mem::forget(s);
        let closer = greenshim::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            // SAFETY: closes the fd the reader waits on (it owns nothing else).
            unsafe { libc::close(fd) };
        });
        // SAFETY: a borrowed view of the fd, never dropped (the closer closes it).
        let s = std::mem::ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd) });
        let t = Instant::now();
        let err = (&*s).read(&mut [0; 8]).unwrap_err();
        closer.join().unwrap();
        (err.raw_os_error(), t.elapsed())
    });
    let (code, took) = g.join().unwrap();
    assert_eq!(code, Some(libc::EBADF));
    assert!(took < Duration::from_secs(1), "{took:?}");
    hold.join().unwrap();
}

#[test]
fn a_socket_adopted_on_a_green_thread_still_blocks_on_a_plain_thread() {
    patched();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Connected on a green thread: adopted, so the kernel fd is non-blocking from now on.
    let stream = greenshim::spawn(move || TcpStream::connect(addr).unwrap())
        .join()
        .unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = stream;
        let mut buf = [0; 5];
        // A plain blocking read_exact: must wait for the data, not fail with EAGAIN.
        s.read_exact(&mut buf).map(|()| buf)
    });
    std::thread::sleep(Duration::from_millis(100));
    peer.write_all(b"hello").unwrap();
    assert_eq!(&reader.join().unwrap().unwrap(), b"hello");
}
