//! # greenshim: gevent-style green threads for blocking Rust code
//!
//! Write ordinary blocking code — sleeps, joins, channels, sockets — and run ten thousand copies
//! of it on a few OS threads. Each copy runs on a *green thread*, a stackful coroutine of the
//! [`may`](https://docs.rs/may) runtime; when it blocks in a greenshim call only the green
//! thread waits, and its worker OS thread runs the next one.
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! let start = Instant::now();
//! let greenlets: Vec<_> = (0..1000u64)
//!     .map(|i| greenshim::spawn(move || { greenshim::sleep(Duration::from_millis(100)); i }))
//!     .collect();
//! let sum: u64 = greenshim::joinall(greenlets).into_iter().map(Result::unwrap).sum();
//! assert_eq!(sum, 999 * 1000 / 2);
//! assert!(start.elapsed() < Duration::from_secs(5)); // 1000 sleeps overlapped, not 100 s
//! ```
//!
//! ## How it works
//!
//! - [`spawn`] starts a green thread and returns a [`Greenlet`]: `join` it for its value (a
//!   panic comes back as [`JoinError::Panicked`], as with `std::thread`), [`kill`](Greenlet::kill)
//!   it, or wait on many with [`joinall`], [`killall`], [`iwait`].
//! - Every blocking call ends in one *park primitive* (in the `greenshim-shim` crate). It parks
//!   the green thread, or blocks a plain OS thread, and it checks the green thread's
//!   *pending-interrupt slot* before and after every park. [`Greenlet::kill`] and [`Timeout`]
//!   write that slot, so they reach a parked green thread at once and unwind it (destructors
//!   run). Code that never parks cannot be interrupted.
//! - Sleeps and deadlines use greenshim's own timer thread, which queues woken green threads
//!   on a worker rather than running them itself.
//! - Sockets wait on greenshim's reactor: a green thread whose read, write, accept or connect
//!   would block queues itself on the fd and parks; the reactor (an epoll watched from inside
//!   may's event loop) wakes it. Any number of green threads can wait on one socket.
//! - What the kernel cannot wait for with epoll (regular files, `getaddrinfo`, `fsync`, locks,
//!   `fork`+`exec`) runs on an elastic *offload pool* while the green thread parks
//!   ([`offload`]); reads and writes that the page cache can serve at once stay inline.
//! - Locks, channels and the other coordination types wait on one *wait queue* (green and
//!   plain threads queue on it alike, in arrival order; a release hands the lock, item or
//!   permit to the first waiter), so a green thread waiting for another parks.
//! - Mirrors of std modules keep std's names and signatures: [`time`], [`thread`], [`net`],
//!   [`os::unix::net`], [`fs`], [`process`], [`io`] and [`sync`] so far. Outside a green
//!   thread they behave like std.
//! - gevent's coordination types: [`Event`], [`AsyncResult`], [`Semaphore`],
//!   [`BoundedSemaphore`], [`Queue`], [`LifoQueue`], [`PriorityQueue`], [`Channel`],
//!   [`Group`], [`Pool`]. Unlike gevent's, they also work across OS threads.
//! - The runtime starts on first use; [`runtime`] documents its settings and the environment
//!   variables (`GREENSHIM_WORKERS`, `GREENSHIM_STACK_SIZE`, …).
//!
//! ## Caveats, in plain words
//!
//! - **`std::thread_local!` values are not stable inside a green thread.** After any park the
//!   green thread may continue on another OS thread, and then a thread-local it reads belongs
//!   to that other thread. Use [`green_local!`] for per-green-thread state. Libraries that
//!   cache things in thread-locals (random-number generators, allocators' caches) are fine as
//!   long as they do not hold a reference to the thread-local across a blocking call.
//! - **Stacks are fixed-size** (64 KiB by default, [`runtime::Config::stack_size`]). A green
//!   thread that overflows its stack lands on a guard page, and greenshim prints which green
//!   thread it was and aborts the process, as std does when an OS thread overflows its stack.
//!   (Where the stack arena is not in force, below, may's own handling applies: the green
//!   thread usually dies with [`JoinError::StackOverflow`] without running its destructors, and
//!   may sometimes ends the process with `exit(1)`.)
//! - **Live green threads are bounded by memory** (about 8.5 KiB each while they sleep): their
//!   stacks are carved from a few large mappings with guard pages that do not split them
//!   (`MADV_GUARD_INSTALL`, Linux 6.13+; [`runtime::stack_mode`] says whether it is in force).
//!   On older kernels each live green thread takes two kernel memory mappings, and Linux allows
//!   a process `vm.max_map_count` (65 530 by default) of them: about 32 000 live green threads.
//!   Past that budget greenshim's spawn returns an `OutOfMemory` error naming the limit and the
//!   fix (`sysctl -w vm.max_map_count=262144`); the infallible [`spawn`] panics with it.
//! - **A blocking call greenshim does not know about blocks the whole worker**, and the green
//!   threads queued on it wait. `std::net`, `std::fs`, `std::process` and `std::sync` block;
//!   use the mirrors ([`monkey`] covers unmodified code's sleeps and name lookups so far). A
//!   `std::sync::Mutex` held across a greenshim park can deadlock a worker: the next green
//!   thread that locks it on that worker blocks the OS thread the holder needs.
//! - **A green thread that computes without parking holds its worker.** Socket events are
//!   still delivered by another idle worker within a few milliseconds, but the green threads
//!   queued behind the busy one wait for it.
#![warn(missing_docs)]

mod entry;
pub mod event;
mod foreign;
pub mod fs;
mod future;
mod greenlet;
pub mod io;
mod joinall;
pub mod local;
pub mod monitor;
pub mod monkey;
pub mod net;
pub mod os;
pub mod pool;
pub mod process;
pub mod queue;
pub mod runtime;
pub mod semaphore;
pub mod sync;
pub mod thread;
pub mod time;
mod timeout;

#[doc(hidden)]
pub use entry::{__EntrySettings, __entry};
pub use event::{AsyncResult, Event};
pub use future::{Join, block_on};
pub use greenlet::{Builder, Greenlet, JoinError, current_id, live_count, spawn, spawn_later};
pub use greenshim_macros::{main, test};
pub use joinall::{IWait, iwait, joinall, joinall_timeout, killall};
pub use monitor::run_info;
pub use pool::{Group, Pool};
pub use queue::{Channel, LifoQueue, PriorityQueue, Queue};
pub use semaphore::{BoundedSemaphore, Semaphore};
pub use time::sleep;
pub use timeout::{Elapsed, Timeout, with_timeout};

/// Runs a blocking closure off the worker while the calling green thread parks, and returns
/// its result (a panic resumes in the caller). On a plain OS thread it runs inline. The closure
/// may borrow: a kill or `Timeout` waits until it has finished.
pub use greenshim_shim::offload::run as offload;

#[doc(hidden)]
pub use greenshim_shim::may as __may;

/// Lets other green threads run; `sleep(Duration::ZERO)` does the same. A yield is a park
/// point: a pending kill or timeout is raised here.
pub fn yield_now() {
    if let Err(interrupt) = greenshim_shim::park::yield_now() {
        interrupt.raise();
    }
}

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
