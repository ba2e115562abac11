//! Faults on the net mirror: peer resets, an fd released while green threads (and plain
//! threads) wait on it, kill and `Timeout` while parked in a socket call.

mod util;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenshim::net::{TcpListener, TcpStream};
use greenshim::os::unix::net::UnixStream;

/// How many threads wait to read `fd` (0 if greenshim never saw it).
fn readers(fd: std::os::fd::RawFd) -> usize {
    greenshim_shim::fd::table::lookup(fd).map_or(0, |e| {
        e.side(greenshim_shim::fd::table::Interest::Read).waiters()
    })
}

fn connected_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// Closes `s` with an RST instead of a FIN (`SO_LINGER` with a zero timeout).
fn reset(s: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads `size_of::<linger>()` bytes from a live local.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
    drop(s);
}

#[test]
fn a_peer_reset_reaches_a_parked_reader_as_connection_reset() {
    util::workers(1);
    let (c, s) = connected_pair();
    let fd = c.as_raw_fd();
    let reader = greenshim::spawn(move || {
        let mut c = c;
        let mut buf = [0u8; 8];
        c.read(&mut buf).map_err(|e| e.kind())
    });
    util::eventually(Duration::from_secs(5), "reader parks", || readers(fd) == 1);
    reset(s);
    assert_eq!(
        reader.join().unwrap(),
        Err(std::io::ErrorKind::ConnectionReset)
    );
}

#[test]
fn releasing_an_fd_wakes_its_green_and_plain_waiters_with_ebadf() {
    util::workers(1);
    let (a, _b) = UnixStream::pair().unwrap();
    let a = Arc::new(a);
    let green = {
        let a = a.clone();
        greenshim::spawn(move || {
            let mut buf = [0u8; 8];
            (&*a).read(&mut buf).map_err(|e| e.raw_os_error())
        })
    };
    let plain = {
        let a = a.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8];
            (&*a).read(&mut buf).map_err(|e| e.raw_os_error())
        })
    };
    // Both are parked on the fd: two waiters on its read side.
    let fd = a.as_raw_fd();
    util::eventually(Duration::from_secs(5), "both waiters queue", || {
        readers(fd) == 2
    });
    let t = Instant::now();
    // What a close (the monkey patch's, or a drop elsewhere) does before the real close.
    greenshim_shim::fd::close::release(fd, false);
    assert_eq!(green.join().unwrap(), Err(Some(libc::EBADF)));
    assert_eq!(plain.join().unwrap(), Err(Some(libc::EBADF)));
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "woken after {:?}",
        t.elapsed()
    );
}

#[test]
fn kill_reaches_a_green_thread_parked_in_read_and_drops_its_socket() {
    util::workers(1);
    let (c, mut s) = connected_pair();
    let fd = c.as_raw_fd();
    let reader = greenshim::spawn(move || {
        let mut c = c;
        let mut buf = [0u8; 8];
        let _ = c.read(&mut buf);
        unreachable!("the read is never satisfied");
    });
    util::eventually(Duration::from_secs(5), "reader parks", || readers(fd) == 1);
    reader.kill();
    assert!(reader.join().unwrap_err().is_killed());
    // The killed reader's stream was dropped during unwinding: the peer sees EOF.
    let mut buf = [0u8; 1];
    assert_eq!(s.read(&mut buf).unwrap(), 0);
}

#[test]
fn timeout_interrupts_a_socket_read_on_green_and_plain_threads() {
    util::workers(1);
    let (c, _s) = connected_pair();
    let c = Arc::new(c);
    let read_with_timeout = |c: Arc<TcpStream>| {
        let t = Instant::now();
        let r = greenshim::Timeout::new(Duration::from_millis(50)).run(|| {
            let mut buf = [0u8; 8];
            (&*c).read(&mut buf).map(|_| ())
        });
        (r.is_err(), t.elapsed())
    };
    let c2 = c.clone();
    let (elapsed_green, took) = greenshim::spawn(move || read_with_timeout(c2))
        .join()
        .unwrap();
    assert!(elapsed_green, "the green read was not cut short");
    assert!(took < Duration::from_secs(2), "{took:?}");
    let (elapsed_plain, took) = read_with_timeout(c.clone());
    assert!(elapsed_plain, "the plain-thread read was not cut short");
    assert!(took < Duration::from_secs(2), "{took:?}");
    // The stream still works after both interrupted reads.
    (&*c).write_all(b"ok").unwrap();
}

#[test]
fn data_and_hang_up_in_one_event_reach_eof() {
    util::workers(1);
    // The reader parks first; the peer then writes and closes at once, so the reactor sees
    // readable and hung up together. After the short read of the data the reader must still
    // see EOF, though no further readiness edge will ever come.
    for _ in 0..50 {
        let (a, b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        let reader = greenshim::spawn(move || {
            let mut a = a;
            let mut all = Vec::new();
            a.read_to_end(&mut all).map(|_| all)
        });
        util::eventually(Duration::from_secs(5), "reader parks", || readers(fd) == 1);
        (&b).write_all(b"abc").unwrap();
        drop(b);
        let got = match reader.join_timeout(Duration::from_secs(5)) {
            Ok(r) => r.unwrap().unwrap(),
            Err(_) => panic!("the reader never saw EOF after the peer hung up"),
        };
        assert_eq!(got, b"abc");
    }
}
