//! The W4 echo server (BENCHMARKS.md) in each implementation: one task or thread per
//! connection, `TCP_NODELAY`, loop { read up to 4 KiB; write all of it back } until EOF.

use std::io::{Read, Write};

/// Runs the echo server `imp` on 127.0.0.1:`port` until the process is killed.
pub fn serve(imp: &str, port: u16, workers: usize) {
    let addr = format!("127.0.0.1:{port}");
    match imp {
        "greenshim" | "native" => greenshim_native(&addr, workers),
        "patched" => greenshim_patched(&addr, workers),
        "tokio-ct" => tokio_server(&addr, None),
        "tokio-mt" => tokio_server(&addr, Some(workers)),
        "may" => raw_may(&addr, workers),
        "std" => std_threads(&addr),
        other => panic!(
            "unknown --impl {other}; one of greenshim (= native) patched tokio-ct tokio-mt may std"
        ),
    }
}

fn echo<S: Read + Write>(mut s: S) {
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

fn greenshim_native(addr: &str, workers: usize) {
    crate::common::greenshim_server(workers, false, || {
        let listener = greenshim::net::TcpListener::bind(addr).expect("bind");
        accept_loop(listener.incoming(), |s| s.set_nodelay(true));
    });
}

/// The same server written with `std::net` only, run on green threads after `patch_all()`.
fn greenshim_patched(addr: &str, workers: usize) {
    crate::common::greenshim_server(workers, true, || {
        let listener = std::net::TcpListener::bind(addr).expect("bind");
        accept_loop(listener.incoming(), |s| s.set_nodelay(true));
    });
}

/// One green thread per accepted connection, each running [`echo`].
fn accept_loop<S: Read + Write + Send + 'static>(
    incoming: impl Iterator<Item = std::io::Result<S>>,
    nodelay: impl Fn(&S) -> std::io::Result<()>,
) {
    for s in incoming {
        let Ok(s) = s else { continue };
        nodelay(&s).ok();
        greenshim::spawn(move || echo(s));
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

fn raw_may(addr: &str, workers: usize) {
    may::config().set_workers(crate::common::default_workers(workers));
    let listener = may::net::TcpListener::bind(addr).expect("bind");
    let acceptor = move || {
        for s in listener.incoming() {
            let Ok(s) = s else { continue };
            s.set_nodelay(true).ok();
            // SAFETY: the echo loop uses no thread-local storage.
            unsafe { may::coroutine::spawn(move || echo(s)) };
        }
    };
    // SAFETY: the acceptor uses no thread-local storage.
    let h = unsafe { may::coroutine::spawn(acceptor) };
    h.join().ok();
}

fn std_threads(addr: &str) {
    let listener = std::net::TcpListener::bind(addr).expect("bind");
    for s in listener.incoming() {
        let Ok(s) = s else { continue };
        s.set_nodelay(true).ok();
        std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(move || echo(s))
            .ok();
    }
}
