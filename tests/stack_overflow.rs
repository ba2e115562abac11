//! A green thread that overflows its stack ends the same way every time: a message naming it,
//! then an abort, as std does for an OS thread; never may's silent `exit(1)`, never a hang.
//! Each case runs in a child process (this binary, re-run with `OVERFLOW_CASE` set): small
//! frames, frames that allocate, frames inside greenshim calls; frames of several sizes; one
//! and two workers; other green threads running meanwhile.

mod util;

use std::hint::black_box;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Recursion whose frames hold `N` bytes.
fn small<const N: usize>(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    let frame = [depth as u8; N];
    black_box(&frame);
    small::<N>(depth + 1).wrapping_add(u64::from(frame[N / 2]))
}

/// Recursion that allocates at every level (the overflow can strike inside `malloc`).
fn allocating<const N: usize>(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    let frame = [depth as u8; N];
    let boxed = vec![depth; 16];
    black_box((&frame, &boxed));
    allocating::<N>(depth + 1).wrapping_add(boxed[3] + u64::from(frame[0]))
}

/// Recursion through greenshim: every level runs inside a `with_timeout` and passes a value
/// through a `Queue`.
fn through_greenshim<const N: usize>(depth: u64, q: &greenshim::Queue<u64>) -> u64 {
    let frame = [depth as u8; N];
    black_box(&frame);
    q.put(depth).expect("an unbounded queue takes it");
    let got = q.get().expect("the value just put");
    greenshim::with_timeout(Duration::from_secs(600), || {
        through_greenshim::<N>(got + 1, q)
    })
    .unwrap_or(0)
    .wrapping_add(u64::from(frame[0]))
}

fn run_case(shape: &str, frame: usize) -> u64 {
    macro_rules! sized {
        ($f:ident $(, $arg:expr)?) => {
            match frame {
                64 => $f::<64>(0 $(, $arg)?),
                700 => $f::<700>(0 $(, $arg)?),
                5000 => $f::<5000>(0 $(, $arg)?),
                other => panic!("frame size {other}"),
            }
        };
    }
    match shape {
        "small" => sized!(small),
        "allocating" => sized!(allocating),
        "greenshim" => {
            let q = greenshim::Queue::new();
            sized!(through_greenshim, &q)
        }
        other => panic!("shape {other}"),
    }
}

/// The child: a ticker and a busy neighbour, then the overflowing green thread; or, for the
/// `plain-*` cases, a fault that is not a green thread's, which must reach the handler behind
/// greenshim's (std's overflow report, or the default action).
#[test]
fn child_entry() {
    let Ok(case) = std::env::var("OVERFLOW_CASE") else {
        return;
    };
    if let Some(kind) = case.strip_prefix("plain-") {
        util::workers(1);
        greenshim::runtime::start().unwrap();
        match kind {
            "overflow" => {
                let t = std::thread::Builder::new()
                    .name("deep-plain".into())
                    .stack_size(256 * 1024)
                    .spawn(|| small::<700>(0))
                    .unwrap();
                println!("CHILD-RETURNED {:?}", t.join().is_ok());
            }
            _ => {
                // SAFETY: deliberately faults: a write through a null pointer.
                unsafe { std::ptr::null_mut::<u64>().write_volatile(1) };
                println!("CHILD-RETURNED");
            }
        }
        return;
    }
    let parts: Vec<&str> = case.split(':').collect();
    let (shape, frame, workers) = (
        parts[0].to_owned(),
        parts[1].parse::<usize>().unwrap(),
        parts[2].parse::<usize>().unwrap(),
    );
    util::workers(workers);
    let _ticker = greenshim::spawn(|| {
        loop {
            greenshim::sleep(Duration::from_millis(1));
        }
    });
    let deep = greenshim::Builder::new()
        .name(format!("deep-{shape}"))
        .spawn(move || run_case(&shape, frame))
        .unwrap();
    let r = deep.join();
    // Unreachable when the overflow aborts, as it must.
    println!("CHILD-RETURNED {r:?}");
}

fn run_child(case: &str) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_entry",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("OVERFLOW_CASE", case)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > end {
            child.kill().ok();
            panic!("case {case}: the child hangs after its stack overflow");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).ok();
    child.stderr.take().unwrap().read_to_string(&mut out).ok();
    (status, out)
}

#[test]
fn every_overflow_is_reported_and_aborts() {
    if std::env::var("OVERFLOW_CASE").is_ok() {
        return;
    }
    util::workers(1);
    greenshim::runtime::start().unwrap();
    if greenshim::runtime::stack_mode() != greenshim::runtime::StackMode::Arena {
        eprintln!(
            "skipped: stacks are {:?} here; may's own overflow handling applies",
            greenshim::runtime::stack_mode()
        );
        return;
    }
    let mut cases = Vec::new();
    for shape in ["small", "allocating", "greenshim"] {
        for frame in [64, 700, 5000] {
            for workers in [1, 2] {
                cases.push(format!("{shape}:{frame}:{workers}"));
            }
        }
    }
    // A few at a time: each child overflows within milliseconds.
    for batch in cases.chunks(6) {
        let runs: Vec<_> = batch
            .iter()
            .cloned()
            .map(|case| std::thread::spawn(move || (run_child(&case), case)))
            .collect();
        for r in runs {
            let ((status, out), case) = r.join().unwrap();
            let shape = case.split(':').next().unwrap();
            assert_eq!(
                status.signal(),
                Some(libc::SIGABRT),
                "case {case}: expected an abort, got {status:?}\n{out}"
            );
            assert!(
                out.contains(&format!(
                    "'deep-{shape}' has overflowed its stack of 64 KiB"
                )),
                "case {case}: no report naming the green thread\n{out}"
            );
            assert!(!out.contains("CHILD-RETURNED"), "case {case}\n{out}");
        }
    }
}

#[test]
fn other_faults_reach_the_handlers_behind() {
    if std::env::var("OVERFLOW_CASE").is_ok() {
        return;
    }
    // A plain thread's overflow: std's own report and abort.
    let (status, out) = run_child("plain-overflow");
    assert_eq!(status.signal(), Some(libc::SIGABRT), "{status:?}\n{out}");
    assert!(
        out.contains("thread 'deep-plain'") && out.contains("has overflowed its stack"),
        "{out}"
    );
    assert!(!out.contains("greenshim: green thread"), "{out}");
    // A stray write: the default action, SIGSEGV.
    let (status, out) = run_child("plain-null");
    assert_eq!(status.signal(), Some(libc::SIGSEGV), "{status:?}\n{out}");
    assert!(!out.contains("CHILD-RETURNED"), "{out}");
}
