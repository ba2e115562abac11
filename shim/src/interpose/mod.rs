//! The libc interposition layer behind `greenshim::monkey`: `extern "C"` definitions of libc
//! symbols that, once their *family* is patched, make a call from a green thread cooperative.
//!
//! The symbols are exported by any binary that links this module (the `greenshim::monkey`
//! entry points reference it, so calling them links it). Every call of the symbol in the
//! process then lands here: std's, other crates', C libraries'. Each interposer decides with
//! [`cooperative`] in a few loads whether to take the cooperative path:
//!
//! ```text
//!  hook(args)
//!   family patched?            no  -> real libc (pointer resolved once at load time)
//!   post-fork child?           yes -> real libc   (no locks, no allocation in the child)
//!   inside greenshim itself?   yes -> real libc   (greenshim's own calls pass through)
//!   on a green thread?         no  -> real libc   (plain threads are never changed)
//!   else: the cooperative path (park instead of blocking), counted per family
//! ```
//!
//! Interposers cannot unwind: their callers (std included) declare libc functions
//! `extern "C"`, so an unwind through them aborts the process. A kill or `Timeout` that
//! reaches a green thread parked in a hook is therefore *delivered as a result*: the call
//! returns early (a sleep returns, an I/O call fails), the interrupt is recorded as delivered
//! in the green thread's context, and `Timeout::run` and the greenlet's completion read it.
//!
//! **Floor 5** (with the runtime): may import every floor below; nothing below imports it.
//! One file or folder per family; [`dns`] is the `Dns` family.

pub mod dns;
pub mod files;
pub mod futex;
pub mod memory;
pub mod poll;
pub mod process;
pub mod pthread;
pub mod signals;
pub mod sleep;
pub mod sockets;

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::fd::table::{self as fdtable, Origin};
use crate::park::context;

/// A group of libc symbols patched together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// `sleep`, `usleep`, `nanosleep`, `clock_nanosleep` (std's `thread::sleep`): the green
    /// thread sleeps on greenshim's timer.
    Sleep,
    /// `getaddrinfo`, `getnameinfo`, `gethostbyname_r`, `gethostbyname2_r`,
    /// `gethostbyaddr_r`: every lookup made on a green thread runs on the offload pool.
    Dns,
    /// Socket and pipe I/O (`read`, `write`, `recv*`, `send*`, their vector, `mmsg` and
    /// FORTIFY forms), `connect`, `accept`, `accept4`, and the fd-state calls that keep the
    /// fd table right (`socket`, `socketpair`, `pipe`, `pipe2`, `dup*`; `close`, `fcntl`,
    /// `ioctl(FIONBIO)` and `setsockopt(SO_*TIMEO)` are always tracked).
    Sockets,
    /// `poll`, `ppoll`, `select`, `pselect`, `epoll_wait`, `epoll_pwait` (and FORTIFY forms):
    /// a wait with a timeout parks the green thread on greenshim's reactor.
    Poll,
    /// `waitpid`, `wait4`, `waitid`: a green thread waits on a pidfd (or off the worker).
    Process,
    /// Regular files: `open*`, `fsync`, `fdatasync` and blocking `flock` run off the worker;
    /// `read`, `write`, `pread*`, `pwrite*` on a file a hooked `open` opened are served from
    /// the page cache inline (`RWF_NOWAIT`) and go off the worker only when they would wait.
    Files,
    /// Futex waits (`syscall(SYS_futex, …)`: std's `Mutex`, `RwLock`, `Condvar`, `Once`,
    /// `OnceLock`, `LazyLock`, `Barrier`, parking_lot) park the green thread on greenshim's
    /// futex table; waits on per-OS-thread state (`thread::park`, hence `mpsc` and
    /// crossbeam-channel; parking_lot's thread data) block the worker, whose queued green
    /// threads the other workers take meanwhile. C code's `pthread_mutex_*`,
    /// `pthread_cond_*`, `pthread_rwlock_*` and `sem_*` park too. `sched_yield` is not hooked:
    /// code calls it inside per-OS-thread protocols (parking_lot's word lock, holding a pointer
    /// to its thread-local data), where a green yield could resume the green thread on another
    /// worker with the first worker's state.
    Locks,
}

