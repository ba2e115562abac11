//! A green thread that computes right after waking must not delay other sleepers' wake-ups
//! (may's own timer runs woken coroutines on its timer thread; greenshim's does not).

mod util;

use std::time::{Duration, Instant};

#[test]
fn a_busy_green_thread_after_waking_does_not_delay_other_timers() {
    util::workers(2);
    greenshim::runtime::start().unwrap();
    let busy = greenshim::spawn(|| {
        greenshim::sleep(Duration::from_millis(20));
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        x
    });
    let sleepers: Vec<_> = (0..20u64)
        .map(|i| {
            greenshim::spawn(move || {
                let want = Duration::from_millis(40 + 10 * i);
                let t = Instant::now();
                greenshim::sleep(want);
                t.elapsed() - want
            })
        })
        .collect();
    let lateness: Vec<Duration> = greenshim::joinall(sleepers)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    busy.join().unwrap();
    let worst = lateness.iter().max().copied().unwrap_or_default();
    assert!(
        worst < Duration::from_millis(50),
        "a sleeper woke {worst:?} late: {lateness:?}"
    );
}
