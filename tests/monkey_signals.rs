//! A `SIGALRM` handler installed without `SA_RESTART` fires every millisecond while 100 green
//! threads are parked in patched socket reads and sleeps, and writes a byte to a self-pipe a
//! green thread reads (the classic self-pipe pattern, from a handler running on any thread,
//! workers included): no `EINTR` reaches code where std retries it, every sleep lasts its
//! full length, every read gets its data, and the self-pipe loses no byte. The same program
//! runs on plain threads for comparison. And a handler that interrupts a green thread on its
//! worker and writes to a full pipe greenshim manages gets libc's answer (`EAGAIN`, the kernel
//! fd being non-blocking) instead of parking the green thread inside the signal frame. Its own
//! binary: it patches and installs handlers.

mod util;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use greenshim::monkey;

static FIRED: AtomicU64 = AtomicU64::new(0);
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
static WRITTEN: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_alarm(_: libc::c_int) {
    FIRED.fetch_add(1, Ordering::Relaxed);
    let fd = PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write(2) of one byte from a static; async-signal-safe. errno is saved and
        // restored, as a handler must.
        unsafe {
            let saved = *libc::__errno_location();
            if libc::write(fd, b"!".as_ptr().cast(), 1) == 1 {
                WRITTEN.fetch_add(1, Ordering::Relaxed);
            }
            *libc::__errno_location() = saved;
        }
    }
}

/// Starts a 1 ms `ITIMER_REAL` with a handler installed without `SA_RESTART`.
fn start_alarms() {
    // SAFETY: installs a plain handler (no SA_RESTART: interrupted calls fail with EINTR) and
    // an interval timer; both take pointers to live locals.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_alarm as *const () as usize;
        sa.sa_flags = 0;
        libc::sigemptyset(&raw mut sa.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGALRM, &raw const sa, std::ptr::null_mut()),
            0
        );
        let t = libc::itimerval {
            it_interval: libc::timeval {
                tv_sec: 0,
                tv_usec: 1000,
            },
            it_value: libc::timeval {
                tv_sec: 0,
                tv_usec: 1000,
            },
        };
        assert_eq!(
            libc::setitimer(libc::ITIMER_REAL, &raw const t, std::ptr::null_mut()),
            0
        );
    }
}

fn stop_alarms() {
    // SAFETY: a zero interval timer stops it.
    unsafe {
        let t: libc::itimerval = std::mem::zeroed();
        libc::setitimer(libc::ITIMER_REAL, &raw const t, std::ptr::null_mut());
    }
}

/// One reader: waits in a read for a peer that writes after `delay`. Returns the bytes.
fn reader(delay: Duration) -> impl FnOnce() -> Result<[u8; 4], String> + Send + 'static {
    move || {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let mut client = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        let (mut server, _) = listener.accept().map_err(|e| e.to_string())?;
        let writer = std::thread::spawn(move || {
            std::thread::sleep(delay);
            server.write_all(b"data").map(|()| server)
        });
        let mut buf = [0u8; 4];
        let r = client
            .read_exact(&mut buf)
            .map_err(|e| format!("read: {e}"));
        drop(writer.join().map_err(|_| "writer panicked".to_owned())?);
        r.map(|()| buf)
    }
}

/// One sleeper: a std sleep of `d`; returns how long it took.
fn sleeper(d: Duration) -> impl FnOnce() -> Result<Duration, String> + Send + 'static {
    move || {
        let start = Instant::now();
        std::thread::sleep(d);
        Ok(start.elapsed())
    }
}

#[test]
fn alarms_without_sa_restart_leak_no_eintr_and_lose_no_wakeup() {
    util::workers(2);
    monkey::patch_all().unwrap();
    // The self-pipe, created under the patch by a green thread (so greenshim adopts it).
    let (read_fd, write_fd) = greenshim::spawn(|| {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two fds into a live array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        (fds[0], fds[1])
    })
    .join()
    .unwrap();
    PIPE_WRITE.store(write_fd, Ordering::SeqCst);
    start_alarms();
    let outcome = util::watchdog(Duration::from_secs(60), move || {
        let drain = greenshim::spawn(move || {
            // SAFETY: the pipe's read end, owned from here on.
            let mut pipe = unsafe { std::fs::File::from_raw_fd(read_fd) };
            let mut got = 0u64;
            let mut buf = [0u8; 256];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => return Ok(got),
                    Ok(n) => got += n as u64,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
        });
        let d = Duration::from_millis(300);
        let green_reads: Vec<_> = (0..50).map(|_| greenshim::spawn(reader(d))).collect();
        let green_sleeps: Vec<_> = (0..50).map(|_| greenshim::spawn(sleeper(d))).collect();
        let plain_read = std::thread::spawn(reader(d));
        let plain_sleep = std::thread::spawn(sleeper(d));
        let reads: Vec<_> = green_reads.into_iter().map(|g| g.join().unwrap()).collect();
        let sleeps: Vec<_> = green_sleeps
            .into_iter()
            .map(|g| g.join().unwrap())
            .collect();
        let plain = (plain_read.join().unwrap(), plain_sleep.join().unwrap());
        stop_alarms();
        PIPE_WRITE.store(-1, Ordering::SeqCst);
        // SAFETY: closes the write end (the handler no longer uses it): the drain sees EOF.
        unsafe { libc::close(write_fd) };
        (reads, sleeps, plain, drain.join().unwrap())
    });
    let (reads, sleeps, (plain_read, plain_sleep), drained) = outcome;
    assert!(FIRED.load(Ordering::Relaxed) > 100, "the alarm fired");
    assert_eq!(plain_read, Ok(*b"data"), "plain thread read");
    assert!(plain_sleep.as_ref().unwrap() >= &Duration::from_millis(300));
    for r in &reads {
        assert_eq!(r, &Ok(*b"data"), "green read");
    }
    for s in &sleeps {
        let s = s.as_ref().unwrap();
        assert!(
            *s >= Duration::from_millis(300),
            "a green sleep ended early: {s:?}"
        );
    }
    assert_eq!(
        drained,
        Ok(WRITTEN.load(Ordering::Relaxed)),
        "every byte the handler wrote reached the reader"
    );
}

