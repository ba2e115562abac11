//! C code compiled into the test build with `-O2 -D_FORTIFY_SOURCE=2` (the fixture crate
//! `tests/legacy-c`): its `connect`, `nanosleep`, `send`, `select`, `__read_chk`, `__poll_chk`
//! and `__recv_chk` calls park green threads on ONE worker after `patch_all()`.

mod util;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use greenshim::monkey::{self, Family};
use greenshim_shim::interpose::fortified_calls;

/// A std server on green threads: answers each `ping` line with `pong-` after 200 ms and
/// `done` 50 ms later, so the C client's select/read and poll/recv both have to wait.
fn server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    greenshim::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            greenshim::spawn(move || {
                let mut line = String::new();
                BufReader::new(&conn).read_line(&mut line).unwrap();
                assert_eq!(line, "ping\n");
                std::thread::sleep(Duration::from_millis(200));
                conn.write_all(b"pong-").unwrap();
                std::thread::sleep(Duration::from_millis(50));
                conn.write_all(b"done").unwrap();
            });
        }
    });
    port
}

#[test]
fn fortified_c_code_parks_instead_of_blocking() {
    util::workers(1);
    monkey::patch_all().unwrap();
    let port = server();
    let plain = std::thread::spawn(move || greenshim_legacy_c::exchange(port, 5, 1).unwrap())
        .join()
        .unwrap();
    assert_eq!(plain, b"pong-done");

    let fortified = fortified_calls();
    let stats = monkey::stats();
    let start = Instant::now();
    let gs: Vec<_> = (0..100)
        .map(|i| greenshim::spawn(move || greenshim_legacy_c::exchange(port, 5, 1 + i % 4)))
        .collect();
    for r in greenshim::joinall(gs) {
        assert_eq!(r.unwrap().unwrap(), plain);
    }
    let took = start.elapsed();
    // 100 exchanges of at least 270 ms each on one worker: 27 s if any call blocked it.
    assert!(took < Duration::from_secs(6), "{took:?}");
    let after = monkey::stats();
    let coop = |f| after.family(f).cooperative - stats.family(f).cooperative;
    assert!(
        fortified_calls() - fortified >= 300,
        "__read_chk, __poll_chk, __recv_chk"
    );
    assert!(coop(Family::Sockets) >= 400, "connect, send, read, recv");
    assert!(coop(Family::Poll) >= 200, "select, poll");
    assert!(coop(Family::Sleep) >= 100, "nanosleep");
}
