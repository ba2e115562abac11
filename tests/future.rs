//! `block_on` and awaiting a `Greenlet`: futures woken from other threads, on green threads
//! (the worker keeps running others: a ticker witness) and plain threads; async code, tokio's
//! included, awaiting green threads.

mod util;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use greenshim::JoinError;

/// One worker, patched (the ticker's sleeps park; tokio's epoll waits park too).
fn setup() {
    static PATCH: std::sync::Once = std::sync::Once::new();
    util::workers(1);
    PATCH.call_once(|| greenshim::monkey::patch_all().expect("patch before any spawn"));
}

/// A value another thread delivers later, waking whoever polled.
#[derive(Clone, Default)]
struct Later(Arc<Mutex<(Option<u32>, Option<Waker>)>>);

impl Later {
    /// Delivers `v` after `after` from a new plain OS thread.
    fn deliver_from_os_thread(&self, v: u32, after: Duration) {
        let me = self.clone();
        std::thread::spawn(move || {
            std::thread::sleep(after);
            let waker = {
                let mut s = me.0.lock().unwrap();
                s.0 = Some(v);
                s.1.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
    }
}

impl Future for Later {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let mut s = self.0.lock().unwrap();
        match s.0 {
            Some(v) => Poll::Ready(v),
            None => {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[test]
fn block_on_in_a_green_thread_parks_it_until_another_os_thread_wakes_the_future() {
    setup();
    let (got, ticks, waited) = util::watchdog(Duration::from_secs(20), || {
        let ticker = util::Ticker::start();
        let later = Later::default();
        later.deliver_from_os_thread(7, Duration::from_millis(300));
        let start = Instant::now();
        let got = greenshim::spawn(move || greenshim::block_on(later))
            .join()
            .unwrap();
        (got, ticker.stop(), start.elapsed())
    });
    assert_eq!(got, 7);
    assert!(waited >= Duration::from_millis(290), "{waited:?}");
    // The ticker shares the only worker: it ticked because block_on parked.
    assert!(ticks >= 30, "ticker ticked {ticks} times in 300 ms");
}

#[test]
fn block_on_on_a_plain_thread_blocks_it() {
    setup();
    let later = Later::default();
    later.deliver_from_os_thread(9, Duration::from_millis(50));
    assert_eq!(greenshim::block_on(later), 9);
    assert_eq!(greenshim::block_on(async { 1 + 1 }), 2);
}

#[test]
fn async_code_awaits_green_threads() {
    setup();
    // From a plain thread's block_on.
    let got = greenshim::block_on(async {
        let a = greenshim::spawn(|| {
            greenshim::sleep(Duration::from_millis(30));
            20
        });
        let b = greenshim::spawn(|| 22);
        a.await.unwrap() + b.await.unwrap()
    });
    assert_eq!(got, 42);
    // From a green thread's block_on, and a panic comes back as the join error.
    let err = greenshim::spawn(|| {
        greenshim::block_on(async { greenshim::spawn(|| -> u32 { panic!("inner") }).await })
    })
    .join()
    .unwrap()
    .unwrap_err();
    assert_eq!(err.panic_message(), Some("inner"));
    // From tokio's current-thread runtime: its executor, greenshim's wake-up.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let got = rt.block_on(async {
        greenshim::spawn(|| {
            greenshim::sleep(Duration::from_millis(20));
            "from a green thread"
        })
        .await
    });
    assert_eq!(got.unwrap(), "from a green thread");
}

#[test]
fn a_kill_reaches_a_green_thread_in_block_on() {
    setup();
    let g = greenshim::spawn(|| greenshim::block_on(std::future::pending::<()>()));
    greenshim::sleep(Duration::from_millis(20));
    g.kill();
    assert!(matches!(g.join(), Err(JoinError::Killed)));
}

#[test]
fn tokio_futures_from_a_green_thread() {
    setup();
    // A current-thread runtime driven by the green thread itself (patched, its epoll_wait
    // parks the green thread), and a multi-thread runtime's JoinHandle, which needs only a
    // waker, awaited through greenshim's block_on.
    let mt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    let handle = mt.spawn(async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        11
    });
    let (ct, mt_value) = greenshim::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let ct = rt.block_on(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            5
        });
        (ct, greenshim::block_on(handle).unwrap())
    })
    .join()
    .unwrap();
    assert_eq!((ct, mt_value), (5, 11));
}
