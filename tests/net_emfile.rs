//! Running out of fds in `accept` (EMFILE): a clear error, nothing lost, and the listener
//! accepts the waiting connection once fds are free again. Its own test binary, because it
//! lowers the process's fd limit.

use std::io::{Read, Write};

use greenshim::net::{TcpListener, TcpStream};

mod util;

#[test]
fn emfile_on_accept_is_an_error_and_the_listener_recovers() {
    greenshim::runtime::start().unwrap();
    let outcome = greenshim::spawn(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(b"still here").unwrap();
        // Use up every fd under a low limit.
        util::set_fd_limit(256);
        let mut hog = util::use_up_fds();
        let err = listener.accept().map(|_| ()).unwrap_err();
        let message = err.to_string();
        // Free some fds: the connection that waited in the backlog is accepted.
        hog.truncate(hog.len() - 8);
        let (mut s, _) = listener.accept().expect("accept after fds are free");
        let mut buf = [0u8; 10];
        s.read_exact(&mut buf).unwrap();
        (err.raw_os_error(), message, buf)
    })
    .join()
    .unwrap();
    assert_eq!(outcome.0, Some(libc::EMFILE));
    assert!(outcome.1.contains("Too many open files"), "{}", outcome.1);
    assert_eq!(&outcome.2, b"still here");
}
