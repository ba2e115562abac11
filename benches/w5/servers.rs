//! The W5 HTTP hello server (BENCHMARKS.md) in each implementation: one task or thread per
//! connection, HTTP/1.1 keep-alive, pipelining-safe.

use std::convert::Infallible;

use super::http;

/// Runs the HTTP server `imp` on 127.0.0.1:`port` until the process is killed.
pub fn serve(imp: &str, port: u16, workers: usize) {
    let addr = format!("127.0.0.1:{port}");
    if crate::common::serve_blocking::<Hello>(imp, &addr, workers) {
        return;
    }
    match imp {
        "tokio-ct" => hyper_server(&addr, None),
        "tokio-mt" => hyper_server(&addr, Some(workers)),
        other => panic!(
            "unknown --impl {other}; one of greenshim (= native) patched tokio-ct tokio-mt may std epoll"
        ),
    }
}

/// The blocking implementations' request loop.
struct Hello;

impl crate::common::Connection for Hello {
    fn serve<S: std::io::Read + std::io::Write>(s: S) {
        http::serve(s);
    }

    fn respond(input: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
        http::respond(input, out)
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
