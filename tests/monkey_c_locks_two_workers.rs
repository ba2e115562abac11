//! The Locks family for C code on TWO workers: green threads that hold a recursive or
//! error-checking pthread mutex, or an rwlock's write side, across parks resume on either
//! worker, whose kernel thread id differs from the one glibc recorded; relock and unlock still
//! work, and exclusion holds. Runs many rounds under a watchdog.

mod util;

use std::time::Duration;

use greenshim::monkey;
use greenshim_legacy_c::locks;

#[test]
fn owners_that_move_between_workers_keep_their_locks() {
    util::workers(2);
    monkey::patch_all().unwrap();
    let results = util::watchdog(Duration::from_secs(30), || {
        let gs: Vec<_> = (0..40)
            .map(|i| {
                greenshim::spawn(move || {
                    let mut errors = Vec::new();
                    for round in 0..10 {
                        errors.push(locks::recursive(1));
                        errors.push(locks::rw((i + round) % 3 == 0, 1));
                        errors.push(locks::store_put(-1, 1));
                        let lock = locks::errorcheck_lock();
                        std::thread::sleep(Duration::from_millis(1));
                        errors.push(lock);
                        errors.push(locks::errorcheck_unlock());
                    }
                    errors
                })
            })
            .collect();
        gs.into_iter()
            .flat_map(|g| g.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert!(results.iter().all(|&r| r == 0), "{results:?}");
    assert_eq!(locks::recursive_violations(), 0);
    assert_eq!(locks::rw_state().0, 0, "rwlock exclusion violations");
    assert_eq!(locks::store_state(), (400, 0), "(counter, violations)");
}
