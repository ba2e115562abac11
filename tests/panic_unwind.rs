//! A panic never aborts the process, even when destructors make patched blocking calls while
//! their green thread unwinds. std keeps its panic count and its "inside the panic hook" flag
//! per OS thread; a green thread that parked mid-unwind used to leave its worker "panicking",
//! so the next panic there was a double panic (forcing a full backtrace whose symbol lookup
//! opens files, parking inside the hook) and the third aborted the process.
//!
//! Each scenario runs in a child process (an abort must fail the test, not kill the test
//! binary), with `RUST_BACKTRACE=1` so the hook resolves symbols too.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const CHILD: &str = "GREENSHIM_TEST_PANIC_CHILD";
const GREEN_THREADS: usize = 40;

/// Blocks, the std way, while its green thread unwinds: a sleep, a socket read and a file read.
struct BlocksOnDrop {
    peer: TcpStream,
    file: std::path::PathBuf,
    done: Arc<AtomicUsize>,
}

impl Drop for BlocksOnDrop {
    fn drop(&mut self) {
        assert!(std::thread::panicking());
        std::thread::sleep(Duration::from_millis(5));
        self.peer.write_all(b"?").unwrap();
        let mut byte = [0u8; 1];
        self.peer.read_exact(&mut byte).unwrap();
        assert_eq!(&byte, b"!");
        let text = std::fs::read_to_string(&self.file).unwrap();
        assert_eq!(text, "greenshim");
        self.done.fetch_add(1, Ordering::SeqCst);
    }
}

/// The child's work: GREEN_THREADS green threads panic, each with a destructor that blocks.
fn run_child() {
    greenshim::monkey::patch_all().expect("patch");
    let file = std::env::temp_dir().join(format!("greenshim-panic-{}", std::process::id()));
    std::fs::write(&file, "greenshim").unwrap();
    // A plain-thread server that answers each `?` with `!` after a short delay, so every
    // destructor's read waits.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(GREEN_THREADS) {
            let mut conn = conn.unwrap();
            std::thread::spawn(move || {
                let mut byte = [0u8; 1];
                while conn.read_exact(&mut byte).is_ok() {
                    std::thread::sleep(Duration::from_millis(10));
                    if conn.write_all(b"!").is_err() {
                        break;
                    }
                }
            });
        }
    });
    let done = Arc::new(AtomicUsize::new(0));
    let greenlets: Vec<_> = (0..GREEN_THREADS)
        .map(|i| {
            let guard = BlocksOnDrop {
                peer: TcpStream::connect(addr).unwrap(),
                file: file.clone(),
                done: done.clone(),
            };
            greenshim::spawn(move || {
                let _guard = guard;
                // Park once first, so the panics of many green threads interleave.
                std::thread::sleep(Duration::from_millis(1));
                panic!("green thread {i} panics on purpose");
            })
        })
        .collect();
    for (i, g) in greenlets.into_iter().enumerate() {
        let err = g.join().expect_err("the green thread panicked");
        let msg = format!("{err}");
        assert!(msg.contains(&format!("green thread {i} panics")), "{msg}");
    }
    assert_eq!(done.load(Ordering::SeqCst), GREEN_THREADS);
    std::fs::remove_file(&file).ok();
    println!("child ok");
}

fn run_with_workers(workers: usize) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("GREENSHIM_WORKERS", workers.to_string())
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("child ok"),
        "child with {workers} worker(s) failed: {:?}\nstdout:\n{stdout}\nstderr (tail):\n{}",
        out.status,
        stderr.lines().rev().take(30).collect::<Vec<_>>().join("\n")
    );
    assert!(!stderr.contains("aborting"), "{stderr}");
}

/// The child's entry point; does nothing unless run as the child.
#[test]
fn child_entry() {
    if std::env::var_os(CHILD).is_some() {
        run_child();
    }
}

#[test]
fn destructors_that_block_while_unwinding_on_one_worker() {
    run_with_workers(1);
}

#[test]
fn destructors_that_block_while_unwinding_on_two_workers() {
    run_with_workers(2);
}
