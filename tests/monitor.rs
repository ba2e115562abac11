//! Diagnostics (`greenshim::monitor`): the blocking detector names the green thread that held
//! its worker (and the libc call it was in), run info lists what each green thread waits on,
//! unjoined panics are reported once, and a healthy busy run reports nothing.
//!
//! The tests share the process-wide reporter, so they take turns (`serial`).

mod util;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use greenshim::monitor::{self, Report, State, WaitOn};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Collects every report made while it lives.
struct Collected(Arc<Mutex<Vec<Report>>>);

impl Collected {
    fn start() -> Self {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let sink = reports.clone();
        monitor::set_reporter(move |r| sink.lock().unwrap().push(r.clone()));
        Collected(reports)
    }

    fn all(&self) -> Vec<Report> {
        self.0.lock().unwrap().clone()
    }

    fn blocking(&self) -> Vec<monitor::BlockingReport> {
        self.all()
            .into_iter()
            .filter_map(|r| match r {
                Report::Blocking(b) => Some(b),
                _ => None,
            })
            .collect()
    }
}

impl Drop for Collected {
    fn drop(&mut self) {
        monitor::clear_reporter();
    }
}

fn spin(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::black_box(0u64);
    }
}

#[test]
fn a_green_thread_spinning_300ms_is_reported_once_by_name() {
    let _s = serial();
    util::workers(2);
    let reports = Collected::start();
    monitor::enable(Duration::from_millis(100));
    let g = greenshim::Builder::new()
        .name("spinner")
        .spawn(|| spin(Duration::from_millis(300)))
        .unwrap();
    let id = g.id();
    g.join().unwrap();
    // The watchdog samples every 20 ms; give it time to see the end of the incident.
    std::thread::sleep(Duration::from_millis(100));
    monitor::disable();
    let blocking = reports.blocking();
    assert_eq!(blocking.len(), 1, "one report per incident: {blocking:#?}");
    let b = &blocking[0];
    assert_eq!(b.green_thread.name.as_deref(), Some("spinner"));
    assert_eq!(b.green_thread.id, id);
    let site = b.green_thread.spawn_site.expect("spawn site");
    assert!(site.file().ends_with("monitor.rs"), "{site}");
    assert!(b.running_for >= Duration::from_millis(100), "{b:?}");
    assert_eq!(b.in_libc, None);
    let text = b.to_string();
    assert!(
        text.contains("\"spinner\"") && text.contains("without parking"),
        "{text}"
    );
}

#[test]
fn a_green_thread_inside_an_unpatched_blocking_libc_call_is_reported_with_the_call() {
    let _s = serial();
    util::workers(2);
    let reports = Collected::start();
    monitor::enable(Duration::from_millis(100));
    // Nothing is patched in this binary: std's sleep is libc's nanosleep, which blocks the
    // worker (the mistake the detector exists to find).
    let g = greenshim::Builder::new()
        .name("unpatched-sleeper")
        .spawn(|| std::thread::sleep(Duration::from_millis(300)))
        .unwrap();
    g.join().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    monitor::disable();
    let blocking = reports.blocking();
    assert_eq!(blocking.len(), 1, "{blocking:#?}");
    assert_eq!(
        blocking[0].green_thread.name.as_deref(),
        Some("unpatched-sleeper")
    );
    // std sleeps with clock_nanosleep on Linux.
    assert_eq!(blocking[0].in_libc, Some("clock_nanosleep"));
    assert!(
        blocking[0]
            .to_string()
            .contains("inside libc clock_nanosleep")
    );
}

