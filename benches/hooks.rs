#![allow(missing_docs)] // criterion_group! generates an undocumented function
//! Criterion micro benchmarks of the monkey patch's interposers: what a hooked call costs on
//! top of libc's own.
//!
//! - Pass-through on a plain thread, patched: `getaddrinfo(NULL, NULL, ..)` fails at once
//!   inside libc without a syscall, so the difference between the hooked symbol and libc's own
//!   function (called through its real pointer) is the hook's decision.
//! - The cooperative fast path on a green thread: `nanosleep` of zero, which the hook answers
//!   without parking, against libc's `nanosleep(0)` (a syscall) on a plain thread.
//! - Socket I/O: a 1-byte `write` then `read` on a socketpair (the data is always there, so
//!   nothing waits): libc's own functions, the hooks on a plain thread (pass-through), and the
//!   hooks on a green thread (the fds are adopted: greenshim's retry loop, fast path); and
//!   the same through the `UnixStream` mirror on a green thread.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use greenshim_shim::sys::real;

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

fn pair() -> [i32; 2] {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two fds; the hooked socketpair records them as created under
    // the patch.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) };
    assert_eq!(r, 0);
    fds
}

/// One byte there and back through `write`/`read` (`hooked`: the symbols; else libc's own).
fn round(fds: [i32; 2], hooked: bool) {
    let mut byte = 7u8;
    // SAFETY: one byte to and from live locals on fds this benchmark owns.
    unsafe {
        if hooked {
            assert_eq!(libc::write(fds[0], (&raw const byte).cast(), 1), 1);
            assert_eq!(libc::read(fds[1], (&raw mut byte).cast(), 1), 1);
        } else {
            assert_eq!(real::write(fds[0], (&raw const byte).cast(), 1), 1);
            assert_eq!(real::read(fds[1], (&raw mut byte).cast(), 1), 1);
        }
    }
}

fn socket_io(c: &mut Criterion) {
    let fds = pair();
    c.bench_function("write_read_1_byte_libc_direct", |b| {
        b.iter(|| round(fds, false))
    });
    c.bench_function("write_read_1_byte_hooked_plain_thread", |b| {
        b.iter(|| round(fds, true))
    });
    let on_green = |fds: [i32; 2], hooked: bool| {
        move |iters: u64| {
            greenshim::spawn(move || {
                let t = Instant::now();
                for _ in 0..iters {
                    round(fds, hooked);
                }
                t.elapsed()
            })
            .join()
            .unwrap_or(Duration::ZERO)
        }
    };
    let green = pair();
    c.bench_function("write_read_1_byte_libc_direct_green_thread", |b| {
        b.iter_custom(on_green(green, false))
    });
    c.bench_function("write_read_1_byte_hooked_green_thread", |b| {
        b.iter_custom(on_green(green, true))
    });
    c.bench_function("write_read_1_byte_mirror_green_thread", |b| {
        b.iter_custom(|iters| {
            greenshim::spawn(move || {
                use std::io::{Read, Write};
                let (mut x, mut y) = greenshim::os::unix::net::UnixStream::pair().unwrap();
                let mut byte = [7u8];
                let t = Instant::now();
                for _ in 0..iters {
                    x.write_all(&byte).unwrap();
                    y.read_exact(&mut byte).unwrap();
                }
                t.elapsed()
            })
            .join()
            .unwrap_or(Duration::ZERO)
        })
    });
    assert!(
        greenshim_shim::fd::table::lookup(green[0]).is_some_and(|e| e.desc().is_some()),
        "the green thread's fds were adopted"
    );
}

criterion_group!(benches, pass_through, fast_path, socket_io);
criterion_main!(benches);
