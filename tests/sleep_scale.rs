//! 10 000 green threads sleeping 200 ms overlap on ONE worker thread.

mod util;

use std::time::{Duration, Instant};

#[test]
fn ten_thousand_sleepers_on_one_worker_overlap() {
    util::workers(1);
    greenshim::runtime::start().unwrap();
    let parks_before = util::green_parks();
    let t = Instant::now();
    let gs: Vec<_> = (0..10_000u64)
        .map(|i| {
            greenshim::spawn(move || {
                greenshim::sleep(Duration::from_millis(200));
                i
            })
        })
        .collect();
    let sum: u64 = greenshim::joinall(gs).into_iter().map(Result::unwrap).sum();
    let elapsed = t.elapsed();
    assert_eq!(sum, 10_000 * 9_999 / 2);
    // Sequentially this is 2000 s; overlapped it is 0.2 s plus spawning. Generous bound.
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    let parks = util::green_parks() - parks_before;
    assert!(
        parks >= 10_000,
        "only {parks} green parks for 10 000 sleeps"
    );
}