#[test]
fn run_info_lists_a_socket_reader_as_waiting_on_its_fd() {
    let _s = serial();
    util::workers(2);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stream = greenshim::net::TcpStream::connect(addr).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    let fd = stream.as_raw_fd();
    let reader = greenshim::Builder::new()
        .name("reader")
        .spawn(move || {
            let mut stream = stream;
            let mut buf = [0u8; 5];
            stream.read_exact(&mut buf).unwrap();
            buf
        })
        .unwrap();
    let sleeper = greenshim::Builder::new()
        .name("sleeper")
        .spawn(|| greenshim::sleep(Duration::from_secs(30)))
        .unwrap();
    let mut info = monitor::run_info();
    util::eventually(Duration::from_secs(10), "reader parked", || {
        info = monitor::run_info();
        let parked = |name: &str| {
            info.green_threads
                .iter()
                .any(|g| g.name.as_deref() == Some(name) && g.state == State::Parked)
        };
        parked("reader") && parked("sleeper")
    });
    let r = info
        .green_threads
        .iter()
        .find(|g| g.name.as_deref() == Some("reader"))
        .unwrap();
    assert_eq!(r.id, reader.id());
    assert_eq!(r.waiting_on, Some(WaitOn::Fd { fd, write: false }));
    assert_eq!(r.deadline_in, None);
    let s = info
        .green_threads
        .iter()
        .find(|g| g.name.as_deref() == Some("sleeper"))
        .unwrap();
    assert_eq!(s.waiting_on, Some(WaitOn::Sleep));
    assert!(
        s.deadline_in.is_some_and(|d| d > Duration::from_secs(20)),
        "{s:?}"
    );
    let text = info.to_string();
    assert!(
        text.contains("\"reader\" (spawned at tests/monitor.rs:")
            && text.contains(&format!("parked waiting for fd {fd} to become readable")),
        "{text}"
    );
    peer.write_all(b"hello").unwrap();
    assert_eq!(&reader.join().unwrap(), b"hello");
    sleeper.kill();
    assert!(sleeper.join().unwrap_err().is_killed());
    // Finished green threads leave the list.
    util::eventually(Duration::from_secs(10), "finished ones gone", || {
        monitor::run_info()
            .green_threads
            .iter()
            .all(|g| g.id != r.id && g.id != s.id)
    });
}

#[test]
fn run_info_names_locks_channels_and_joins() {
    let _s = serial();
    util::workers(2);
    let m = Arc::new(greenshim::sync::Mutex::new(()));
    let (tx, rx) = greenshim::sync::mpsc::channel::<()>();
    let guard = m.lock().unwrap();
    let m2 = m.clone();
    let locker = greenshim::Builder::new()
        .name("locker")
        .spawn(move || drop(m2.lock().unwrap()))
        .unwrap();
    let receiver = greenshim::Builder::new()
        .name("receiver")
        .spawn(move || rx.recv().unwrap())
        .unwrap();
    let receiver_id = receiver.id();
    let joiner = greenshim::Builder::new()
        .name("joiner")
        .spawn(move || receiver.join().unwrap())
        .unwrap();
    let wait_of = |name: &str| {
        monitor::run_info()
            .green_threads
            .into_iter()
            .find(|g| g.name.as_deref() == Some(name) && g.state == State::Parked)
            .and_then(|g| g.waiting_on)
    };
    util::eventually(Duration::from_secs(10), "all three parked", || {
        wait_of("locker").is_some() && wait_of("receiver").is_some() && wait_of("joiner").is_some()
    });
    assert!(
        matches!(
            wait_of("locker"),
            Some(WaitOn::Object {
                what: "Mutex::lock",
                ..
            })
        ),
        "{:?}",
        wait_of("locker")
    );
    assert!(
        matches!(
            wait_of("receiver"),
            Some(WaitOn::Object {
                what: "channel receive",
                ..
            })
        ),
        "{:?}",
        wait_of("receiver")
    );
    assert_eq!(wait_of("joiner"), Some(WaitOn::Join { id: receiver_id }));
    drop(guard);
    tx.send(()).unwrap();
    locker.join().unwrap();
    joiner.join().unwrap();
}

