//! The W5 request loop shared by the blocking implementations: HTTP/1.1 keep-alive,
//! pipelining-safe. Every complete request in the buffer is answered, in order, with one write
//! per batch; a partial request waits for more bytes.

use std::io::{Read, Write};

const HELLO: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";
const NOT_FOUND: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// Largest request head accepted before the connection is answered 400 and closed.
const MAX_HEAD: usize = 16 << 10;

/// One parsed request head: how many bytes it and its body take, and what to answer.
struct Request {
    len: usize,
    hello: bool,
    close: bool,
}

/// Parses the request at the start of `buf`; `Ok(None)` when it is not complete yet.
fn parse(buf: &[u8]) -> Result<Option<Request>, ()> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Err(())
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| ())?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().ok_or(())?.split(' ');
    let (method, target, version) = (first.next(), first.next(), first.next());
    let (Some(method), Some(target), Some(version)) = (method, target, version) else {
        return Err(());
    };
    let mut body = 0usize;
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(())?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            body = value.parse().map_err(|_| ())?;
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(()); // a hello server takes no chunked uploads
        }
    }
    let len = end + 4 + body;
    if buf.len() < len {
        return Ok(None);
    }
    Ok(Some(Request {
        len,
        hello: method == "GET" && target == "/",
        close,
    }))
}

/// Serves one connection until the peer closes it, asks to close, or sends garbage.
pub fn serve<S: Read + Write>(mut s: S) {
    let mut buf = vec![0u8; 4096];
    let mut filled = 0;
    let mut out = Vec::with_capacity(4096);
    loop {
        match s.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
        let (start, close) = respond(&buf[..filled], &mut out);
        if !out.is_empty() {
            if s.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if close {
            return;
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
}

/// Answers every complete request at the start of `input` into `out`, in order; returns the
/// bytes consumed and whether the connection is to be closed (asked for, or garbage).
pub fn respond(input: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
    let mut start = 0;
    loop {
        match parse(&input[start..]) {
            Ok(Some(r)) => {
                out.extend_from_slice(if r.hello { HELLO } else { NOT_FOUND });
                start += r.len;
                if r.close {
                    return (start, true);
                }
            }
            Ok(None) => return (start, false),
            Err(()) => {
                out.extend_from_slice(BAD_REQUEST);
                return (start, true);
            }
        }
    }
}
