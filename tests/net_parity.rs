//! `greenshim::net` gives the same results as `std::net` on the same scenarios: std on a plain
//! thread is the reference; the mirror runs the same code on a plain thread and on a green
//! thread.

mod util;

use std::time::Duration;

/// The observable outcome of an `io::Result`: the value, or the error kind.
fn o<T: std::fmt::Debug>(r: std::io::Result<T>) -> String {
    match r {
        Ok(v) => format!("Ok({v:?})"),
        Err(e) => format!("Err({:?})", e.kind()),
    }
}

const T: Duration = Duration::from_millis(30);

macro_rules! tcp_scenario {
    ($net:path) => {{
        use std::io::{Read, Write};
        use $net as net;
        use net::{Shutdown, TcpListener, TcpStream};
        let mut out: Vec<String> = Vec::new();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // connect completes through the backlog; accept then returns at once
        let mut c = TcpStream::connect(addr).unwrap();
        let (mut s, peer) = listener.accept().unwrap();
        out.push(format!("peer_matches={}", peer == c.local_addr().unwrap()));
        // read timeout: WouldBlock after the timeout, timeout reported back
        c.set_read_timeout(Some(T)).unwrap();
        out.push(format!("read_timeout={:?}", c.read_timeout().unwrap()));
        let mut buf = [0u8; 16];
        out.push(format!("timed_read={}", o(c.read(&mut buf))));
        out.push(format!("zero_timeout={}", o(c.set_read_timeout(Some(Duration::ZERO)))));
        c.set_read_timeout(None).unwrap();
        // peek does not consume
        s.write_all(b"hello").unwrap();
        out.push(format!("peek={}", o(c.peek(&mut buf[..5]))));
        out.push(format!("read={}", o(c.read(&mut buf[..5]))));
        out.push(format!("data={:?}", &buf[..5]));
        // nonblocking: WouldBlock instead of waiting, then back to blocking
        c.set_nonblocking(true).unwrap();
        out.push(format!("nonblocking_read={}", o(c.read(&mut buf))));
        c.set_nonblocking(false).unwrap();
        // clones share options (std documents this)
        let c2 = c.try_clone().unwrap();
        c2.set_read_timeout(Some(T)).unwrap();
        out.push(format!("clone_shares_timeout={:?}", c.read_timeout().unwrap()));
        out.push(format!("clone_timed_read={}", o(c.read(&mut buf))));
        c2.set_nonblocking(true).unwrap();
        out.push(format!("clone_shares_nonblocking={}", o(c.read(&mut buf))));
        c2.set_nonblocking(false).unwrap();
        drop(c2);
        // nodelay, ttl, take_error
        c.set_nodelay(true).unwrap();
        out.push(format!("nodelay={:?}", c.nodelay().unwrap()));
        c.set_ttl(42).unwrap();
        out.push(format!("ttl={:?}", c.ttl().unwrap()));
        out.push(format!("take_error={}", o(c.take_error().map(|e| e.is_some()))));
        // half-close: the other side reads what was sent, then EOF; it can still write back
        c.write_all(b"abc").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut all = Vec::new();
        out.push(format!("read_to_end={}", o(s.read_to_end(&mut all))));
        out.push(format!("got={:?}", all));
        s.write_all(b"back").unwrap();
        let mut four = [0u8; 4];
        out.push(format!("after_half_close={}", o(c.read_exact(&mut four))));
        // peer close: EOF
        drop(s);
        out.push(format!("eof={}", o(c.read(&mut buf))));
        // write timeout on a full socket: a partial count, then WouldBlock
        let mut w = TcpStream::connect(addr).unwrap();
        let (_idle_peer, _) = listener.accept().unwrap();
        w.set_write_timeout(Some(T)).unwrap();
        let big = vec![7u8; 32 << 20];
        let first = w.write(&big);
        out.push(format!(
            "first_write_partial={}",
            matches!(first, Ok(n) if n > 0 && n < big.len())
        ));
        // Writes go on until one times out: loopback's receive window can grow between two
        // writes, so the second one may still move bytes (seen once, under CPU contention).
        let full = (0..100)
            .map(|_| w.write(&big))
            .find(Result::is_err)
            .unwrap_or(Ok(0));
        out.push(format!("full_write={}", o(full.map(|_| ()))));
        // busy bind
        out.push(format!("busy_bind={}", o(TcpListener::bind(addr).map(|_| ()))));
        // refused connect: a port nobody listens on any more
        let dead = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        out.push(format!("refused={}", o(TcpStream::connect(dead).map(|_| ()))));
        // every resolved address is tried in order
        let two = [dead, addr];
        let m = TcpStream::connect(&two[..]);
        out.push(format!("multi={}", o(m.map(|s| s.peer_addr().unwrap() == addr))));
        out.push(format!("none={}", o(TcpStream::connect(&[][..]).map(|_| ()))));
        // connect_timeout
        out.push(format!(
            "connect_timeout_zero={}",
            o(TcpStream::connect_timeout(&addr, Duration::ZERO).map(|_| ()))
        ));
        out.push(format!(
            "connect_timeout_ok={}",
            o(TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map(|_| ()))
        ));
        // a host name resolves
        let port = addr.port();
        let named = TcpStream::connect(("localhost", port)).map(|s| s.peer_addr().unwrap().port() == port);
        out.push(format!("localhost={}", o(named)));
        // a nonblocking listener
        let idle = TcpListener::bind("127.0.0.1:0").unwrap();
        idle.set_nonblocking(true).unwrap();
        out.push(format!("nonblocking_accept={}", o(idle.accept().map(|_| ()))));
        out
    }};
}