static FULL_PIPE: AtomicI32 = AtomicI32::new(-1);
static HANDLER_EAGAIN: AtomicU64 = AtomicU64::new(0);
static HANDLER_OTHER: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_usr1(_: libc::c_int) {
    // SAFETY: write(2) of one byte from a static to a pipe; errno saved and restored.
    unsafe {
        let saved = *libc::__errno_location();
        let r = libc::write(FULL_PIPE.load(Ordering::Relaxed), b"?".as_ptr().cast(), 1);
        if r == -1 && *libc::__errno_location() == libc::EAGAIN {
            HANDLER_EAGAIN.fetch_add(1, Ordering::Relaxed);
        } else {
            HANDLER_OTHER.fetch_add(1, Ordering::Relaxed);
        }
        *libc::__errno_location() = saved;
    }
}

/// The kernel thread id of the worker thread named `name`.
fn worker_tid(name: &str) -> libc::pid_t {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| {
            let t = t.ok()?;
            let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
            (comm.trim_end() == name).then(|| t.file_name().to_str()?.parse().ok())?
        })
        .next()
        .unwrap_or_else(|| panic!("no thread named {name}"))
}

#[test]
fn a_handler_interrupting_a_green_thread_never_parks_it() {
    util::workers(2);
    monkey::patch_all().unwrap();
    // A pipe created and adopted under the patch (blocking, as the user left it), then filled
    // through the raw system call, so that a blocking write to it would wait.
    let (read_fd, write_fd) = greenshim::spawn(|| {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two fds into a live array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: one byte through the hook adopts the write end (and the read end below).
        assert_eq!(unsafe { libc::write(fds[1], b"x".as_ptr().cast(), 1) }, 1);
        let mut b = [0u8; 1];
        // SAFETY: reads the byte back into a live buffer.
        assert_eq!(unsafe { libc::read(fds[0], b.as_mut_ptr().cast(), 1) }, 1);
        let chunk = [0u8; 4096];
        // SAFETY: the kernel fd is non-blocking once adopted: fill until EAGAIN.
        while unsafe { greenshim_shim::sys::real::write(fds[1], chunk.as_ptr().cast(), 4096) } > 0 {
        }
        (fds[0], fds[1])
    })
    .join()
    .unwrap();
    FULL_PIPE.store(write_fd, Ordering::SeqCst);
    // SAFETY: installs a plain handler through the (interposed) sigaction; live locals.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_usr1 as *const () as usize;
        libc::sigemptyset(&raw mut sa.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &raw const sa, std::ptr::null_mut()),
            0
        );
        let mut back: libc::sigaction = std::mem::zeroed();
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, std::ptr::null(), &raw mut back),
            0
        );
        assert_eq!(
            back.sa_sigaction, on_usr1 as *const () as usize,
            "oldact is the program's handler"
        );
    }
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            greenshim::spawn(move || {
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
                x
            })
        })
        .collect();
    // The spinners stop however this test ends (they would starve the binary's other test).
    struct Stop(std::sync::Arc<AtomicBool>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let _stop = Stop(stop.clone());
    let tids = [worker_tid("greenshim-w0"), worker_tid("greenshim-w1")];
    let handled = || HANDLER_EAGAIN.load(Ordering::Relaxed) + HANDLER_OTHER.load(Ordering::Relaxed);
    for i in 0..100 {
        // SAFETY: directs SIGUSR1 at one of our own worker threads (which runs a spinner).
        unsafe {
            libc::syscall(libc::SYS_tgkill, libc::getpid(), tids[i % 2], libc::SIGUSR1);
        }
        // One at a time: a second SIGUSR1 sent while the first is still pending (its thread
        // not on a CPU: two spinners and this thread share two cores) would merge with it.
        util::eventually(Duration::from_secs(10), "the signal handled", || {
            handled() > i as u64
        });
    }
    stop.store(true, Ordering::Relaxed);
    util::watchdog(Duration::from_secs(10), move || {
        for s in spinners {
            s.join().unwrap();
        }
    });
    assert_eq!(
        HANDLER_OTHER.load(Ordering::Relaxed),
        0,
        "every handler write got EAGAIN"
    );
    assert_eq!(HANDLER_EAGAIN.load(Ordering::Relaxed), 100);
    // SAFETY: our pipe's fds.
    unsafe {
        libc::close(read_fd);
        libc::close(write_fd);
    }
}
