//! The monkey patch's Files family: std::fs code on green threads (ONE worker) after
//! `patch_all()` gives the results it gives on a plain thread, and a call that waits (a
//! blocked `flock`) waits off the worker.

mod util;

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use greenshim::monkey::{self, Family};

fn patched() {
    static PATCH: Once = Once::new();
    util::workers(1);
    PATCH.call_once(|| monkey::patch_all().expect("patch before any spawn"));
    assert!(monkey::is_patched(Family::Files));
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("greenshim-monkey-files-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// std-only file code; a line per operation.
fn scenario(path: &Path) -> Vec<String> {
    let mut t = Vec::new();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    fs::write(path, &data).unwrap();
    t.push(format!(
        "read back equal: {}",
        fs::read(path).unwrap() == data
    ));
    let mut f = File::open(path).unwrap();
    let mut buf = [0u8; 10];
    f.seek(SeekFrom::Start(99_995)).unwrap();
    t.push(format!(
        "short read at end: {:?}",
        f.read(&mut buf).map(|n| buf[..n].to_vec())
    ));
    t.push(format!("read at EOF: {:?}", f.read(&mut buf)));
    t.push(format!(
        "read_at: {:?}",
        f.read_at(&mut buf, 253).map(|n| buf[..n].to_vec())
    ));
    let g = OpenOptions::new().write(true).open(path).unwrap();
    t.push(format!("write_at: {:?}", g.write_at(b"hello", 10)));
    g.sync_all().unwrap();
    g.sync_data().unwrap();
    let mut a = OpenOptions::new().append(true).open(path).unwrap();
    a.write_all(b"tail").unwrap();
    t.push(format!("len: {}", fs::metadata(path).unwrap().len()));
    let text = fs::read(path).unwrap();
    t.push(format!(
        "patched bytes: {:?} {:?}",
        &text[10..15],
        &text[100_000..]
    ));
    t.push(format!(
        "missing: {:?}",
        File::open(path.with_extension("missing"))
            .map_err(|e| e.kind())
            .err()
    ));
    t.push(format!(
        "read_to_string of binary: {:?}",
        fs::read_to_string(path).map_err(|e| e.kind()).err()
    ));
    fs::remove_file(path).unwrap();
    t
}

#[test]
fn std_fs_on_green_threads_matches_a_plain_thread() {
    patched();
    let plain_path = scratch("plain");
    let plain = std::thread::spawn(move || scenario(&plain_path))
        .join()
        .unwrap();
    let before = monkey::stats().family(Family::Files).cooperative;
    let gs: Vec<_> = (0..20)
        .map(|i| greenshim::spawn(move || scenario(&scratch(&format!("green-{i}")))))
        .collect();
    let results = util::watchdog(Duration::from_secs(60), move || greenshim::joinall(gs));
    for r in results {
        assert_eq!(r.unwrap(), plain);
    }
    assert_eq!(plain.len(), 9, "{plain:#?}");
    // Opens, reads, writes, syncs of 20 runs took the Files path.
    assert!(monkey::stats().family(Family::Files).cooperative - before >= 20 * 10);
}

#[test]
fn a_blocked_flock_waits_off_the_worker() {
    patched();
    let path = scratch("lock");
    File::create(&path).unwrap();
    let holder = File::open(&path).unwrap();
    holder.lock().unwrap();
    let ticks = std::sync::Arc::new(AtomicU64::new(0));
    let t2 = ticks.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let ticker = greenshim::spawn(move || {
        while !s2.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(10));
            t2.fetch_add(1, Ordering::Relaxed);
        }
    });
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let path = path.clone();
            let ticks = ticks.clone();
            greenshim::spawn(move || {
                let f = File::open(&path).unwrap();
                let at = ticks.load(Ordering::Relaxed);
                f.lock().unwrap();
                let during = ticks.load(Ordering::Relaxed) - at;
                f.unlock().unwrap();
                during
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    holder.unlock().unwrap();
    let during: Vec<u64> = util::watchdog(Duration::from_secs(60), move || {
        greenshim::joinall(waiters)
            .into_iter()
            .map(Result::unwrap)
            .collect()
    });
    stop.store(true, Ordering::Relaxed);
    ticker.join().unwrap();
    // The worker kept running the ticker while the locks waited (10 ms ticks over ~300 ms).
    assert!(during.iter().all(|&d| d >= 5), "{during:?}");
    fs::remove_file(&path).unwrap();
}
