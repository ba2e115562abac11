//! A greenlet killed before it first runs never runs its body. Its own binary with ONE worker:
//! a spinning green thread then holds the only worker, so the victims provably cannot start
//! before the kill (with several workers, may's round-robin placement of spawns from other
//! tests could leave a worker idle).

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

#[test]
fn a_greenlet_killed_before_it_starts_never_runs() {
    util::workers(1);
    let ran = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let spinning = Arc::new(AtomicBool::new(false));
    let spinner = {
        let (r, s) = (release.clone(), spinning.clone());
        greenshim::spawn(move || {
            s.store(true, Ordering::SeqCst);
            while !r.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
        })
    };
    util::eventually(Duration::from_secs(30), "the worker is spinning", || {
        spinning.load(Ordering::SeqCst)
    });
    let victims: Vec<_> = (0..10)
        .map(|_| {
            let r = ran.clone();
            greenshim::spawn(move || r.fetch_add(1, Ordering::SeqCst))
        })
        .collect();
    for v in &victims {
        v.kill();
    }
    release.store(true, Ordering::SeqCst);
    spinner.join().unwrap();
    for v in victims {
        assert!(v.join().unwrap_err().is_killed());
    }
    assert_eq!(ran.load(Ordering::SeqCst), 0, "a killed greenlet ran");
}
