//! The `epoll` peer of W4 and W5: one OS thread, one level-triggered epoll loop over
//! non-blocking sockets, no runtime at all. It is the floor the issue measures CPU per request
//! against: what a hand-written C-style event loop spends on the same work.
//!
//! Each readable connection is read until a short read (the socket is drained, as the kernel
//! returns everything queued) in reads of at most 4 KiB, each followed by the protocol's answer
//! and a write of it. Bytes the kernel does not take are kept and flushed on `EPOLLOUT`, and
//! reading pauses until they are gone.

use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, RawFd};

use super::Connection;

/// Bytes read per `recv`, as the blocking servers' buffer.
const READ: usize = 4096;
const LISTENER: u64 = u64::MAX;

/// One connection's buffers.
#[derive(Default)]
struct Conn {
    /// Bytes read and not yet consumed by the protocol (a partial HTTP request).
    input: Vec<u8>,
    /// Answer bytes the kernel has not taken yet.
    pending: Vec<u8>,
    /// Whether `EPOLLOUT` is asked for (while `pending` is not empty).
    writing: bool,
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A new epoll instance (close-on-exec).
pub fn create() -> io::Result<RawFd> {
    // SAFETY: epoll_create1 takes no pointers.
    check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })
}

/// `epoll_ctl(ep, op, fd)` with `events` and user data `data`.
pub fn ctl(ep: RawFd, op: libc::c_int, fd: RawFd, events: u32, data: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event { events, u64: data };
    // SAFETY: `ev` is a live epoll_event; `ep` is an open epoll fd.
    check(unsafe { libc::epoll_ctl(ep, op, fd, &raw mut ev) }).map(drop)
}

/// Serves `C` on `addr` until the process is killed.
pub fn serve<C: Connection>(addr: &str) {
    let listener = TcpListener::bind(addr).expect("bind");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let ep = create().expect("epoll_create1");
    let lfd = listener.as_raw_fd();
    ctl(ep, libc::EPOLL_CTL_ADD, lfd, libc::EPOLLIN as u32, LISTENER).expect("watch listener");
    let mut conns: Vec<Option<Conn>> = Vec::new();
    // SAFETY: epoll_event is plain old data; all-zero is valid.
    let mut events = vec![unsafe { std::mem::zeroed::<libc::epoll_event>() }; 1024];
    let mut buf = vec![0u8; READ];
    loop {
        // SAFETY: `events` has room for its length of entries.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, -1) };
        if n < 0 {
            continue; // EINTR
        }
        for ev in &events[..n as usize] {
            let (bits, data) = (ev.events, ev.u64);
            if data == LISTENER {
                accept_all(ep, &listener, &mut conns);
                continue;
            }
            let fd = data as RawFd;
            let Some(conn) = conns.get_mut(fd as usize).and_then(Option::as_mut) else {
                continue;
            };
            let open = if bits & libc::EPOLLOUT as u32 != 0 && conn.writing {
                flush(ep, fd, conn)
            } else {
                Ok(true)
            }
            .and_then(|open| {
                if open && !conn.writing && bits & !(libc::EPOLLOUT as u32) != 0 {
                    read_all::<C>(ep, fd, conn, &mut buf)
                } else {
                    Ok(open)
                }
            });
            if !matches!(open, Ok(true)) {
                conns[fd as usize] = None;
                // SAFETY: `fd` is the connection's socket, owned by this loop; closing it
                // also removes it from the epoll.
                unsafe { libc::close(fd) };
            }
        }
    }
}

/// Accepts every pending connection: non-blocking, `TCP_NODELAY`, watched for input.
fn accept_all(ep: RawFd, listener: &TcpListener, conns: &mut Vec<Option<Conn>>) {
    loop {
        let Ok((s, _)) = listener.accept() else {
            return;
        };
        s.set_nodelay(true).ok();
        s.set_nonblocking(true).expect("non-blocking connection");
        let fd = std::os::fd::IntoRawFd::into_raw_fd(s);
        if conns.len() <= fd as usize {
            conns.resize_with(fd as usize + 1, || None);
        }
        conns[fd as usize] = Some(Conn::default());
        ctl(ep, libc::EPOLL_CTL_ADD, fd, libc::EPOLLIN as u32, fd as u64).expect("watch");
    }
}

/// Reads until the socket is drained, answering each read; false when the connection ends.
fn read_all<C: Connection>(
    ep: RawFd,
    fd: RawFd,
    conn: &mut Conn,
    buf: &mut [u8],
) -> io::Result<bool> {
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n == 0 {
            return Ok(false);
        }
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::WouldBlock {
                Ok(true)
            } else {
                Err(e)
            };
        }
        let n = n as usize;
        let close = if conn.input.is_empty() {
            let (used, close) = C::respond(&buf[..n], &mut conn.pending);
            conn.input.extend_from_slice(&buf[used..n]);
            close
        } else {
            conn.input.extend_from_slice(&buf[..n]);
            let (used, close) = C::respond(&conn.input, &mut conn.pending);
            conn.input.drain(..used);
            close
        };
        if !flush(ep, fd, conn)? || close {
            return Ok(false);
        }
        if conn.writing || n < buf.len() {
            return Ok(true);
        }
    }
}

/// Writes what is pending; asks for `EPOLLOUT` while the kernel leaves some, drops the ask
/// once all is written. False when the connection broke.
fn flush(ep: RawFd, fd: RawFd, conn: &mut Conn) -> io::Result<bool> {
    let mut done = 0;
    while done < conn.pending.len() {
        let rest = &conn.pending[done..];
        // SAFETY: `rest` is readable for its length.
        let n = unsafe { libc::send(fd, rest.as_ptr().cast(), rest.len(), libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::WouldBlock {
                return Ok(false);
            }
            break;
        }
        done += n as usize;
    }
    conn.pending.drain(..done);
    let want = !conn.pending.is_empty();
    if want != conn.writing {
        let events = if want { libc::EPOLLOUT } else { libc::EPOLLIN } as u32;
        ctl(ep, libc::EPOLL_CTL_MOD, fd, events, fd as u64)?;
        conn.writing = want;
    }
    Ok(true)
}
