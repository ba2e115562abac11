#![allow(missing_docs)] // criterion_group! generates an undocumented function
//! Criterion micro benchmarks of the monkey patch's interposers: what a hooked call costs on
//! top of libc's own.
//!
//! - Pass-through on a plain thread, patched: `getaddrinfo(NULL, NULL, ..)` fails at once
//!   inside libc without a syscall, so the difference between the hooked symbol and libc's own
//!   function (called through its real pointer) is the hook's decision.
//! - The cooperative fast path on a green thread: `nanosleep` of zero, which the hook answers
//!   without parking, against libc's `nanosleep(0)` (a syscall) on a plain thread.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use greenshim_shim::interpose::real;

fn failing_lookup_hooked() -> i32 {
    let mut res = std::ptr::null_mut();
    // SAFETY: null node and service are valid arguments (libc answers EAI_NONAME).
    unsafe {
        libc::getaddrinfo(
            std::ptr::null(),
            std::ptr::null(),
            std::ptr::null(),
            &mut res,
        )
    }
}

fn failing_lookup_real() -> i32 {
    let mut res = std::ptr::null_mut();
    // SAFETY: as above.
    unsafe {
        real::getaddrinfo(
            std::ptr::null(),
            std::ptr::null(),
            std::ptr::null(),
            &mut res,
        )
    }
}

const ZERO: libc::timespec = libc::timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

fn pass_through(c: &mut Criterion) {
    greenshim::monkey::patch_all().expect("patch before any spawn");
    assert_ne!(failing_lookup_hooked(), 0);
    c.bench_function("getaddrinfo_fail_libc_direct", |b| {
        b.iter(|| black_box(failing_lookup_real()))
    });
    c.bench_function("getaddrinfo_fail_hooked_plain_thread", |b| {
        b.iter(|| black_box(failing_lookup_hooked()))
    });
}

fn fast_path(c: &mut Criterion) {
    c.bench_function("nanosleep_zero_libc_plain_thread", |b| {
        // SAFETY: a valid zero timespec.
        b.iter(|| black_box(unsafe { real::nanosleep(&ZERO, std::ptr::null_mut()) }))
    });
    c.bench_function("nanosleep_zero_hooked_green_thread", |b| {
        b.iter_custom(|iters| {
            greenshim::spawn(move || {
                let t = Instant::now();
                for _ in 0..iters {
                    // SAFETY: as above.
                    black_box(unsafe { libc::nanosleep(&ZERO, std::ptr::null_mut()) });
                }
                t.elapsed()
            })
            .join()
            .unwrap_or(Duration::ZERO)
        })
    });
}

criterion_group!(benches, pass_through, fast_path);
criterion_main!(benches);
