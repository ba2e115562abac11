//! `green_local!`: per-green-thread values that follow the green thread across workers.

mod util;

use std::cell::{Cell, RefCell};
use std::time::Duration;

greenshim::green_local!(static COUNTER: Cell<u64> = Cell::new(0));
greenshim::green_local!(static LOG: RefCell<Vec<u64>> = RefCell::new(Vec::new()));

#[test]
fn each_green_thread_has_its_own_value_across_parks() {
    util::workers(2);
    let gs: Vec<_> = (0..200u64)
        .map(|i| {
            greenshim::spawn(move || {
                for step in 0..20 {
                    COUNTER.with(|c| c.set(c.get() + i));
                    LOG.with(|l| l.borrow_mut().push(step));
                    // Parks; the green thread may resume on the other worker.
                    greenshim::sleep(Duration::from_micros(200));
                }
                (COUNTER.with(Cell::get), LOG.with(|l| l.borrow().len()))
            })
        })
        .collect();
    for (i, r) in greenshim::joinall(gs).into_iter().enumerate() {
        assert_eq!(r.unwrap(), (20 * i as u64, 20));
    }
}

#[test]
fn a_plain_thread_gets_its_own_value() {
    util::workers(2);
    COUNTER.with(|c| c.set(5));
    let from_green = greenshim::spawn(|| COUNTER.with(Cell::get)).join().unwrap();
    assert_eq!(from_green, 0);
    assert_eq!(COUNTER.with(Cell::get), 5);
}
