//! `#[greenshim::main]` and `#[greenshim::test]`: the body runs on a green thread, after the
//! patch; a panicking or failing `main` exits as a plain one does.

use std::process::Command;
use std::time::Duration;

#[greenshim::test(workers = 1)]
fn a_greenshim_test_runs_on_a_green_thread_after_the_patch() {
    // The entry point's green thread is named "main" (a plain thread would have libtest's name).
    assert_eq!(greenshim::thread::current().name(), Some("main"));
    assert!(greenshim::live_count() >= 1);
    assert!(greenshim::monkey::is_patched(
        greenshim::monkey::Family::Locks
    ));
    // A patched sleep parks: another green thread of the one worker runs meanwhile.
    let other = greenshim::spawn(|| 5);
    std::thread::sleep(Duration::from_millis(5));
    assert!(other.is_finished());
}

#[greenshim::test(workers = 1)]
#[should_panic(expected = "expected boom")]
fn a_greenshim_test_may_expect_a_panic() {
    panic!("expected boom");
}

#[greenshim::test(workers = 1)]
fn a_greenshim_test_may_return_a_result() -> Result<(), std::num::ParseIntError> {
    let n: u32 = "42".parse()?;
    assert_eq!(n, 42);
    Ok(())
}

/// The example binary `name` (built first: a filtered `cargo test` does not build examples).
fn example(name: &str) -> Command {
    let built = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(built.success(), "cannot build the example {name}");
    let mut dir = std::env::current_exe().unwrap();
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    Command::new(dir.join("examples").join(name))
}

#[test]
fn a_panicking_main_exits_as_a_plain_main_does() {
    let out = example("entry_panics").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(stderr.contains("boom from main"), "{stderr}");
    assert!(stderr.contains("examples/entry_panics.rs"), "{stderr}");
}

#[test]
fn a_main_returning_err_prints_it_and_exits_1() {
    let out = example("entry_err").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end(), "Error: \"bad input\"");
}
