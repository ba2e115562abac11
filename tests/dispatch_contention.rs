//! The dispatcher's queue under contention, patched, on one worker: offload threads finishing
//! many jobs at once push woken green threads onto the queue while the worker's reactor takes
//! them off. The reactor must never park on that queue's lock: under the patch, a contended std
//! `Mutex` parks a green thread on the futex table, and the reactor, parked, would wait for a
//! wake-up that only the reactor delivers (seen once in CI: `monkey_files`'s flock test hung
//! with the reactor's kick unread). Run under a watchdog.

mod util;

use std::time::Duration;

#[test]
fn offload_completions_racing_the_reactor_never_hang_it() {
    util::workers(1);
    greenshim::monkey::patch_all().expect("patch before any spawn");
    let dir = std::env::temp_dir().join(format!("greenshim-dispatch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let done = util::watchdog(Duration::from_secs(60), move || {
        let gs: Vec<_> = (0..32)
            .map(|i| {
                let path = dir.join(format!("f{i}"));
                greenshim::spawn(move || {
                    let f = std::fs::File::create(&path).unwrap();
                    // Each sync runs on the offload pool; its completion wakes this green
                    // thread through the dispatcher's queue, from the pool thread.
                    for _ in 0..200 {
                        f.sync_data().unwrap();
                    }
                    std::fs::remove_file(&path).unwrap();
                    200u32
                })
            })
            .collect();
        greenshim::joinall(gs)
            .into_iter()
            .map(Result::unwrap)
            .sum::<u32>()
    });
    assert_eq!(done, 32 * 200);
}
