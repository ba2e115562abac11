//! A non-blocking read tells what the kernel holds, even when no reactor has run since the
//! last short read. Its own binary: one worker, and the monkey patch for the std cases.
//!
//! Each case reads a short message (which marks the stream drained), has more bytes arrive,
//! and reads again at once, without a park in between, so the reactor has had no chance to
//! see the new bytes. The second read must return them, and a read after the peer hung up
//! must return 0, as std's own reads do on plain threads.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

/// One case at a time: a child that `Command::output` forks holds copies of every fd of this
/// process until it execs (close-on-exec), so a hang-up in another case could read as "would
/// block" meanwhile (seen once in 12 runs).
fn setup() -> std::sync::MutexGuard<'static, ()> {
    util::patched_one_at_a_time(1)
}

/// The stream types of the cases: a second handle, and non-blocking mode.
trait Stream: Read + Write + Send + 'static {
    fn dup(&self) -> Self;
    fn nonblocking(&self);
}

macro_rules! stream {
    ($($t:ty),*) => {$(
        impl Stream for $t {
            fn dup(&self) -> Self {
                self.try_clone().unwrap()
            }
            fn nonblocking(&self) {
                self.set_nonblocking(true).unwrap();
            }
        }
    )*};
}

stream!(
    greenshim::os::unix::net::UnixStream,
    greenshim::net::TcpStream,
    std::os::unix::net::UnixStream
);

/// What the reads of the scenario return: a blocking read that waits (so that the stream is
/// watched by the reactor, as a stream that has ever waited is), then in non-blocking mode the
/// two reads with data, the read of an empty open stream, and the read after the hang-up.
fn scenario<S: Stream>(mut a: S, mut b: S) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    let mut read = |b: &mut S| match b.read(&mut buf) {
        Ok(n) => format!("ok {:?}", &buf[..n]),
        Err(e) if e.kind() == ErrorKind::WouldBlock => "would block".to_owned(),
        Err(e) => format!("error {e}"),
    };
    let mut late = a.dup();
    let writer = greenshim::spawn(move || {
        greenshim::sleep(Duration::from_millis(50));
        late.write_all(b"zero").unwrap();
    });
    out.push(read(&mut b));
    writer.join().unwrap();
    b.nonblocking();
    a.write_all(b"first").unwrap();
    out.push(read(&mut b));
    out.push(read(&mut b));
    a.write_all(b"second").unwrap();
    out.push(read(&mut b));
    drop(a);
    out.push(read(&mut b));
    out
}

fn expected() -> Vec<String> {
    vec![
        format!("ok {:?}", b"zero"),
        format!("ok {:?}", b"first"),
        "would block".to_owned(),
        format!("ok {:?}", b"second"),
        "ok []".to_owned(),
    ]
}

fn on_green<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    util::watchdog(Duration::from_secs(30), move || {
        greenshim::spawn(f).join().unwrap()
    })
}

#[test]
fn a_mirror_unix_stream_reads_what_arrived_without_a_park() {
    let _serial = setup();
    let green = on_green(|| {
        let (a, b) = greenshim::os::unix::net::UnixStream::pair().unwrap();
        scenario(a, b)
    });
    assert_eq!(green, expected());
}

#[test]
fn a_mirror_tcp_stream_reads_what_arrived_without_a_park() {
    let _serial = setup();
    let green = on_green(|| {
        let l = greenshim::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = greenshim::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (b, _) = l.accept().unwrap();
        // Loopback delivers a write before `send` returns, so no wait is needed between them.
        scenario(a, b)
    });
    assert_eq!(green, expected());
}

#[test]
fn a_patched_std_unix_stream_reads_what_arrived_without_a_park() {
    let _serial = setup();
    let run = || {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        scenario(a, b)
    };
    let plain = util::watchdog(Duration::from_secs(30), run);
    assert_eq!(plain, expected());
    assert_eq!(on_green(run), plain);
}

/// The case that found it: std's `Command::output` reads the child's stdout and stderr through
/// non-blocking pipes between `poll`s. On one worker, with every green thread doing the same,
/// none parks once the child has exited, so no reactor runs; each must still see the EOF.
#[test]
fn command_output_on_one_worker_finishes_when_no_green_thread_parks() {
    let _serial = setup();
    let run = || {
        std::process::Command::new("sh")
            .args(["-c", "echo out; echo err >&2"])
            .output()
            .unwrap()
    };
    let plain = run();
    let outs = util::watchdog(Duration::from_secs(60), move || {
        let gs: Vec<_> = (0..20).map(|_| greenshim::spawn(run)).collect();
        greenshim::joinall(gs)
            .into_iter()
            .map(|r| r.unwrap())
            .collect::<Vec<_>>()
    });
    for out in outs {
        assert_eq!(
            (out.stdout, out.stderr),
            (plain.stdout.clone(), plain.stderr.clone())
        );
    }
}