macro_rules! udp_scenario {
    ($net:path) => {{
        use net::UdpSocket;
        use $net as net;
        let mut out: Vec<String> = Vec::new();
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let mut buf = [0u8; 32];
        a.set_read_timeout(Some(T)).unwrap();
        out.push(format!("timed_recv={}", o(a.recv_from(&mut buf))));
        b.send_to(b"one", aa).unwrap();
        out.push(format!(
            "peek_from={}",
            o(a.peek_from(&mut buf).map(|(n, f)| (n, f == ba)))
        ));
        out.push(format!(
            "recv_from={}",
            o(a.recv_from(&mut buf).map(|(n, f)| (n, f == ba)))
        ));
        a.connect(ba).unwrap();
        b.connect(aa).unwrap();
        out.push(format!("peer={}", o(a.peer_addr().map(|p| p == ba))));
        b.send(b"two!").unwrap();
        out.push(format!("peek={}", o(a.peek(&mut buf))));
        out.push(format!("recv={}", o(a.recv(&mut buf))));
        a.set_nonblocking(true).unwrap();
        out.push(format!("nonblocking_recv={}", o(a.recv(&mut buf))));
        a.set_broadcast(true).unwrap();
        out.push(format!("broadcast={:?}", a.broadcast().unwrap()));
        out.push(format!(
            "multicast_loop_v4={:?}",
            a.multicast_loop_v4().unwrap()
        ));
        out.push(format!(
            "send_to_nowhere={}",
            o(b.send_to(b"x", &[][..] as &[std::net::SocketAddr]))
        ));
        out.push(format!("busy_bind={}", o(UdpSocket::bind(aa).map(|_| ()))));
        out
    }};
}

