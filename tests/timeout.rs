//! `Timeout` / `with_timeout`: interruption at the deadline, nesting, no late firing.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use greenshim::{Timeout, sleep, spawn, with_timeout};

const MS: Duration = Duration::from_millis(1);

fn setup() {
    util::workers(2);
}

/// Runs `f` once on a green thread and once on this plain thread.
fn on_green_and_plain(f: fn()) {
    spawn(f).join().unwrap();
    f();
}

#[test]
fn a_blocking_sleep_is_interrupted_at_the_deadline() {
    setup();
    on_green_and_plain(|| {
        let t = Instant::now();
        let r = with_timeout(30 * MS, || sleep(Duration::from_secs(3600)));
        let e = r.unwrap_err();
        assert_eq!(e.duration(), 30 * MS);
        assert!(t.elapsed() >= 30 * MS);
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "took {:?}",
            t.elapsed()
        );
        assert_eq!(std::io::Error::from(e).kind(), std::io::ErrorKind::TimedOut);
    });
}

#[test]
fn a_block_that_finishes_in_time_returns_its_value() {
    setup();
    on_green_and_plain(|| {
        assert_eq!(with_timeout(Duration::from_secs(10), || 5), Ok(5));
        let r = Timeout::new(Duration::from_secs(10)).run(|| {
            sleep(MS);
            "done"
        });
        assert_eq!(r, Ok("done"));
    });
}

#[test]
fn destructors_run_when_a_timeout_unwinds() {
    setup();
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let d = dropped.clone();
    let r = spawn(move || {
        with_timeout(10 * MS, move || {
            let _f = Flag(d);
            sleep(Duration::from_secs(3600));
        })
    })
    .join()
    .unwrap();
    assert!(r.is_err());
    assert!(dropped.load(Ordering::SeqCst));
}

#[test]
fn an_expired_inner_timeout_is_caught_by_the_inner_block_only() {
    setup();
    on_green_and_plain(|| {
        let outer = with_timeout(Duration::from_secs(10), || {
            let inner = with_timeout(10 * MS, || sleep(Duration::from_secs(3600)));
            assert!(inner.is_err(), "inner timeout should expire");
            // The outer block goes on and can block again.
            sleep(5 * MS);
            "outer finished"
        });
        assert_eq!(outer, Ok("outer finished"));
    });
}

#[test]
fn an_expired_outer_timeout_passes_through_the_inner_block() {
    setup();
    on_green_and_plain(|| {
        let mut inner_result = None;
        let outer = with_timeout(20 * MS, || {
            let r = with_timeout(Duration::from_secs(10), || sleep(Duration::from_secs(3600)));
            inner_result = Some(r.is_ok());
        });
        assert!(outer.is_err(), "outer should expire");
        assert_eq!(
            inner_result, None,
            "inner block must not swallow the outer timeout"
        );
    });
}

#[test]
fn a_finished_timeout_never_fires_into_later_code() {
    setup();
    on_green_and_plain(|| {
        // A timeout that ends just before its deadline, and one that expired and was caught.
        assert_eq!(with_timeout(15 * MS, || sleep(10 * MS)), Ok(()));
        assert!(with_timeout(5 * MS, || sleep(Duration::from_secs(3600))).is_err());
        // Later blocking is undisturbed well past both deadlines.
        let t = Instant::now();
        sleep(40 * MS);
        assert!(t.elapsed() >= 40 * MS);
    });
}

#[test]
fn many_short_timeouts_in_a_row_are_exact() {
    setup();
    spawn(|| {
        for i in 0..200u32 {
            let expired = with_timeout(MS, || sleep(Duration::from_secs(60))).is_err();
            assert!(expired, "iteration {i}");
            assert_eq!(with_timeout(Duration::from_secs(60), || i), Ok(i));
        }
    })
    .join()
    .unwrap();
}

#[test]
fn a_kill_passes_through_a_timeout_block() {
    setup();
    let g = spawn(|| {
        with_timeout(Duration::from_secs(3600), || {
            sleep(Duration::from_secs(3600))
        })
    });
    sleep(20 * MS);
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
}

#[test]
fn a_timeout_interrupts_a_join() {
    setup();
    let sleeper = spawn(|| sleep(Duration::from_secs(3600)));
    let r = with_timeout(20 * MS, || sleeper.join().is_ok());
    assert!(r.is_err());
}
