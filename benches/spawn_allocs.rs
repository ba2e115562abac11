//! Heap allocations per green thread: greenshim's spawn (and the green thread's run to its
//! end) against raw may's, counted by a global allocator that counts.
//!
//! `cargo bench --bench spawn_allocs [-- --n 10000]`

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

/// The system allocator, counting allocations and their bytes.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's layout, as GlobalAlloc requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations and bytes per item while `f` spawns and joins `n` of them.
fn per_item(n: u64, f: impl FnOnce()) -> (f64, f64) {
    let (a, b) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    f();
    let (a2, b2) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    ((a2 - a) as f64 / n as f64, (b2 - b) as f64 / n as f64)
}

fn main() {
    let args = common::Args::parse();
    let n: u64 = args.get("n", 10_000);
    args.start_runtime();
    // Warm: may's pool and greenshim's registry shards exist before counting.
    for _ in 0..2000 {
        greenshim::spawn(|| ()).join().unwrap();
    }
    // The handles' Vec is allocated outside the count.
    let mut handles = Vec::with_capacity(n as usize);
    let (ga, gb) = per_item(n, || {
        handles.extend((0..n).map(|i| greenshim::spawn(move || i)));
        for h in handles.drain(..) {
            h.join().unwrap();
        }
    });
    let mut raw = Vec::with_capacity(n as usize);
    let (ma, mb) = per_item(n, || {
        // SAFETY: the closures use no thread-local storage.
        raw.extend((0..n).map(|i| unsafe { may::coroutine::spawn(move || i) }));
        for h in raw.drain(..) {
            h.join().unwrap();
        }
    });
    println!(
        "RESULT bench=spawn_allocs n={n} greenshim_allocs={ga:.2} greenshim_bytes={gb:.0} \
         may_allocs={ma:.2} may_bytes={mb:.0}"
    );
}
