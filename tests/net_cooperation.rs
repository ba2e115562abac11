//! The net mirror cooperates: on ONE worker, blocking socket code in many green threads
//! overlaps, and a green thread parked in `read` does not stop the others.

mod util;

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use greenshim::net::{TcpListener, TcpStream};

const CLIENTS: usize = 1000;
const ROUNDS: usize = 5;

fn echo_server(listener: TcpListener) {
    for stream in listener.incoming() {
        let mut stream = stream.expect("accept");
        greenshim::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => stream.write_all(&buf[..n]).expect("echo write"),
                }
            }
        });
    }
}

#[test]
fn a_thousand_echo_clients_and_the_server_share_one_worker() {
    util::workers(1);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = greenshim::spawn(move || echo_server(listener));
    let parks_before = util::green_parks();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            greenshim::spawn(move || {
                let mut s = TcpStream::connect(addr).expect("connect");
                s.set_nodelay(true).unwrap();
                let mut back = [0u8; 64];
                for round in 0..ROUNDS {
                    let msg = [(i + round) as u8; 64];
                    s.write_all(&msg).unwrap();
                    s.read_exact(&mut back).unwrap();
                    assert_eq!(back, msg);
                }
                i
            })
        })
        .collect();
    let done: usize = greenshim::joinall(clients)
        .into_iter()
        .map(|r| r.expect("client"))
        .sum();
    assert_eq!(done, CLIENTS * (CLIENTS - 1) / 2);
    let parks = util::green_parks() - parks_before;
    // Every client waits for its echo at least once per round (1 worker: nothing is ready
    // before the server has run).
    assert!(parks >= CLIENTS as u64, "only {parks} green parks");
    server.kill();
    assert!(server.join().unwrap_err().is_killed());
}

#[test]
fn a_green_thread_blocked_in_read_does_not_stop_a_ticker() {
    util::workers(1);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let ticks = Arc::new(AtomicU64::new(0));
    let ticker = {
        let (stop, ticks) = (stop.clone(), ticks.clone());
        greenshim::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                greenshim::sleep(Duration::from_millis(5));
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let reader = greenshim::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).unwrap();
        buf
    });
    // The peer is a plain thread that waits until the ticker has ticked 20 times while the
    // reader sits in `read`, then sends.
    let mut peer = std::net::TcpStream::connect(addr).unwrap();
    util::eventually(
        Duration::from_secs(10),
        "ticker runs while reader is parked",
        || ticks.load(Ordering::Relaxed) >= 20,
    );
    assert!(!reader.is_finished());
    peer.write_all(b"ping").unwrap();
    assert_eq!(&reader.join().unwrap(), b"ping");
    stop.store(true, Ordering::Relaxed);
    ticker.join().unwrap();
}

#[test]
fn fifty_clients_each_waiting_200ms_overlap() {
    util::workers(1);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = greenshim::spawn(move || {
        for s in listener.incoming() {
            let mut s = s.unwrap();
            greenshim::spawn(move || {
                let mut b = [0u8; 1];
                s.read_exact(&mut b).unwrap();
                greenshim::sleep(Duration::from_millis(200));
                s.write_all(&b).unwrap();
            });
        }
    });
    let t = Instant::now();
    let clients: Vec<_> = (0..50u8)
        .map(|i| {
            greenshim::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(&[i]).unwrap();
                let mut b = [0u8; 1];
                s.read_exact(&mut b).unwrap();
                b[0]
            })
        })
        .collect();
    let got: Vec<u8> = greenshim::joinall(clients)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, (0..50).collect::<Vec<_>>());
    // Sequential: 10 s. Overlapped: ~0.2 s. Generous bound.
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t.elapsed()
    );
    server.kill();
}

#[test]
fn a_reader_and_a_writer_share_one_stream() {
    util::workers(1);
    const LEN: usize = 4 << 20;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = greenshim::spawn(move || echo_server(listener));
    let stream = Arc::new(TcpStream::connect(addr).unwrap());
    // Far more than the socket buffers hold: sequential write-then-read would deadlock.
    let writer = {
        let s = stream.clone();
        greenshim::spawn(move || {
            let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
            (&*s).write_all(&data).unwrap();
        })
    };
    let reader = {
        let s = stream.clone();
        greenshim::spawn(move || {
            let mut back = vec![0u8; LEN];
            (&*s).read_exact(&mut back).unwrap();
            back.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8)
        })
    };
    writer.join().unwrap();
    assert!(reader.join().unwrap(), "echoed bytes differ");
    server.kill();
}

#[test]
fn many_acceptors_share_one_listener() {
    util::workers(1);
    let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
    let addr = listener.local_addr().unwrap();
    let acceptors: Vec<_> = (0..8)
        .map(|_| {
            let l = listener.clone();
            greenshim::spawn(move || {
                let mut n = 0;
                loop {
                    let (mut s, _) = l.accept().unwrap();
                    let mut b = [0u8; 1];
                    s.read_exact(&mut b).unwrap();
                    if b[0] == 0 {
                        return n;
                    }
                    n += 1;
                }
            })
        })
        .collect();
    for _ in 0..80 {
        TcpStream::connect(addr).unwrap().write_all(&[1]).unwrap();
    }
    for _ in 0..8 {
        TcpStream::connect(addr).unwrap().write_all(&[0]).unwrap();
    }
    let total: usize = greenshim::joinall(acceptors)
        .into_iter()
        .map(Result::unwrap)
        .sum();
    assert_eq!(total, 80);
}

#[test]
fn host_names_resolve_on_the_offload_pool_for_green_threads_only() {
    util::workers(1);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let lookups = greenshim_shim::interpose::dns::offloaded_lookups;
    let before = lookups();
    let green = greenshim::spawn(move || TcpStream::connect(("localhost", port)).is_ok());
    assert!(green.join().unwrap());
    assert!(
        lookups() > before,
        "the green thread's lookup was not offloaded"
    );
    let before = lookups();
    assert!(TcpStream::connect(("localhost", port)).is_ok());
    let literal = greenshim::spawn(move || TcpStream::connect(("127.0.0.1", port)).is_ok());
    assert!(literal.join().unwrap());
    assert_eq!(
        lookups(),
        before,
        "plain-thread lookups and IP literals must not be offloaded"
    );
}
