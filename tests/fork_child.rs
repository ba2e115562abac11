//! Children of a process running greenshim: a child that shares the parent's memory (`clone`
//! with `CLONE_VM`, as `vfork` and glibc's `posix_spawn` make) must not run greenshim's fd
//! bookkeeping in the parent's memory, and a child forked without exec must get clear
//! results, never a hang: its greenshim calls behave as on a plain thread and spawning a
//! green thread fails with an error that says why. Its own binary: it patches and forks.

mod util;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Once;
use std::time::{Duration, Instant};

use greenshim::monkey::{self, Family};

fn patched() {
    static PATCH: Once = Once::new();
    util::workers(1);
    PATCH.call_once(|| monkey::patch_all().expect("patch before any spawn"));
}

/// Waits for child `pid` for at most `limit`; kills it and fails the test if it is still
/// running then. Returns its exit status.
fn wait_child(pid: libc::pid_t, limit: Duration) -> i32 {
    let end = Instant::now() + limit;
    loop {
        let mut status = 0;
        // SAFETY: waits for our own child; `status` is a live local.
        let r = unsafe { libc::waitpid(pid, &raw mut status, libc::WNOHANG) };
        assert!(r >= 0, "waitpid: {}", std::io::Error::last_os_error());
        if r == pid {
            assert!(
                libc::WIFEXITED(status),
                "child ended by a signal: {status:#x}"
            );
            return libc::WEXITSTATUS(status);
        }
        if Instant::now() > end {
            // SAFETY: our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the child hung");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

extern "C" fn close_in_shared_memory_child(arg: *mut libc::c_void) -> libc::c_int {
    let fds = arg.cast::<[libc::c_int; 2]>();
    // SAFETY: the parent passes a pointer to two fds and waits (CLONE_VFORK) until we exit.
    let [watched, other] = unsafe { *fds };
    // What a spawn helper does between clone and exec: close what the child must not keep,
    // and move another fd into place. Both land in greenshim's hooks.
    // SAFETY: plain fd calls on the child's own copy of the fd table.
    unsafe {
        libc::close(watched);
        libc::dup2(other, watched);
        libc::_exit(0)
    }
}

#[test]
fn a_child_sharing_the_parents_memory_leaves_the_parents_fd_state_alone() {
    patched();
    let (reader_side, mut writer) = greenshim::spawn(|| UnixStream::pair().unwrap())
        .join()
        .unwrap();
    let watched = reader_side.as_raw_fd();
    let other = writer.as_raw_fd();
    let coop = monkey::stats().family(Family::Sockets).cooperative;
    let reader = greenshim::spawn(move || {
        let mut reader_side = reader_side;
        let mut buf = [0u8; 5];
        reader_side.read_exact(&mut buf).map(|()| buf)
    });
    util::eventually(
        Duration::from_secs(10),
        "the reader parks on its fd",
        || {
            monkey::stats().family(Family::Sockets).cooperative > coop
                && greenshim::run_info().green_threads.iter().any(|g| {
                    g.waiting_on
                        == Some(greenshim::monitor::WaitOn::Fd {
                            fd: watched,
                            write: false,
                        })
                })
        },
    );
    let mut stack = vec![0u8; 256 * 1024];
    let mut fds = [watched, other];
    // SAFETY: the child runs on `stack` (its top passed, aligned down to 16), shares our
    // memory and runs until `_exit` while this thread waits (CLONE_VFORK); `fds` outlives it.
    let pid = unsafe {
        let top = stack.as_mut_ptr().add(stack.len());
        let top = top.sub(top as usize % 16);
        libc::clone(
            close_in_shared_memory_child,
            top.cast(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&raw mut fds).cast(),
        )
    };
    assert!(pid > 0, "clone: {}", std::io::Error::last_os_error());
    assert_eq!(wait_child(pid, Duration::from_secs(10)), 0);
    writer.write_all(b"hello").unwrap();
    let got = util::watchdog(Duration::from_secs(10), move || reader.join().unwrap());
    assert_eq!(
        got.map_err(|e| e.to_string()).as_ref().map(|b| &b[..]),
        Ok(&b"hello"[..]),
        "the parent's reader still waits on its registered fd"
    );
}

/// What a forked child does with greenshim; its exit code says which step failed (0: all
/// went as on a plain thread).
fn child_work() -> i32 {
    let start = Instant::now();
    greenshim::sleep(Duration::from_millis(20));
    std::thread::sleep(Duration::from_millis(20));
    if start.elapsed() < Duration::from_millis(40) {
        return 2;
    }
    let m = greenshim::sync::Mutex::new(1);
    *m.lock().unwrap() += 1;
    if *m.lock().unwrap() != 2 {
        return 3;
    }
    let (tx, rx) = greenshim::sync::mpsc::channel();
    tx.send(7).unwrap();
    if rx.recv_timeout(Duration::from_secs(1)) != Ok(7) {
        return 4;
    }
    if greenshim::offload(|| 6 * 7) != 42 {
        return 5;
    }
    let (mut a, mut b) = UnixStream::pair().unwrap();
    a.write_all(b"x").unwrap();
    let mut one = [0u8];
    if b.read_exact(&mut one).is_err() || one != *b"x" {
        return 6;
    }
    match greenshim::Builder::new().spawn(|| ()) {
        Err(e)
            if e.kind() == std::io::ErrorKind::Unsupported
                && e.to_string().contains("forked child") => {}
        _ => return 7,
    }
    0
}

fn fork_and_check() -> i32 {
    // SAFETY: the child only runs `child_work` (greenshim's calls, as on a plain thread) and
    // leaves with `_exit`, never returning into the parent's stack frames' owners.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = std::panic::catch_unwind(child_work).unwrap_or(9);
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    assert!(pid > 0, "fork: {}", std::io::Error::last_os_error());
    pid
}

#[test]
fn a_forked_child_runs_greenshim_calls_as_plain_thread_calls() {
    patched();
    let from_plain = fork_and_check();
    assert_eq!(
        wait_child(from_plain, Duration::from_secs(20)),
        0,
        "forked from a plain thread"
    );
    let from_green = greenshim::spawn(fork_and_check).join().unwrap();
    assert_eq!(
        wait_child(from_green, Duration::from_secs(20)),
        0,
        "forked from a green thread"
    );
}
