//! Third-party synchronous crates, used unmodified, on ONE worker after `patch_all()`:
//! `ureq` (a blocking HTTP client) against a std-only HTTP server, and `tungstenite`
//! (blocking WebSocket client and server) over std sockets. Hundreds of concurrent operations
//! overlap; the family counters prove the cooperative path ran.

mod util;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Once;
use std::time::{Duration, Instant};

use greenshim::monkey::{self, Family};

fn patched() {
    static PATCH: Once = Once::new();
    util::workers(1);
    PATCH.call_once(|| monkey::patch_all().expect("patch before any spawn"));
}

/// A std-only HTTP/1.1 server on green threads: every request takes 100 ms (a std sleep) and
/// is answered with its path reversed; one request per connection.
fn http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    greenshim::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            greenshim::spawn(move || {
                let mut reader = BufReader::new(&conn);
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap() == 0 || header == "\r\n" {
                        break;
                    }
                }
                let path = request_line.split(' ').nth(1).unwrap_or("/");
                let body: String = path.chars().rev().collect();
                std::thread::sleep(Duration::from_millis(100));
                write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
            });
        }
    });
    port
}

#[test]
fn ureq_requests_overlap_on_one_worker() {
    patched();
    let port = http_server();
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(20))
        .build();
    let before = monkey::stats();
    let start = Instant::now();
    let gs: Vec<_> = (0..300)
        .map(|i| {
            let agent = agent.clone();
            greenshim::spawn(move || {
                agent
                    .get(&format!("http://127.0.0.1:{port}/item/{i}"))
                    .call()
                    .map_err(|e| e.to_string())?
                    .into_string()
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    for (i, r) in greenshim::joinall(gs).into_iter().enumerate() {
        let expected: String = format!("/item/{i}").chars().rev().collect();
        assert_eq!(r.unwrap().unwrap(), expected);
    }
    let took = start.elapsed();
    // 300 requests of 100 ms on one worker: 30 s if the worker blocked.
    assert!(took < Duration::from_secs(8), "{took:?}");
    let after = monkey::stats();
    assert!(
        after.family(Family::Sockets).cooperative - before.family(Family::Sockets).cooperative
            >= 1200,
        "server accept/read/write and client connect/write/read"
    );
}

#[test]
fn tungstenite_websockets_overlap_on_one_worker() {
    patched();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // The server: tungstenite's blocking accept and echo loop, 50 ms per message.
    greenshim::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            greenshim::spawn(move || {
                let mut ws = tungstenite::accept(conn).unwrap();
                while let Ok(msg) = ws.read() {
                    if msg.is_close() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                    ws.send(msg).unwrap();
                }
            });
        }
    });
    let before = monkey::stats().family(Family::Sockets).cooperative;
    let start = Instant::now();
    let gs: Vec<_> = (0..200)
        .map(|i| {
            greenshim::spawn(move || {
                let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                let url = format!("ws://127.0.0.1:{port}/");
                let (mut ws, _) = tungstenite::client(url.as_str(), stream).unwrap();
                let mut echoed = Vec::new();
                for k in 0..3 {
                    ws.send(tungstenite::Message::text(format!("{i}:{k}")))
                        .unwrap();
                    echoed.push(ws.read().unwrap().into_text().unwrap().to_string());
                }
                ws.close(None).ok();
                echoed
            })
        })
        .collect();
    for (i, r) in greenshim::joinall(gs).into_iter().enumerate() {
        assert_eq!(r.unwrap(), [0, 1, 2].map(|k| format!("{i}:{k}")));
    }
    let took = start.elapsed();
    // 200 clients × 3 round trips of 50 ms: 30 s if the worker blocked.
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert!(monkey::stats().family(Family::Sockets).cooperative - before >= 1200);
}
