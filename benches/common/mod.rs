//! Command-line handling shared by the workload programs (BENCHMARKS.md).
#![allow(dead_code)]

pub mod epoll_loop;

/// Flags of a workload program: `--name value` pairs; `--bench` (added by `cargo bench`) is
/// ignored.
pub struct Args(Vec<(String, String)>);

impl Args {
    pub fn parse() -> Args {
        let mut pairs = Vec::new();
        let mut it = std::env::args().skip(1).filter(|a| a != "--bench");
        while let Some(flag) = it.next() {
            let Some(name) = flag.strip_prefix("--") else {
                panic!("unexpected argument {flag:?}; flags look like --n 100000")
            };
            if name == "raise-map-count" {
                pairs.push((name.to_owned(), "true".to_owned()));
                continue;
            }
            let value = it
                .next()
                .unwrap_or_else(|| panic!("--{name} needs a value"));
            pairs.push((name.to_owned(), value));
        }
        Args(pairs)
    }

    pub fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| {
                v.parse()
                    .unwrap_or_else(|_| panic!("--{name} {v}: not a valid value"))
            })
            .unwrap_or(default)
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    /// Applies `--workers N` (0 = default) and starts the runtime, so start-up is not timed.
    pub fn start_runtime(&self) -> greenshim::runtime::Settings {
        let workers: usize = self.get("workers", 0);
        let mut config = greenshim::runtime::Config::new().workers(workers);
        if let Some(bytes) = self
            .0
            .iter()
            .rev()
            .find(|(n, _)| n == "stack-size")
            .map(|(_, v)| v.clone())
        {
            config = config.stack_size(bytes.parse().expect("--stack-size bytes"));
        }
        if self.has("stack-pool") {
            config = config.stack_pool(self.get("stack-pool", 1000));
        }
        config.apply().expect("configure runtime");
        greenshim::runtime::start().expect("start runtime")
    }
}

/// tokio's current-thread runtime, or its multi-thread one with `workers` threads (0 = tokio's
/// default), with I/O and timers on.
pub fn tokio_runtime(multi_thread: bool, workers: usize) -> tokio::runtime::Runtime {
    let mut b = if multi_thread {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        if workers > 0 {
            b.worker_threads(workers);
        }
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    b.enable_all().build().expect("tokio runtime")
}

/// `workers`, or the number of CPUs when it is 0 (raw may's own default is one per CPU too).
pub fn default_workers(workers: usize) -> usize {
    if workers == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        workers
    }
}

/// What a W4/W5 server does with one accepted connection, written once for every stream type.
pub trait Connection {
    /// Serves the connection until the peer closes it.
    fn serve<S: std::io::Read + std::io::Write>(s: S);

    /// The same protocol for an event loop: answers what `input` holds into `out`; returns how
    /// many input bytes it consumed and whether the connection is to be closed.
    fn respond(input: &[u8], out: &mut Vec<u8>) -> (usize, bool);
}

/// Runs the server `imp` of protocol `C` on `addr` until the process is killed: `greenshim`
/// (or `native`, `greenshim::net`), `patched` (`std::net` after `monkey::patch_all()`), `may`
/// (raw may) or `std` (a thread per connection), each giving every accepted connection
/// `TCP_NODELAY` and its own green thread, coroutine or OS thread running `C::serve`; or
/// `epoll` (one thread, one epoll loop running `C::respond`). False for any other name.
pub fn serve_blocking<C: Connection>(imp: &str, addr: &str, workers: usize) -> bool {
    match imp {
        "greenshim" | "native" => greenshim_server(workers, false, || {
            let listener = greenshim::net::TcpListener::bind(addr).expect("bind");
            for s in listener.incoming().flatten() {
                s.set_nodelay(true).ok();
                greenshim::spawn(move || C::serve(s));
            }
        }),
        "patched" => greenshim_server(workers, true, || {
            let listener = std::net::TcpListener::bind(addr).expect("bind");
            for s in listener.incoming().flatten() {
                s.set_nodelay(true).ok();
                greenshim::spawn(move || C::serve(s));
            }
        }),
        "may" => {
            may::config().set_workers(default_workers(workers));
            let listener = may::net::TcpListener::bind(addr).expect("bind");
            let acceptor = move || {
                for s in listener.incoming().flatten() {
                    s.set_nodelay(true).ok();
                    // SAFETY: the connection loops use no thread-local storage.
                    unsafe { may::coroutine::spawn(move || C::serve(s)) };
                }
            };
            // SAFETY: the acceptor uses no thread-local storage.
            let h = unsafe { may::coroutine::spawn(acceptor) };
            h.join().ok();
        }
        "epoll" => epoll_loop::serve::<C>(addr),
        "std" => {
            let listener = std::net::TcpListener::bind(addr).expect("bind");
            for s in listener.incoming().flatten() {
                s.set_nodelay(true).ok();
                std::thread::Builder::new()
                    .stack_size(64 << 10)
                    .spawn(move || C::serve(s))
                    .ok();
            }
        }
        _ => return false,
    }
    true
}

/// Starts greenshim (patched or not) and runs `acceptor` on a green thread until it returns.
fn greenshim_server(workers: usize, patch: bool, acceptor: impl FnOnce() + Send) {
    greenshim::runtime::Config::new()
        .workers(workers)
        .apply()
        .expect("configure greenshim");
    greenshim::runtime::start().expect("start greenshim");
    if patch {
        greenshim::monkey::patch_all().expect("patch before any spawn");
    }
    greenshim::thread::scope(|s| {
        s.spawn(acceptor);
    });
}

/// Memory mappings `n` live stacks need (green threads, or OS threads for W1's `std` form),
/// with room for the rest of the process.
pub fn map_count_needed(n: usize) -> usize {
    n * greenshim_shim::runtime::MAPS_PER_STACK + 16_384
}

/// Raises `vm.max_map_count` to `needed` when it is lower (root only), saying so on stderr.
///
/// # Panics
/// When the limit is too low and cannot be raised.
pub fn raise_map_count(needed: usize) {
    use greenshim_shim::sys;
    let limit = sys::max_map_count().unwrap_or(0);
    if limit < needed {
        match sys::raise_max_map_count(needed) {
            Ok(now) => eprintln!("raised vm.max_map_count from {limit} to {now}"),
            Err(e) => panic!("cannot raise vm.max_map_count to {needed} (needs root): {e}"),
        }
    }
}

/// The calling process's resident memory, in KiB (`VmRSS` of `/proc/self/status`; 0 if it
/// cannot be read).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