impl Family {
    /// Every family this release can patch.
    pub const ALL: [Family; 7] = [
        Family::Sleep,
        Family::Dns,
        Family::Sockets,
        Family::Poll,
        Family::Process,
        Family::Files,
        Family::Locks,
    ];

    fn bit(self) -> u32 {
        1 << self as u32
    }

    fn index(self) -> usize {
        self as usize
    }
}

static PATCHED: AtomicU32 = AtomicU32::new(0);

/// Per-family counters, in shards so that workers counting at once do not share a cache line:
/// each OS thread counts in the shard of its own index (threads beyond the shard count share,
/// round robin). A reader sums the shards.
#[repr(align(128))]
struct Shard {
    cooperative: [AtomicU64; Family::ALL.len()],
    passed: [AtomicU64; Family::ALL.len()],
}

const SHARDS: usize = 16;

static COUNTERS: [Shard; SHARDS] = [const {
    Shard {
        cooperative: [const { AtomicU64::new(0) }; Family::ALL.len()],
        passed: [const { AtomicU64::new(0) }; Family::ALL.len()],
    }
}; SHARDS];

/// This OS thread's shard (assigned on first use, without allocating).
#[inline]
fn shard() -> &'static Shard {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    crate::os_local! {
        static MINE: u32 = u32::MAX;
    }
    let mut i = MINE.get();
    if i == u32::MAX {
        i = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS as u32;
        MINE.set(i);
    }
    &COUNTERS[i as usize]
}

/// Counts of one family since start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FamilyStats {
    /// Calls that took the cooperative path (parked, or ran off the worker).
    pub cooperative: u64,
    /// Calls made while the family was patched that went straight to libc (plain threads,
    /// greenshim's own calls, a forked child).
    pub passed_through: u64,
}

/// The counters of `family`.
pub fn stats(family: Family) -> FamilyStats {
    let i = family.index();
    let sum = |f: fn(&Shard) -> &[AtomicU64; Family::ALL.len()]| -> u64 {
        COUNTERS
            .iter()
            .map(|s| f(s)[i].load(Ordering::Relaxed))
            .sum()
    };
    FamilyStats {
        cooperative: sum(|s| &s.cooperative),
        passed_through: sum(|s| &s.passed),
    }
}

/// Turns the cooperative path of `family` on. Resolves the real libc symbols first and
/// installs the fork handler (once).
pub fn patch(family: Family) {
    keep_linked();
    crate::sys::real::resolve_all();
    crate::sys::pass::install_fork_handler();
    PATCHED.fetch_or(family.bit(), Ordering::SeqCst);
}

/// References every interposer, so that a binary that patches links them all.
fn keep_linked() {
    sleep::keep_linked();
    sockets::keep_linked();
    poll::keep_linked();
    process::keep_linked();
    files::keep_linked();
    futex::keep_linked();
    pthread::keep_linked();
    signals::keep_linked();
    dns::keep_linked();
}

/// Turns the cooperative path of `family` off; calls pass straight to libc again. Unpatching
/// [`Family::Sockets`] also hands every fd the hooks adopted back in the user's blocking mode.
pub fn unpatch(family: Family) {
    PATCHED.fetch_and(!family.bit(), Ordering::SeqCst);
    if family == Family::Sockets {
        crate::fd::close::release_all(Origin::Pollable);
    }
}

/// Whether `family` is patched.
pub fn is_patched(family: Family) -> bool {
    PATCHED.load(Ordering::Relaxed) & family.bit() != 0
}

/// The interposers' decision: true if this call of a `family` symbol takes the cooperative
/// path. Cheap when the family is not patched (one relaxed load).
#[inline]
pub fn cooperative(family: Family) -> bool {
    decide(family, |green| green)
}

