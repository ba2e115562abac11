//! The W5 HTTP hello server (BENCHMARKS.md) in each implementation: one task or thread per
//! connection, HTTP/1.1 keep-alive, pipelining-safe.

use std::convert::Infallible;

use super::http;

/// Runs the HTTP server `imp` on 127.0.0.1:`port` until the process is killed.
pub fn serve(imp: &str, port: u16, workers: usize) {
    let addr = format!("127.0.0.1:{port}");
    match imp {
        "greenshim" | "native" => crate::common::greenshim_server(workers, false, || {
            let listener = greenshim::net::TcpListener::bind(&addr).expect("bind");
            for s in listener.incoming().flatten() {
                s.set_nodelay(true).ok();
                greenshim::spawn(move || http::serve(s));
            }
        }),
        "patched" => crate::common::greenshim_server(workers, true, || {
            let listener = std::net::TcpListener::bind(&addr).expect("bind");
            for s in listener.incoming().flatten() {
                s.set_nodelay(true).ok();
                greenshim::spawn(move || http::serve(s));
            }
        }),
        "tokio-ct" => hyper_server(&addr, None),
        "tokio-mt" => hyper_server(&addr, Some(workers)),
        "may" => raw_may(&addr, workers),
        "std" => std_threads(&addr),
        other => panic!(
            "unknown --impl {other}; one of greenshim (= native) patched tokio-ct tokio-mt may std"
        ),
    }
}

/// tokio + hyper 1 (http1, keep-alive and pipelining on), the peer the issue names.
fn hyper_server(addr: &str, workers: Option<usize>) {
    use hyper::{Request, Response, body::Incoming, header, service::service_fn};
    let rt = crate::common::tokio_runtime(workers.is_some(), workers.unwrap_or(0));
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        loop {
            let Ok((s, _)) = listener.accept().await else {
                continue;
            };
            s.set_nodelay(true).ok();
            tokio::spawn(async move {
                let service = service_fn(|req: Request<Incoming>| async move {
                    let hello = req.method() == hyper::Method::GET && req.uri().path() == "/";
                    let mut res = if hello {
                        Response::new("Hello, World!".to_owned())
                    } else {
                        let mut r = Response::new(String::new());
                        *r.status_mut() = hyper::StatusCode::NOT_FOUND;
                        r
                    };
                    res.headers_mut().insert(
                        header::CONTENT_TYPE,
                        header::HeaderValue::from_static("text/plain"),
                    );
                    Ok::<_, Infallible>(res)
                });
                hyper::server::conn::http1::Builder::new()
                    .pipeline_flush(true)
                    .serve_connection(hyper_util::rt::TokioIo::new(s), service)
                    .await
                    .ok();
            });
        }
    });
}

fn raw_may(addr: &str, workers: usize) {
    may::config().set_workers(crate::common::default_workers(workers));
    let listener = may::net::TcpListener::bind(addr).expect("bind");
    let acceptor = move || {
        for s in listener.incoming().flatten() {
            s.set_nodelay(true).ok();
            // SAFETY: the request loop uses no thread-local storage.
            unsafe { may::coroutine::spawn(move || http::serve(s)) };
        }
    };
    // SAFETY: the acceptor uses no thread-local storage.
    let h = unsafe { may::coroutine::spawn(acceptor) };
    h.join().ok();
}

fn std_threads(addr: &str) {
    let listener = std::net::TcpListener::bind(addr).expect("bind");
    for s in listener.incoming().flatten() {
        s.set_nodelay(true).ok();
        std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(move || http::serve(s))
            .ok();
    }
}
