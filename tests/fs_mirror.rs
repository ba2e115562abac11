//! `greenshim::fs` gives std's results on the same operations (std on a plain thread is the
//! reference; the mirror runs on a plain thread and on a green thread), and a green thread
//! stuck in a slow file operation does not stop the others.

mod util;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

fn o<T: std::fmt::Debug>(r: std::io::Result<T>) -> String {
    match r {
        Ok(v) => format!("Ok({v:?})"),
        Err(e) => format!("Err({:?})", e.kind()),
    }
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "greenshim-fs-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

macro_rules! scenario {
    ($fs:path, $dir:expr) => {{
        use std::io::{Read, Seek, SeekFrom, Write};
        use $fs as fs;
        let dir: &Path = $dir;
        let mut out: Vec<String> = Vec::new();
        let a = dir.join("a.txt");
        out.push(format!("write={}", o(fs::write(&a, b"hello world"))));
        out.push(format!("read={}", o(fs::read(&a))));
        out.push(format!("read_to_string={}", o(fs::read_to_string(&a))));
        out.push(format!(
            "exists={} missing={}",
            o(fs::exists(&a)),
            o(fs::exists(dir.join("no")))
        ));
        out.push(format!("read_missing={}", o(fs::read(dir.join("no")))));
        out.push(format!(
            "metadata_len={}",
            o(fs::metadata(&a).map(|m| m.len()))
        ));
        out.push(format!("copy={}", o(fs::copy(&a, dir.join("b.txt")))));
        out.push(format!(
            "rename={}",
            o(fs::rename(dir.join("b.txt"), dir.join("c.txt")))
        ));
        out.push(format!(
            "hard_link={}",
            o(fs::hard_link(&a, dir.join("h.txt")))
        ));
        out.push(format!("create_dir={}", o(fs::create_dir(dir.join("d")))));
        out.push(format!(
            "create_dir_again={}",
            o(fs::create_dir(dir.join("d")))
        ));
        out.push(format!(
            "create_dir_all={}",
            o(fs::create_dir_all(dir.join("d/e/f")))
        ));
        out.push(format!(
            "remove_dir_nonempty={}",
            o(fs::remove_dir(dir.join("d")))
        ));
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let kind = if e.file_type().unwrap().is_dir() {
                    "dir"
                } else {
                    "file"
                };
                format!(
                    "{}:{kind}:{}",
                    e.file_name().to_string_lossy(),
                    e.metadata().unwrap().len() > 0
                )
            })
            .collect();
        names.sort();
        out.push(format!("read_dir={names:?}"));
        out.push(format!(
            "canonical={}",
            o(
                fs::canonicalize(dir.join("d/../a.txt"))
                    .map(|p| p == fs::canonicalize(&a).unwrap())
            )
        ));
        out.push(format!("read_link_not_link={}", o(fs::read_link(&a))));
        out.push(format!(
            "symlink_metadata={}",
            o(fs::symlink_metadata(&a).map(|m| m.is_file()))
        ));
        let mut perm = fs::metadata(&a).unwrap().permissions();
        perm.set_readonly(true);
        out.push(format!(
            "set_permissions={}",
            o(fs::set_permissions(&a, perm.clone()))
        ));
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o644);
        fs::set_permissions(&a, perm).unwrap();
        // File: write, seek, read, set_len, metadata, clone, locks, create_new
        let f_path = dir.join("f.bin");
        let mut f = fs::File::create(&f_path).unwrap();
        out.push(format!(
            "file_write={}",
            o(f.write(&[1, 2, 3, 4, 5, 6, 7, 8]))
        ));
        out.push(format!(
            "file_sync={}",
            o(f.sync_all().and_then(|_| f.sync_data()))
        ));
        out.push(format!("file_read_wo={}", o(f.read(&mut [0u8; 4]))));
        drop(f);
        let mut f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&f_path)
            .unwrap();
        let mut buf = [0u8; 3];
        out.push(format!("file_read={} {:?}", o(f.read(&mut buf)), buf));
        out.push(format!("seek={}", o(f.seek(SeekFrom::Start(6)))));
        out.push(format!("file_read_end={} {:?}", o(f.read(&mut buf)), buf));
        out.push(format!("file_read_eof={}", o(f.read(&mut buf))));
        out.push(format!("set_len={}", o(f.set_len(2))));
        out.push(format!("len_after={}", o(f.metadata().map(|m| m.len()))));
        let g = f.try_clone().unwrap();
        out.push(format!(
            "clone_shares_pos={}",
            o((&g).seek(SeekFrom::Current(0)))
        ));
        out.push(format!("lock={}", o(f.lock())));
        out.push(format!(
            "try_lock_other={:?}",
            fs::File::open(&f_path).unwrap().try_lock().is_err()
        ));
        out.push(format!("unlock={}", o(f.unlock())));
        out.push(format!(
            "create_new_exists={}",
            o(fs::File::create_new(&f_path).map(|_| ()))
        ));
        out.push(format!(
            "open_dir_write={}",
            o(fs::OpenOptions::new().write(true).open(dir).map(|_| ()))
        ));
        let mut all = String::new();
        out.push(format!(
            "read_to_string_file={}",
            o(fs::File::open(&a).unwrap().read_to_string(&mut all))
        ));
        out.push(format!("contents={all:?}"));
        out.push(format!(
            "remove_file={}",
            o(fs::remove_file(dir.join("c.txt")))
        ));
        out.push(format!(
            "remove_missing={}",
            o(fs::remove_file(dir.join("c.txt")))
        ));
        out.push(format!(
            "dir_builder={}",
            o(fs::DirBuilder::new()
                .recursive(true)
                .create(dir.join("x/y")))
        ));
        out.push(format!(
            "remove_dir_all={}",
            o(fs::remove_dir_all(dir.join("d")))
        ));
        out
    }};
}

