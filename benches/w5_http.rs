//! W5 HTTP hello (BENCHMARKS.md): an HTTP/1.1 keep-alive server answering `GET /` with
//! `Hello, World!`, one green thread per connection, pipelining-safe. It runs until killed and
//! prints nothing; the load is `wrk -t1 -cC -d5s --latency` (`scripts/bench` runs it at C = 100
//! and C = 1000 against every implementation).
//!
//! ```text
//! cargo bench --bench w5_http -- --port P [--impl native|patched|tokio-ct|tokio-mt|may|std|epoll] [--workers N]
//! ```
//! `native` (= `greenshim`) is written with `greenshim::net`; `patched` is the same server
//! written with `std::net` only, run on green threads after `monkey::patch_all()`; `tokio-ct` and
//! `tokio-mt` are hyper 1 on tokio's current-thread and multi-thread runtimes; `may` is raw may
//! (one worker unless `--workers`); `std` is a thread per connection; `epoll` is one thread
//! running one epoll loop.

mod common;
/// The request loop and the servers.
pub mod w5 {
    pub mod http;
    pub mod servers;
}

/// Runs the server named by `--impl` on `--port` until killed.
pub fn main() {
    let args = common::Args::parse();
    let imp: String = args.get("impl", "greenshim".to_owned());
    let port: u16 = args.get("port", 8080);
    w5::servers::serve(&imp, port, args.get("workers", 0));
}