#[test]
fn a_panic_nobody_joins_is_reported_once_and_a_joined_one_is_not() {
    let _s = serial();
    util::workers(2);
    let reports = Collected::start();
    let joined = greenshim::Builder::new()
        .name("joined")
        .spawn(|| panic!("joined boom"))
        .unwrap();
    assert_eq!(
        joined.join().unwrap_err().panic_message(),
        Some("joined boom")
    );
    let dropped = greenshim::Builder::new()
        .name("dropped")
        .spawn(|| -> () { panic!("nobody joins me") })
        .unwrap();
    let id = dropped.id();
    drop(dropped);
    let panics = || {
        reports
            .all()
            .into_iter()
            .filter_map(|r| match r {
                Report::UnjoinedPanic(p) => Some(p),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    util::eventually(Duration::from_secs(10), "panic reported", || {
        !panics().is_empty()
    });
    std::thread::sleep(Duration::from_millis(100));
    let p = panics();
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0].id, id);
    assert_eq!(p[0].name.as_deref(), Some("dropped"));
    assert_eq!(p[0].message.as_deref(), Some("nobody joins me"));
    assert!(
        p[0].to_string()
            .contains("panicked and was never joined: nobody joins me")
    );
}

#[test]
fn a_busy_healthy_run_of_10000_green_threads_reports_nothing() {
    let _s = serial();
    util::workers(2);
    let reports = Collected::start();
    monitor::enable(monitor::DEFAULT_MAX_BLOCKING_TIME);
    let before = monitor::blocking_incidents();
    let (tx, rx) = greenshim::sync::mpsc::channel::<u64>();
    let counter = Arc::new(greenshim::sync::Mutex::new(0u64));
    let t = Instant::now();
    let gs: Vec<_> = (0..10_000u64)
        .map(|i| {
            let tx = tx.clone();
            let counter = counter.clone();
            greenshim::spawn(move || {
                for round in 0..5 {
                    greenshim::sleep(Duration::from_millis(1 + (i + round) % 20));
                    spin(Duration::from_micros(20));
                    *counter.lock().unwrap() += 1;
                    tx.send(i).unwrap();
                    greenshim::thread::yield_now();
                }
            })
        })
        .collect();
    drop(tx);
    let consumer = greenshim::spawn(move || rx.iter().count());
    for g in gs {
        g.join().unwrap();
    }
    assert_eq!(consumer.join().unwrap(), 50_000);
    assert_eq!(*counter.lock().unwrap(), 50_000);
    let took = t.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    monitor::disable();
    assert_eq!(
        monitor::blocking_incidents(),
        before,
        "reports: {:#?}",
        reports.all()
    );
    assert!(
        reports.all().is_empty(),
        "{:#?} (run took {took:?})",
        reports.all()
    );
}

/// The child half of the next test: runs only in the process that test starts.
#[test]
fn env_child() {
    if std::env::var_os("GREENSHIM_TEST_ENV_CHILD").is_none() {
        return;
    }
    struct Count;
    static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());
    impl log::Log for Count {
        fn enabled(&self, m: &log::Metadata<'_>) -> bool {
            m.target() == "greenshim"
        }
        fn log(&self, r: &log::Record<'_>) {
            if self.enabled(r.metadata()) && r.level() == log::Level::Warn {
                WARNINGS.lock().unwrap().push(r.args().to_string());
            }
        }
        fn flush(&self) {}
    }
    log::set_logger(&Count).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    greenshim::runtime::start().unwrap();
    assert!(monitor::is_enabled(), "GREENSHIM_MONITOR=1 turns it on");
    assert_eq!(monitor::max_blocking_time(), Duration::from_millis(50));
    greenshim::Builder::new()
        .name("env-spinner")
        .spawn(|| spin(Duration::from_millis(250)))
        .unwrap()
        .join()
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let w = WARNINGS.lock().unwrap().clone();
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(w[0].contains("\"env-spinner\""), "{w:#?}");
}

#[test]
fn greenshim_monitor_1_enables_the_detector_and_reports_go_to_the_log_facade() {
    if std::env::var_os("GREENSHIM_TEST_ENV_CHILD").is_some() {
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "env_child", "--nocapture", "--test-threads", "1"])
        .env("GREENSHIM_TEST_ENV_CHILD", "1")
        .env("GREENSHIM_MONITOR", "1")
        .env("GREENSHIM_MAX_BLOCKING_MS", "50")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
