//! `greenshim::process` gives std's results, waits for many children at once on one worker,
//! and streams through child pipes both ways without deadlock.

mod util;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn o<T: std::fmt::Debug>(r: std::io::Result<T>) -> String {
    match r {
        Ok(v) => format!("Ok({v:?})"),
        Err(e) => format!("Err({:?})", e.kind()),
    }
}

macro_rules! scenario {
    ($process:path) => {{
        use process::{Command, Stdio};
        use $process as process;
        let mut out: Vec<String> = Vec::new();
        let r = Command::new("sh")
            .args([
                "-c",
                "printf out; printf err >&2; read x; printf \"[$x]\"; exit 3",
            ])
            .output();
        out.push(format!(
            "output={}",
            o(r.map(|o| (o.status.code(), o.stdout, o.stderr)))
        ));
        out.push(format!(
            "status_true={}",
            o(Command::new("true").status().map(|s| s.success()))
        ));
        out.push(format!(
            "status_false={}",
            o(Command::new("false").status().map(|s| s.code()))
        ));
        out.push(format!(
            "missing={}",
            o(Command::new("/nonexistent/greenshim-test")
                .spawn()
                .map(|_| ()))
        ));
        let mut cat = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        cat.stdin
            .as_mut()
            .unwrap()
            .write_all(b"through cat")
            .unwrap();
        let o2 = cat.wait_with_output().unwrap();
        out.push(format!(
            "cat={:?} {:?}",
            o2.status.success(),
            String::from_utf8_lossy(&o2.stdout)
        ));
        let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
        out.push(format!(
            "try_wait_running={}",
            o(sleeper.try_wait().map(|s| s.is_some()))
        ));
        sleeper.kill().unwrap();
        let st = sleeper.wait().unwrap();
        out.push(format!(
            "killed_signal={:?}",
            std::os::unix::process::ExitStatusExt::signal(&st)
        ));
        out.push(format!(
            "try_wait_done={}",
            o(sleeper.try_wait().map(|s| s.is_some()))
        ));
        let mut env = Command::new("sh");
        env.args(["-c", "printf \"$GS_X\""])
            .env("GS_X", "set")
            .current_dir("/");
        out.push(format!("env={}", o(env.output().map(|o| o.stdout))));
        out.push(format!("env_again={}", o(env.output().map(|o| o.stdout))));
        out
    }};
}

#[test]
fn process_matches_std_on_plain_and_green_threads() {
    util::workers(1);
    let reference = scenario!(std::process);
    assert!(reference[0].contains("Some(3)"), "{reference:?}");
    let plain = scenario!(greenshim::process);
    let green = greenshim::spawn(|| scenario!(greenshim::process))
        .join()
        .unwrap();
    assert_eq!(
        reference, plain,
        "std vs greenshim::process on a plain thread"
    );
    assert_eq!(
        reference, green,
        "std vs greenshim::process on a green thread"
    );
}

#[test]
fn two_hundred_children_are_waited_concurrently_on_one_worker() {
    util::workers(1);
    let parks_before = util::green_parks();
    let t = Instant::now();
    let waiters: Vec<_> = (0..200)
        .map(|_| {
            greenshim::spawn(|| {
                greenshim::process::Command::new("sleep")
                    .arg("0.2")
                    .status()
                    .unwrap()
                    .success()
            })
        })
        .collect();
    let ok = greenshim::joinall(waiters)
        .into_iter()
        .filter(|r| matches!(r, Ok(true)))
        .count();
    let elapsed = t.elapsed();
    assert_eq!(ok, 200);
    // One after another: 40 s. Generous bound for 200 overlapping waits.
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    let parks = util::green_parks() - parks_before;
    assert!(parks >= 200, "only {parks} green parks for 200 waits");
}

#[test]
fn a_megabyte_streams_through_cat_both_ways() {
    util::workers(1);
    const LEN: usize = 1 << 20;
    let done = greenshim::spawn(|| {
        let mut child = greenshim::process::Command::new("cat")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        // The pipes hold far less than a megabyte: writing all first would deadlock.
        let writer = greenshim::spawn(move || {
            let mut stdin = stdin;
            let data: Vec<u8> = (0..LEN).map(|i| (i % 253) as u8).collect();
            stdin.write_all(&data).unwrap();
        });
        let mut back = Vec::new();
        stdout.read_to_end(&mut back).unwrap();
        writer.join().unwrap();
        let status = child.wait().unwrap();
        status.success()
            && back.len() == LEN
            && back.iter().enumerate().all(|(i, &b)| b == (i % 253) as u8)
    });
    assert!(done.join().unwrap());
}

/// Sets every `CommandExt` option through greenshim's trait, generically, so the same code
/// configures greenshim's command and std's.
fn unix_settings<C: greenshim::os::unix::process::CommandExt>(c: &mut C, fail_pre_exec: bool) {
    // SAFETY: getuid/getgid are async-signal-safe.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    c.uid(uid).gid(gid).arg0("renamed").process_group(0);
    // SAFETY: the closure only returns a value: async-signal-safe.
    unsafe {
        c.pre_exec(move || {
            if fail_pre_exec {
                Err(std::io::Error::from_raw_os_error(libc::EPERM))
            } else {
                Ok(())
            }
        })
    };
}

/// argv[0], and whether the child leads its own process group, as the child sees them.
const REPORT: &str = "tr '\\0' ' ' < /proc/$$/cmdline; set -- $(cut -d' ' -f5 /proc/$$/stat); \
                      [ \"$1\" = \"$$\" ] && echo leader";

fn unix_run_std(fail: bool) -> String {
    let mut c = std::process::Command::new("sh");
    c.args(["-c", REPORT]);
    unix_settings(&mut c, fail);
    o(c.output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned()))
}

fn unix_run_green(fail: bool) -> String {
    let mut c = greenshim::process::Command::new("sh");
    c.args(["-c", REPORT]);
    unix_settings(&mut c, fail);
    o(c.output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned()))
}

#[test]
fn command_ext_matches_std_through_greenshims_trait() {
    use greenshim::os::unix::process::ExitStatusExt;
    for fail in [false, true] {
        let std_out = unix_run_std(fail);
        let plain = unix_run_green(fail);
        let green = greenshim::spawn(move || unix_run_green(fail))
            .join()
            .unwrap();
        assert_eq!(plain, std_out, "plain thread, failing pre_exec: {fail}");
        assert_eq!(green, std_out, "green thread, failing pre_exec: {fail}");
    }
    assert!(
        unix_run_std(false).contains("renamed -c"),
        "{}",
        unix_run_std(false)
    );
    assert!(unix_run_std(false).contains("leader"));
    // std's ExitStatusExt applies to the mirror's statuses (they are std's type).
    let st = greenshim::spawn(|| {
        greenshim::process::Command::new("sh")
            .args(["-c", "kill -9 $$"])
            .status()
    })
    .join()
    .unwrap()
    .unwrap();
    assert_eq!(st.signal(), Some(9));
}
