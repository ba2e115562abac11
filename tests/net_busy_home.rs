//! Socket wake-ups keep flowing while a green thread computes without parking, as long as
//! another worker is free. Its own binary: it needs two workers.

mod util;

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use greenshim::os::unix::net::UnixStream;

#[test]
fn ping_pong_progresses_while_a_green_thread_spins() {
    util::workers(2);
    // A long timer pending before any socket is watched must not keep the watch from starting.
    let sleeper = greenshim::spawn(|| greenshim::sleep(Duration::from_secs(3600)));
    greenshim::sleep(Duration::from_millis(20));
    let (trigger_tx, trigger_rx) = UnixStream::pair().unwrap();
    let spinning = Arc::new(AtomicBool::new(false));
    let spinner = {
        let spinning = spinning.clone();
        greenshim::spawn(move || {
            // Woken by the reactor, so it computes on the worker that serves socket events.
            let mut b = [0u8; 1];
            (&trigger_rx).read_exact(&mut b).unwrap();
            spinning.store(true, Ordering::SeqCst);
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(400) {
                std::hint::spin_loop();
            }
            spinning.store(false, Ordering::SeqCst);
        })
    };
    let (a, b) = UnixStream::pair().unwrap();
    let trips = Arc::new(AtomicU64::new(0));
    let echo = greenshim::spawn(move || {
        let mut buf = [0u8; 1];
        while (&b).read_exact(&mut buf).is_ok() {
            if (&b).write_all(&buf).is_err() {
                return;
            }
        }
    });
    let pinger = {
        let trips = trips.clone();
        let spinning = spinning.clone();
        greenshim::spawn(move || {
            let mut during = 0u64;
            let mut buf = [0u8; 1];
            (&trigger_tx).write_all(&[1]).unwrap();
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(5) {
                (&a).write_all(&[7]).unwrap();
                (&a).read_exact(&mut buf).unwrap();
                trips.fetch_add(1, Ordering::Relaxed);
                if spinning.load(Ordering::SeqCst) {
                    during += 1;
                    if during >= 50 {
                        break;
                    }
                }
            }
            during
        })
    };
    let during = pinger.join().unwrap();
    spinner.join().unwrap();
    echo.kill();
    sleeper.kill();
    assert!(
        during >= 50,
        "only {during} round trips completed while the spinner ran (total {})",
        trips.load(Ordering::Relaxed)
    );
}
