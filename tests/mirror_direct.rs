//! The socket mirrors make their reads and writes themselves, through greenshim's retry loop
//! and `sys`: with the monkey patch on, their traffic never enters the interposers (no
//! family counter moves), and reads, vectored reads and writes, blocking waits and
//! non-blocking `WouldBlock` still behave as std's. Its own binary: it counts the Sockets
//! family's calls process-wide.

mod util;

use std::io::{ErrorKind, IoSlice, IoSliceMut, Read, Write};

use greenshim::monkey::{self, Family};
use greenshim::net::{TcpListener, TcpStream};
use greenshim::os::unix::net::UnixStream;

/// The tests count process-wide: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn hook_calls() -> u64 {
    let s = monkey::stats().family(Family::Sockets);
    s.cooperative + s.passed_through
}

/// Rounds of 100 exchanges on a connected pair, half of them vectored, counting the interposer
/// calls made meanwhile (process-wide); then one read that waits for its writer. Returns the
/// fewest calls a round saw, after up to 5 rounds: a mirror call that entered the interposers
/// would show in every round, while a round can also count calls from elsewhere (a park lets
/// may's own wake-ups write and read eventfds through the hooks; under CPU contention 3 calls
/// from an unknown source were seen in 2 of about 150 runs).
fn exchanges<S>(mut a: S, mut b: S) -> (usize, u64)
where
    S: Read + Write + Send + 'static,
    for<'a> &'a S: Read + Write,
{
    let mut moved = 0;
    let mut buf = [0u8; 64];
    let mut calls = u64::MAX;
    for _round in 0..5 {
        moved = 0;
        let before = hook_calls();
        for i in 0..100u8 {
            if i % 2 == 0 {
                a.write_all(&[i; 10]).unwrap();
                b.read_exact(&mut buf[..10]).unwrap();
            } else {
                let n = a
                    .write_vectored(&[IoSlice::new(&[i; 4]), IoSlice::new(&[i; 6])])
                    .unwrap();
                assert_eq!(n, 10);
                let (x, y) = buf.split_at_mut(3);
                let got = b
                    .read_vectored(&mut [
                        IoSliceMut::new(&mut x[..3]),
                        IoSliceMut::new(&mut y[..7]),
                    ])
                    .unwrap();
                assert_eq!(
                    got, 10,
                    "one vectored write arrives whole on a quiet connection"
                );
            }
            assert!(buf[..10].iter().all(|&v| v == i), "exchange {i}");
            moved += 10;
        }
        calls = calls.min(hook_calls() - before);
        if calls == 0 {
            break;
        }
    }
    // A read that has to wait: the writer (on the same worker) sends once the reader parked.
    let writer = greenshim::spawn(move || {
        for _ in 0..3 {
            greenshim::thread::yield_now();
        }
        a.write_all(b"late").unwrap();
        a
    });
    b.read_exact(&mut buf[..4]).unwrap();
    assert_eq!(&buf[..4], b"late");
    drop(writer.join().unwrap());
    (moved + 4, calls)
}

#[test]
fn mirror_reads_and_writes_do_not_enter_the_interposers() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    util::workers(1);
    monkey::patch_all().unwrap();
    let calls = greenshim::spawn(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (b, _) = listener.accept().unwrap();
        b.set_nonblocking(true).unwrap();
        let mut one = [0u8];
        assert_eq!(
            (&b).read(&mut one).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        b.set_nonblocking(false).unwrap();
        let (ua, ub) = UnixStream::pair().unwrap();
        [exchanges(a, b), exchanges(ua, ub)]
    })
    .join()
    .unwrap();
    // (may's own wake-ups write eventfds through the hooks too, so the count is taken only
    // around exchanges that never wait.)
    assert_eq!(
        calls,
        [(1004, 0), (1004, 0)],
        "(bytes moved, interposer calls) per pair"
    );
}

/// The UDP mirror's datagram calls go through `sys` too: 50 rounds of `send_to`, `peek_from`
/// and `recv_from`, `connect`, then 50 of `send`, `peek` and `recv` on the connected pair,
/// with the senders' addresses right and no interposer call. The count is process-wide, and a
/// wake-up of may's elsewhere can land in it: the best of three runs must be 0 (through std,
/// each run makes 302 calls).
#[test]
fn udp_mirror_does_not_enter_the_interposers() {
    assert_best_of_three_is_zero("the UDP mirror", |_| udp_rounds());
}

