//! A hooked libc call on a plain thread that never ran greenshim code does not allocate: std's
//! allocation-failure hook writes to stderr through the `write` interposer on a thread whose
//! memory ran out, and an allocation there recursed until the stack overflowed (SIGSEGV with no
//! message). may's "is this a coroutine?" allocates a per-thread context on a thread's first
//! call, so the hooks ask it only on may's own threads.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::os::fd::AsRawFd;
use std::time::Duration;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's block, allocated by `System` above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

#[test]
fn hooked_calls_on_a_fresh_plain_thread_do_not_allocate() {
    greenshim::monkey::patch_all().unwrap();
    // The runtime runs, and green threads used the hooks.
    greenshim::spawn(|| std::thread::sleep(Duration::from_millis(1)))
        .join()
        .unwrap();
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap();
    let fd = null.as_raw_fd();
    let allocations = std::thread::spawn(move || {
        let before = ALLOCS.with(Cell::get);
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 1000,
        };
        // SAFETY: a write of one byte from a live buffer to an open fd; a 1 µs sleep.
        let (w, s) = unsafe {
            (
                libc::write(fd, b"x".as_ptr().cast(), 1),
                libc::nanosleep(&ts, std::ptr::null_mut()),
            )
        };
        assert_eq!((w, s), (1, 0));
        ALLOCS.with(Cell::get) - before
    })
    .join()
    .unwrap();
    assert_eq!(allocations, 0, "the hooked calls allocated");
}
