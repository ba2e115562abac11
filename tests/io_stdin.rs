//! `greenshim::io::stdin()` parks the reading green thread while a pipe on fd 0 is empty, and
//! never changes fd 0's blocking mode. The test re-runs this binary as a child whose stdin is a
//! pipe (or /dev/null) that the parent controls.

use std::io::{BufRead, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

fn child(mode: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--ignored",
        "--exact",
        "stdin_child",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env("GREENSHIM_STDIN_CHILD", mode)
    .env("GREENSHIM_WORKERS", "1")
    .stdout(Stdio::piped());
    c
}

fn report(stdout: &[u8]) -> String {
    String::from_utf8_lossy(stdout)
        .lines()
        .find_map(|l| l.find("REPORT ").map(|i| l[i..].to_owned()))
        .unwrap_or_else(|| panic!("no report in {:?}", String::from_utf8_lossy(stdout)))
}

#[test]
fn reading_an_empty_pipe_parks_only_the_reader() {
    let mut c = child("pipe").stdin(Stdio::piped()).spawn().unwrap();
    let mut input = c.stdin.take().unwrap();
    let mut out = std::io::BufReader::new(c.stdout.take().unwrap());
    // The child says when its ticker and reader are running; then lines arrive slowly.
    let mut line = String::new();
    while !line.contains("READY") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the child ended before READY"
        );
    }
    for line in ["first", "second"] {
        std::thread::sleep(Duration::from_millis(100));
        writeln!(input, "{line}").unwrap();
    }
    drop(input);
    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    assert!(c.wait().unwrap().success());
    let r = report(&rest);
    assert!(r.contains(r#"lines=["first", "second"]"#), "{r}");
    assert!(r.contains("fd0_nonblocking=false"), "{r}");
    let ticks: u64 = r
        .split_whitespace()
        .find_map(|w| w.strip_prefix("ticks_while_reading="))
        .unwrap()
        .parse()
        .unwrap();
    // 200 ms of waiting for input at a 5 ms cadence on the one worker: ~40 ticks. Generous.
    assert!(
        ticks >= 10,
        "the ticker stalled while the reader waited: {r}"
    );
}

#[test]
fn dev_null_reads_as_end_of_input() {
    let out = child("null").stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success());
    assert!(report(&out.stdout).contains("lines=[]"));
}

#[test]
#[ignore = "run by the other tests as a child process"]
fn stdin_child() {
    let Ok(mode) = std::env::var("GREENSHIM_STDIN_CHILD") else {
        panic!("only meaningful as the child of the other tests");
    };
    let reading = Arc::new(AtomicBool::new(true));
    let ticks = Arc::new(AtomicU64::new(0));
    let ticker = {
        let (reading, ticks) = (reading.clone(), ticks.clone());
        greenshim::spawn(move || {
            while reading.load(Ordering::SeqCst) {
                greenshim::sleep(Duration::from_millis(5));
                ticks.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let reader = greenshim::spawn(move || {
        if mode == "pipe" {
            println!("READY");
            std::io::stdout().flush().unwrap();
        }
        let lines: Vec<String> = greenshim::io::stdin()
            .lock()
            .lines()
            .map(Result::unwrap)
            .collect();
        reading.store(false, Ordering::SeqCst);
        lines
    });
    let lines = reader.join().unwrap();
    ticker.join().unwrap();
    // SAFETY: F_GETFL takes no pointer argument.
    let flags = unsafe { libc::fcntl(0, libc::F_GETFL) };
    println!(
        "REPORT lines={lines:?} ticks_while_reading={} fd0_nonblocking={}",
        ticks.load(Ordering::SeqCst),
        flags & libc::O_NONBLOCK != 0
    );
}
