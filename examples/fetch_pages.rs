//! gevent's classic: fetch many pages concurrently with plain blocking code.
//!
//! `fetch` below is ordinary blocking HTTP/1.0 client code; only the import says greenshim.
//! The example serves the pages itself, from a local server whose every response takes
//! 100 ms, so that it needs no network: 100 fetches take 10 s one after another, and a little
//! over 0.1 s as green threads. (Beyond std's listen backlog of 128 simultaneous connects, the
//! kernel drops SYNs and clients retry after a second, with green threads as with OS threads.)
//!
//! ```text
//! cargo run --release --example fetch_pages
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};

use greenshim::net::{TcpListener, TcpStream};

const PAGES: usize = 100;
const SERVER_DELAY: Duration = Duration::from_millis(100);

/// Blocking HTTP GET of `path` from `host`; returns the body.
fn fetch(host: &str, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(host)?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .ok_or_else(|| std::io::Error::other("malformed response"))?;
    Ok(body)
}

/// A tiny HTTP server: answers `GET /page/N` with "page N" after `SERVER_DELAY`.
fn serve(listener: TcpListener) {
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        greenshim::spawn(move || -> std::io::Result<()> {
            let mut reader = BufReader::new(&conn);
            let mut request_line = String::new();
            reader.read_line(&mut request_line)?;
            // Skip the headers.
            let mut line = String::new();
            while reader.read_line(&mut line)? > 2 {
                line.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/");
            let body = format!("page {}", path.trim_start_matches("/page/"));
            greenshim::sleep(SERVER_DELAY);
            write!(
                &conn,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        });
    }
}

fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let host = listener.local_addr()?.to_string();
    greenshim::spawn(move || serve(listener));

    let t = Instant::now();
    let jobs: Vec<_> = (0..PAGES)
        .map(|i| {
            let host = host.clone();
            greenshim::spawn(move || fetch(&host, &format!("/page/{i}")))
        })
        .collect();
    let bodies: Vec<String> = greenshim::joinall(jobs)
        .into_iter()
        .map(|r| r.expect("fetcher panicked"))
        .collect::<std::io::Result<_>>()?;
    let elapsed = t.elapsed();
    assert!(
        bodies
            .iter()
            .enumerate()
            .all(|(i, b)| *b == format!("page {i}"))
    );
    println!(
        "fetched {PAGES} pages in {:.2} s with blocking code on green threads \
         (one after another: {:.0} s)",
        elapsed.as_secs_f64(),
        (SERVER_DELAY * PAGES as u32).as_secs_f64()
    );
    Ok(())
}
