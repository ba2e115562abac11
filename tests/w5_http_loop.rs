//! The W5 benchmark's request loop (`benches/w5/http.rs`) answers like an HTTP/1.1 server:
//! pipelined requests in order, requests split across reads, unknown paths 404, bodies skipped by
//! Content-Length, `Connection: close` and garbage end the connection.

#[path = "../benches/w5/http.rs"]
mod http;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

const HELLO: &str =
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";
const NOT_FOUND: &str = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
const BAD: &str = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// Sends `chunks` (pausing between them), half-closes, and returns everything the server wrote
/// before it closed the connection.
fn exchange(chunks: &[&[u8]]) -> String {
    let (mut client, server) = UnixStream::pair().unwrap();
    let t = std::thread::spawn(move || http::serve(server));
    for c in chunks {
        client.write_all(c).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    client.shutdown(std::net::Shutdown::Write).ok();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut out = String::new();
    client.read_to_string(&mut out).unwrap();
    t.join().unwrap();
    out
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let out = exchange(&[
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    ]);
    assert_eq!(out, format!("{HELLO}{NOT_FOUND}{HELLO}"));
}

#[test]
fn a_request_split_across_reads_waits_for_its_end() {
    let out = exchange(&[
        b"GET / HT",
        b"TP/1.1\r\nHost: a\r",
        b"\n\r\nGET / HTTP/1.1\r\n\r\n",
    ]);
    assert_eq!(out, format!("{HELLO}{HELLO}"));
}

#[test]
fn a_body_is_skipped_by_content_length() {
    let out = exchange(&[
        b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123",
        b"456789GET / HTTP/1.1\r\n\r\n",
    ]);
    assert_eq!(out, format!("{NOT_FOUND}{HELLO}"));
}

#[test]
fn connection_close_ends_after_that_answer() {
    let out = exchange(&[b"GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n"]);
    assert_eq!(out, HELLO);
    assert_eq!(exchange(&[b"GET / HTTP/1.0\r\n\r\n"]), HELLO);
}

#[test]
fn garbage_gets_400_and_the_connection_closes() {
    assert_eq!(exchange(&[b"GET / HTTP/1.1\r\nno colon\r\n\r\n"]), BAD);
    assert_eq!(
        exchange(&[b"GET / HTTP/1.1\r\n\r\nXYZ\r\n\r\n"]),
        format!("{HELLO}{BAD}")
    );
    let huge = vec![b'a'; 20 << 10];
    assert_eq!(exchange(&[&huge]), BAD);
}