/// The decision of an I/O interposer on `fd`: true if the call goes through greenshim's retry
/// loop. That is the case for an fd greenshim has adopted (its kernel fd is non-blocking, so
/// even a plain thread must wait the way greenshim does: in `poll(2)`), and for a socket or
/// pipe a hooked call created when the caller is a green thread (it is adopted on the spot).
/// Everything else goes to libc unchanged: fds 0/1/2, inherited fds, regular files.
#[inline]
pub fn managed_fd(family: Family, fd: RawFd) -> bool {
    decide(family, |green| {
        fdtable::lookup(fd)
            .is_some_and(|e| e.desc().is_some() || (green && e.origin() == Origin::Pollable))
    })
}

/// The one decision procedure of the interposers: unpatched, nothing (one relaxed load);
/// in a forked child or inside greenshim, straight to libc; otherwise `route(on a green
/// thread)` says whether greenshim's path is taken. Counts a call that takes it on a green
/// thread as cooperative, every other call of a patched family as passed through.
#[inline]
fn decide(family: Family, route: impl FnOnce(bool) -> bool) -> bool {
    if PATCHED.load(Ordering::Relaxed) & family.bit() == 0 {
        return false;
    }
    // A green thread inside another runtime's per-thread state waits as a plain thread (see
    // `which::set_foreign_state_probe`).
    let green = context::on_green_thread() && !crate::park::which::inside_foreign_state();
    // `route` first: on a plain thread it is usually `false` at once (one load).
    let taken = route(green)
        && !in_forked_child()
        && !crate::sys::is_inside()
        && !crate::sys::pass::in_signal_handler();
    let (c, i) = (shard(), family.index());
    if taken && green {
        c.cooperative[i].fetch_add(1, Ordering::Relaxed);
    } else {
        c.passed[i].fetch_add(1, Ordering::Relaxed);
    }
    taken
}

static FORTIFIED: AtomicU64 = AtomicU64::new(0);

pub(crate) fn count_fortified() {
    FORTIFIED.fetch_add(1, Ordering::Relaxed);
}

/// Calls of the FORTIFY forms (`__read_chk`, `__recv_chk`, `__recvfrom_chk`, `__poll_chk`,
/// `__ppoll_chk`) since start-up: C code built with `-D_FORTIFY_SOURCE` calls these instead
/// of the plain names.
pub fn fortified_calls() -> u64 {
    FORTIFIED.load(Ordering::Relaxed)
}

pub use crate::sys::{in_forked_child, set_errno};

/// A pointer from a hooked call's caller, sent to the offload pool with the call.
pub(crate) struct SendPtr<T>(pub *mut T);
// SAFETY: the pointee belongs to the hooked call's caller, which stays parked (its stack alive)
// until the offloaded call has returned (see `offload::run`).
unsafe impl<T> Send for SendPtr<T> {}

/// Runs a libc call on the offload pool while the green thread parks; the `errno` it left on
/// the pool thread is copied to the caller's thread.
pub(crate) fn offload_call<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let (r, errno) = crate::offload::run(move || {
        let r = f();
        (r, io::Error::last_os_error().raw_os_error().unwrap_or(0))
    });
    set_errno(errno);
    r
}

/// An interposer's `ssize_t` result: the count, or `-1` with `errno` set.
pub(crate) fn ret_size(r: io::Result<usize>) -> isize {
    match r {
        Ok(n) => n as isize,
        Err(e) => {
            set_errno(e.raw_os_error().unwrap_or(libc::EIO));
            -1
        }
    }
}

/// An interposer's `int` result: the value, or `-1` with `errno` set.
pub(crate) fn ret_int(r: io::Result<i32>) -> i32 {
    match r {
        Ok(n) => n,
        Err(e) => {
            set_errno(e.raw_os_error().unwrap_or(libc::EIO));
            -1
        }
    }
}

/// A real libc call's `ssize_t` result as an `io::Result` (reads `errno` at once, on the
/// thread that made the call).
pub(crate) fn size_result(r: isize) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// A real libc call's `int` result as an `io::Result`.
pub(crate) fn int_result(r: i32) -> io::Result<i32> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}