/// Runs `rounds` (given the run's number) on a green thread three times, patched, one worker,
/// and checks the fewest interposer calls it counted is 0: the count is process-wide, and a
/// wake-up of may's elsewhere can land in one run.
fn assert_best_of_three_is_zero(what: &str, rounds: fn(u32) -> u64) {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    util::workers(1);
    monkey::patch_all().unwrap();
    let calls: Vec<u64> = (0..3)
        .map(|run| greenshim::spawn(move || rounds(run)).join().unwrap())
        .collect();
    assert_eq!(
        calls.iter().min(),
        Some(&0),
        "interposer calls made by {what}: {calls:?}"
    );
}

/// One run of [`udp_mirror_does_not_enter_the_interposers`]: the interposer calls made.
fn udp_rounds() -> u64 {
    use greenshim::net::UdpSocket;
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let mut buf = [0u8; 16];
    let before = hook_calls();
    for i in 0..50u8 {
        assert_eq!(b.send_to(&[i; 3], aa).unwrap(), 3);
        assert_eq!(a.peek_from(&mut buf).unwrap(), (3, ba));
        assert_eq!(a.recv_from(&mut buf).unwrap(), (3, ba));
        assert_eq!(buf[..3], [i; 3]);
    }
    a.connect(ba).unwrap();
    b.connect(aa).unwrap();
    for i in 0..50u8 {
        assert_eq!(b.send(&[i; 5]).unwrap(), 5);
        assert_eq!(a.peek(&mut buf).unwrap(), 5);
        assert_eq!(a.recv(&mut buf).unwrap(), 5);
        assert_eq!(buf[..5], [i; 5]);
    }
    hook_calls() - before
}

/// The Unix datagram mirror's `send`, `recv`, `send_to`, `recv_from` and `send_to_addr`, and
/// the Unix listener's `accept`, go through `sys` too (best of three runs, as above).
#[test]
fn unix_datagram_and_accept_do_not_enter_the_interposers() {
    assert_best_of_three_is_zero("the Unix mirrors", unix_rounds);
}

/// One run of [`unix_datagram_and_accept_do_not_enter_the_interposers`]: the interposer calls
/// made by one accept and 250 datagram exchanges (none of them waits).
fn unix_rounds(run: u32) -> u64 {
    use greenshim::os::unix::net::{UnixDatagram, UnixListener};
    let dir = std::env::temp_dir().join(format!("greenshim-mirror-direct-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (sock_path, dgram_path) = (dir.join(format!("l{run}")), dir.join(format!("d{run}")));
    let listener = UnixListener::bind(&sock_path).unwrap();
    let client = UnixStream::connect(&sock_path).unwrap();
    let bound = UnixDatagram::bind(&dgram_path).unwrap();
    let bound_addr = bound.local_addr().unwrap();
    let named_path = dir.join(format!("n{run}"));
    let named = UnixDatagram::bind(&named_path).unwrap();
    let (a, b) = UnixDatagram::pair().unwrap();
    let mut buf = [0u8; 16];
    let before = hook_calls();
    let (served, _) = listener.accept().unwrap();
    for i in 0..50u8 {
        assert_eq!(b.send(&[i; 4]).unwrap(), 4);
        assert_eq!(a.recv(&mut buf).unwrap(), 4);
        assert_eq!(a.send(&[i; 2]).unwrap(), 2);
        assert_eq!(b.recv(&mut buf).unwrap(), 2);
        assert_eq!(a.send_to(&[i; 3], &dgram_path).unwrap(), 3);
        assert_eq!(bound.recv(&mut buf).unwrap(), 3);
        assert_eq!(buf[..3], [i; 3]);
        assert_eq!(a.send_to(&[i; 2], &dgram_path).unwrap(), 2);
        let (n, from) = bound.recv_from(&mut buf).unwrap();
        assert_eq!((n, from.is_unnamed()), (2, true));
        assert_eq!(named.send_to_addr(&[i; 1], &bound_addr).unwrap(), 1);
        let (n, from) = bound.recv_from(&mut buf).unwrap();
        assert_eq!((n, from.as_pathname()), (1, Some(named_path.as_path())));
    }
    let calls = hook_calls() - before;
    drop((served, client));
    std::fs::remove_file(&sock_path).unwrap();
    std::fs::remove_file(&dgram_path).unwrap();
    std::fs::remove_file(&named_path).unwrap();
    calls
}