macro_rules! unix_scenario {
    ($unet:path) => {{
        use std::io::{Read, Write};
        use unet::{UnixDatagram, UnixListener, UnixStream};
        use $unet as unet;
        let mut out: Vec<String> = Vec::new();
        let dir = std::env::temp_dir().join(format!(
            "greenshim-parity-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sock");
        let listener = UnixListener::bind(&path).unwrap();
        out.push(format!(
            "busy_bind={}",
            o(UnixListener::bind(&path).map(|_| ()))
        ));
        let mut c = UnixStream::connect(&path).unwrap();
        let (mut s, _) = listener.accept().unwrap();
        c.set_read_timeout(Some(T)).unwrap();
        let mut buf = [0u8; 8];
        out.push(format!("timed_read={}", o(c.read(&mut buf))));
        s.write_all(b"unix").unwrap();
        out.push(format!("read={}", o(c.read(&mut buf))));
        c.set_nonblocking(true).unwrap();
        out.push(format!("nonblocking_read={}", o(c.read(&mut buf))));
        c.set_nonblocking(false).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        out.push(format!("eof={}", o(c.read(&mut buf))));
        out.push(format!(
            "missing={}",
            o(UnixStream::connect(dir.join("nobody")).map(|_| ()))
        ));
        let (p, q) = UnixStream::pair().unwrap();
        (&p).write_all(b"pair").unwrap();
        let mut four = [0u8; 4];
        out.push(format!(
            "pair={}",
            o((&q).read_exact(&mut four).map(|_| four))
        ));
        let (d1, d2) = UnixDatagram::pair().unwrap();
        d1.send(b"dgram").unwrap();
        out.push(format!("dgram={}", o(d2.recv(&mut buf))));
        d2.set_read_timeout(Some(T)).unwrap();
        out.push(format!("dgram_timed={}", o(d2.recv(&mut buf))));
        // senders' addresses as recv_from reports them: a path, an abstract name, unnamed
        {
            use std::os::linux::net::SocketAddrExt;
            let r = UnixDatagram::bind(dir.join("r")).unwrap();
            let to = r.local_addr().unwrap();
            let describe = |got: std::io::Result<(usize, unet::SocketAddr)>| {
                o(got.map(|(n, a)| {
                    let name = a
                        .as_abstract_name()
                        .map(|n| n.starts_with(b"greenshim-parity"));
                    let path = a
                        .as_pathname()
                        .and_then(|p| p.file_name())
                        .map(|f| f.to_owned());
                    (n, path, name, a.is_unnamed())
                }))
            };
            let by_path = UnixDatagram::bind(dir.join("s")).unwrap();
            by_path.send_to_addr(b"p", &to).unwrap();
            out.push(format!("from_path={}", describe(r.recv_from(&mut buf))));
            let name = format!("greenshim-parity-{}", dir.display());
            let abstract_addr = unet::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
            let by_name = UnixDatagram::bind_addr(&abstract_addr).unwrap();
            by_name.send_to(b"ab", dir.join("r")).unwrap();
            out.push(format!("from_abstract={}", describe(r.recv_from(&mut buf))));
            let nameless = UnixDatagram::unbound().unwrap();
            nameless.send_to_addr(b"abc", &to).unwrap();
            out.push(format!("from_unnamed={}", describe(r.recv_from(&mut buf))));
            let unnamed = nameless.local_addr().unwrap();
            out.push(format!(
                "to_unnamed={}",
                o(nameless.send_to_addr(b"x", &unnamed))
            ));
            r.set_read_timeout(Some(T)).unwrap();
            out.push(format!(
                "recv_from_timed={}",
                describe(r.recv_from(&mut buf))
            ));
        }
        drop(listener);
        std::fs::remove_dir_all(&dir).unwrap();
        out
    }};
}

fn on_green<T: Send + 'static>(f: fn() -> T) -> T {
    greenshim::spawn(f).join().unwrap()
}

fn check(name: &str, std_out: Vec<String>, plain: Vec<String>, green: Vec<String>) {
    assert_eq!(std_out, plain, "{name}: std vs greenshim on a plain thread");
    assert_eq!(std_out, green, "{name}: std vs greenshim on a green thread");
}

#[test]
fn tcp_matches_std() {
    util::workers(1);
    let reference = tcp_scenario!(std::net);
    assert!(
        reference.iter().any(|l| l == "timed_read=Err(WouldBlock)"),
        "{reference:?}"
    );
    check(
        "tcp",
        reference,
        tcp_scenario!(greenshim::net),
        on_green(|| tcp_scenario!(greenshim::net)),
    );
}

#[test]
fn udp_matches_std() {
    util::workers(1);
    let reference = udp_scenario!(std::net);
    check(
        "udp",
        reference,
        udp_scenario!(greenshim::net),
        on_green(|| udp_scenario!(greenshim::net)),
    );
}

#[test]
fn unix_sockets_match_std() {
    util::workers(1);
    let reference = unix_scenario!(std::os::unix::net);
    check(
        "unix",
        reference,
        unix_scenario!(greenshim::os::unix::net),
        on_green(|| unix_scenario!(greenshim::os::unix::net)),
    );
}
