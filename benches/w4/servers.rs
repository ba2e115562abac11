//! The W4 echo server (BENCHMARKS.md) in each implementation: one task or thread per
//! connection, `TCP_NODELAY`, loop { read up to 4 KiB; write all of it back } until EOF.

use std::io::{Read, Write};

/// Runs the echo server `imp` on 127.0.0.1:`port` until the process is killed.
pub fn serve(imp: &str, port: u16, workers: usize) {
    let addr = format!("127.0.0.1:{port}");
    if crate::common::serve_blocking::<Echo>(imp, &addr, workers) {
        return;
    }
    match imp {
        "tokio-ct" => tokio_server(&addr, None),
        "tokio-mt" => tokio_server(&addr, Some(workers)),
        other => panic!(
            "unknown --impl {other}; one of greenshim (= native) patched tokio-ct tokio-mt may std epoll"
        ),
    }
}

/// The echo loop: read up to 4 KiB, write all of it back, until EOF or an error.
struct Echo;

impl crate::common::Connection for Echo {
    fn serve<S: Read + Write>(mut s: S) {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if s.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
    }

    fn respond(input: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
        out.extend_from_slice(input);
        (input.len(), false)
    }
}

fn tokio_server(addr: &str, workers: Option<usize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = crate::common::tokio_runtime(workers.is_some(), workers.unwrap_or(0));
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            s.set_nodelay(true).ok();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
}