#[test]
fn fs_matches_std_on_plain_and_green_threads() {
    util::workers(1);
    let d1 = scratch("std");
    let reference = scenario!(std::fs, &d1);
    assert!(
        reference.iter().any(|l| l == "read_missing=Err(NotFound)"),
        "{reference:?}"
    );
    let d2 = scratch("plain");
    let plain = scenario!(greenshim::fs, &d2);
    let d3 = scratch("green");
    let green = greenshim::spawn(move || {
        let r = scenario!(greenshim::fs, &d3);
        (r, d3)
    })
    .join()
    .unwrap();
    assert_eq!(reference, plain, "std vs greenshim::fs on a plain thread");
    assert_eq!(reference, green.0, "std vs greenshim::fs on a green thread");
    for d in [d1, d2, green.1] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn a_green_thread_stuck_opening_a_fifo_does_not_stop_others() {
    util::workers(1);
    let dir = scratch("fifo");
    let fifo = dir.join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let jobs_before = greenshim::runtime::offload_stats().jobs;
    // Opening a FIFO for reading blocks until a writer opens it.
    let reader = {
        let fifo = fifo.clone();
        greenshim::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut greenshim::fs::File::open(&fifo).unwrap(), &mut s)
                .unwrap();
            s
        })
    };
    let progress = Arc::new(AtomicU64::new(0));
    let others: Vec<_> = (0..100)
        .map(|_| {
            let p = progress.clone();
            greenshim::spawn(move || {
                for _ in 0..5 {
                    greenshim::sleep(Duration::from_millis(2));
                    p.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // All 100 finish while the reader is still stuck in open.
    for g in others {
        g.join().unwrap();
    }
    assert_eq!(progress.load(Ordering::Relaxed), 500);
    assert!(!reader.is_finished(), "the reader had no writer yet");
    assert!(greenshim::runtime::offload_stats().jobs > jobs_before);
    std::fs::write(&fifo, "through the fifo").unwrap();
    assert_eq!(reader.join().unwrap(), "through the fifo");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `os::unix::fs`'s free functions on the same inputs as std's, as results and error kinds.
fn unix_fs_run(dir: &std::path::Path, green: bool) -> Vec<String> {
    use greenshim::os::unix::fs as g;
    use std::os::unix::fs as s;
    let target = dir.join("target");
    std::fs::write(&target, b"x").unwrap();
    let link = dir.join(if green { "glink" } else { "slink" });
    let file = std::fs::File::open(&target).unwrap();
    let mut out = Vec::new();
    let r = |x: std::io::Result<()>| format!("{:?}", x.map_err(|e| e.kind()));
    if green {
        out.push(r(g::symlink(&target, &link)));
        out.push(r(g::symlink(&target, &link)));
        out.push(r(g::chown(&target, None, None)));
        out.push(r(g::lchown(&link, None, None)));
        out.push(r(g::fchown(&file, None, None)));
        out.push(r(g::chown(dir.join("missing"), None, None)));
    } else {
        out.push(r(s::symlink(&target, &link)));
        out.push(r(s::symlink(&target, &link)));
        out.push(r(s::chown(&target, None, None)));
        out.push(r(s::lchown(&link, None, None)));
        out.push(r(s::fchown(&file, None, None)));
        out.push(r(s::chown(dir.join("missing"), None, None)));
    }
    out.push(format!("{:?}", std::fs::read_link(&link).ok()));
    out
}

#[test]
fn os_unix_fs_functions_match_std() {
    let dir = scratch("unix-fs");
    let std_out = unix_fs_run(&dir, false);
    let d = dir.clone();
    let green = greenshim::spawn(move || unix_fs_run(&d, true))
        .join()
        .unwrap();
    assert_eq!(green, std_out);
    assert_eq!(std_out[1], "Err(AlreadyExists)", "{std_out:?}");
    std::fs::remove_dir_all(&dir).ok();
}
