//! The monkey patch: make code that knows nothing of greenshim cooperative.
//!
//! [`patch_all`] turns on greenshim's interposed libc functions. From then on, a call of one
//! of them made on a green thread parks the green thread (or runs off the worker) instead of
//! blocking the worker, whoever makes it: std (`std::thread::sleep`, `ToSocketAddrs`), other
//! crates, C libraries. On plain OS threads, and before `patch_all`, every call goes straight
//! to libc.
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! greenshim::monkey::patch_all().unwrap();
//! let start = Instant::now();
//! let sleepers: Vec<_> = (0..100)
//!     // Plain std code: with the patch, each sleep parks only its green thread.
//!     .map(|_| greenshim::spawn(|| std::thread::sleep(Duration::from_millis(100))))
//!     .collect();
//! greenshim::joinall(sleepers);
//! assert!(start.elapsed() < Duration::from_secs(5)); // not 10 s
//! ```
//!
//! # What is patched
//!
//! | family | symbols | on a green thread |
//! |---|---|---|
//! | [`Family::Sleep`] | `sleep`, `usleep`, `nanosleep`, `clock_nanosleep` | sleeps on greenshim's timer |
//! | [`Family::Dns`] | `getaddrinfo`, `getnameinfo`, `gethostbyname_r`, `gethostbyname2_r`, `gethostbyaddr_r` | runs on the offload pool |
//! | [`Family::Sockets`] | `read`, `readv`, `recv`, `recvfrom`, `recvmsg`, `recvmmsg`, `write`, `writev`, `send`, `sendto`, `sendmsg`, `sendmmsg`, `__read_chk`, `__recv_chk`, `__recvfrom_chk`, `connect`, `accept`, `accept4` | parks until the socket or pipe is ready |
//! | (fd state) | `socket`, `socketpair`, `pipe`, `pipe2`, `dup`, `dup2`, `dup3`, `close`, `fcntl`, `fcntl64`, `ioctl(FIONBIO)`, `setsockopt(SO_*TIMEO)` | keeps greenshim's fd table right |
//! | [`Family::Poll`] | `poll`, `ppoll`, `select`, `pselect`, `epoll_wait`, `epoll_pwait`, `__poll_chk`, `__ppoll_chk` | `poll`/`select` park on greenshim's reactor; `epoll_wait` (an event loop greenshim did not create) blocks the worker (see below) |
//! | [`Family::Process`] | `waitpid`, `wait4`, `waitid` | parks on a pidfd (or waits off the worker) |
//! | [`Family::Locks`] | `syscall(SYS_futex, …)` (wait, wait-bitset, wake, wake-bitset on private futexes); `pthread_mutex_{lock,timedlock,clocklock,trylock,unlock}`, `pthread_cond_{wait,timedwait,clockwait,signal,broadcast}`, `pthread_rwlock_{rd,wr}lock` and their timed, clock and `trywrlock` forms, `pthread_rwlock_unlock`, `sem_{wait,timedwait,clockwait,post}` | std's `Mutex`, `RwLock`, `Condvar`, `Once`, `OnceLock`, `LazyLock`, `Barrier`, parking_lot's lock words and C code's pthread locks and semaphores park the green thread; waits on per-OS-thread state (`thread::park`, so `mpsc` and crossbeam-channel; parking_lot's thread data) block the worker, whose queued green threads the other workers take |
//! | [`Family::Files`] | `open`, `open64`, `openat`, `openat64`, `fsync`, `fdatasync`, `flock`; `read`, `write`, `pread*`, `pwrite*` on regular files | reads and writes the page cache can serve run inline (`RWF_NOWAIT`); what would wait for the disk, opens, syncs and blocking locks run on the offload pool |
//!
//! The rules the interposers follow:
//!
//! - Only sockets and pipes created by a hooked call while the patch is on are made
//!   non-blocking in the kernel (*adopted*), lazily, on first use by a green thread. fds 0/1/2,
//!   inherited fds and fds created before the patch keep blocking as before.
//! - On an adopted fd the user's blocking mode lives in greenshim's fd table: `fcntl(F_GETFL)`
//!   reports it, `F_SETFL`/`FIONBIO` change it, and a user-non-blocking fd sees `EAGAIN` as
//!   usual. `SO_RCVTIMEO`/`SO_SNDTIMEO` end a wait with `EAGAIN` (`EINPROGRESS` for a
//!   connect), as socket(7) says. A plain thread using an adopted fd waits in `poll(2)`, so
//!   it sees blocking behaviour too.
//! - Blocking writes and sends queue every byte before they return; `EINTR` is never
//!   returned from a parked wait; `errno` is set on the OS thread the green thread ends on.
//! - `close` wakes every green thread waiting on the fd (their calls fail with `EBADF`)
//!   before the fd is closed, so a reused fd number is never confused with the old one.
//! - Plain OS threads, greenshim's own calls and a forked child go straight to libc.
//! - Only regular files opened by a hooked `open` while [`Family::Files`] is patched take the
//!   file path; files opened before keep blocking the worker as before.
//!
//! Not reachable by symbol interposition on glibc: stdio (`fread`/`fgets` on a socket use
//! glibc's internal `read`), glibc's resolver internals (hence the offloaded `getaddrinfo`),
//! raw `syscall` instructions and statically linked programs.
//!
//! # Event loops and runtimes greenshim did not create
//!
//! Some code keeps state of its OS thread while a call of its runs: tokio's `block_on` (a
//! synchronous client that enters its own current-thread runtime for every call, as
//! `postgres` does over `tokio-postgres`, or a shared multi-thread runtime) records "runtime
//! entered" and the current handle in thread-locals until it returns. A green thread must not
//! park inside such a call: the next green thread on its worker would find that state
//! ("Cannot start a runtime from within a runtime"), and the parked one could resume on another
//! worker without it. So its waits there block the worker instead, as a plain thread's would
//! (the other workers are woken to take the green threads queued behind it), and
//! `runtime::park_stats().foreign_waits` counts them. Two things are recognised:
//!
//! - being inside a tokio runtime's context, asked by every interposer before it lets a green
//!   thread's libc call park (the `tokio` feature, on by default: `Handle::try_current()`;
//!   Cargo unifies tokio 1.x, so it is the user's tokio). Once `block_on` has returned, the
//!   green thread parks again as usual;
//! - an `epoll_wait` that can block, made by a green thread: a wait inside an event loop
//!   greenshim did not create (mio's, libuv's, tokio's without the feature), which is such a
//!   loop's main wait.
//!
//! 100 green threads each with its own `block_on`-per-call client, or all sharing a
//! multi-thread runtime, or using timer-only runtimes, are correct, and as many of them wait at
//! once as there are workers (`tests/monkey_runtime_clients.rs`); raise `GREENSHIM_WORKERS` for
//! more. A kill or `Timeout` cannot cut such a wait short (it is the kernel's). Still unsafe:
//! greenshim's own blocking API (its mirrors, channels, locks, `sleep`) called inside a tokio
//! `block_on` on a green thread (those paths do not ask tokio, to stay cheap); the other waits
//! of event loops nobody recognises (a futex wait inside one); other executors' `block_on`
//! that keep per-thread state and wait on a condition variable or `thread::park`
//! (`futures::executor`, futures-lite/smol, async-std). `poll`/`select`-based loops stay
//! cooperative (libcurl's keep no such state). From a green thread, prefer awaiting a
//! runtime's work with `greenshim::block_on(handle.spawn(fut))`, which parks only the green
//! thread.
//!
//! # Locks
//!
//! A futex wait on a word inside a lock object parks the green thread on greenshim's futex
//! table, and a futex wake from any thread (green or plain) wakes green waiters first and the
//! kernel's after, so green and plain threads can share one std lock. A wait on per-OS-thread
//! state cannot be parked that way (every green thread on a worker shares its OS thread's std
//! parker and thread-locals): it blocks the worker, and wakes the other workers first (and the
//! sysmon keeps waking them while it lasts), so that they steal the green threads queued behind
//! it. That needs a second worker: on one worker, two green threads that meet in such a wait (a
//! `std::sync::mpsc` rendezvous, a parking_lot lock held across a park) deadlock, and the
//! deadlock check reports it. New green threads and green threads woken from plain threads
//! always join a queue every idle worker steals from, never one that only the blocked worker
//! drains. Spare workers that would run the blocked worker's queue (the JDK's compensation) are
//! not in place: may has no way to start a worker's event loop on another OS thread.
//! `sched_yield` is not hooked: code calls it inside per-OS-thread protocols, where a green
//! yield could resume the green thread on another worker with the first worker's state. The
//! same can happen when such a protocol itself takes a contended std lock (crossbeam-channel's
//! bounded channels register a waiting thread under a `Mutex`): the green thread parks on the
//! lock, may resume on another worker, and then waits on that worker's parker while its
//! wake-up goes to the first one's. A green thread's wait on its worker's parker therefore
//! returns as if unparked after 50 ms at most (`thread::park` may return spuriously; callers
//! check their condition again): such a lost wake-up costs up to 50 ms instead of the wait.
//! One worker, or channels that park green threads (`greenshim::sync`), avoid it. Futexes
//! shared between processes, other
//! futex operations, glibc's own internal locks and raw `syscall` instructions stay the
//! kernel's. A kill or timeout that reaches a green thread in a futex wait does not end the
//! wait (std's lock loops would retry it): it is raised at the next park point after it.
//!
//! C code's pthread mutexes, condition variables, rwlocks and semaphores wait in the kernel
//! through glibc-internal system calls, so the family interposes the pthread functions
//! themselves: a green thread tries the lock without blocking and parks on the same table until a
//! release through the symbol (from any thread) wakes it; plain threads keep glibc's blocking
//! calls, and both can share one object. Parked mutex and semaphore waiters also try again every
//! 50 ms, which catches the releases no symbol hook sees (a plain thread's `pthread_cond_wait`
//! releases its mutex through a glibc-internal alias; another process posts a shared
//! semaphore). glibc records the owner of a recursive or error-checking mutex and the writer of
//! an rwlock as a kernel thread id, which every green thread of a worker shares and which changes
//! when a green thread resumes on another worker; greenshim records the owning green thread
//! instead, so a recursive mutex another green thread of the same worker owns is waited for
//! (not taken as a relock), the owner's relock and unlock work on any worker, and an unlock by a
//! green thread that is not the owner returns `EPERM`. That needs glibc's lock layout, which a
//! self-test checks at first use ([`pthread_supported`]); where it fails, pthread calls block the
//! worker as before. Robust, priority-inheritance, priority-protect and process-shared mutexes,
//! and process-shared condition variables and rwlocks, stay glibc's.
//!
//! # Kills and timeouts in patched code
//!
//! An interposed call cannot unwind its caller (std and C declare libc functions
//! `extern "C"`; an unwind through them aborts). A kill or [`Timeout`](crate::Timeout) that
//! reaches a green thread parked in one ends the call early instead: a sleep returns. The
//! interrupt is recorded, so `Timeout::run` still returns `Err(Elapsed)` and a killed
//! greenlet still joins as [`JoinError::Killed`](crate::JoinError::Killed) once the code
//! returns. Code that loops on a sleep without looking at the clock keeps looping (each later
//! sleep returns at once); code that parks in a greenshim call is unwound there as usual.

use std::fmt;

use greenshim_shim::interpose;
pub use greenshim_shim::interpose::futex::FutexStats;

/// Whether the pthread hooks of [`Family::Locks`] are active: glibc's lock layout passed the
/// self-test (see [Locks](self#locks)). `false` means C code's pthread locks block the worker.
pub fn pthread_supported() -> bool {
    interpose::pthread::supported()
}
pub use greenshim_shim::interpose::{Family, FamilyStats};

/// Why patching was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatchError {
    /// Green threads were already running: one of them may be blocked inside a libc call
    /// right now, and that call would stay blocking. Nothing was patched; call the patch
    /// before spawning (or when every green thread has finished).
    Late {
        /// Green threads not finished when the patch was asked for.
        live_green_threads: usize,
    },
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatchError::Late { live_green_threads } => write!(
                f,
                "greenshim::monkey: patch requested with {live_green_threads} green threads \
                 already running; nothing was patched (call patch_all before the first spawn)"
            ),
        }
    }
}

impl std::error::Error for PatchError {}

/// Patches every family.
///
/// # Errors
/// [`PatchError::Late`] if green threads are already running (nothing is patched then).
pub fn patch_all() -> Result<(), PatchError> {
    patch(&Family::ALL)
}

/// Patches the given families. Patching what is already patched does nothing and succeeds.
///
/// # Errors
/// [`PatchError::Late`] if a family is not patched yet and green threads are already running
/// (nothing is patched then).
pub fn patch(families: &[Family]) -> Result<(), PatchError> {
    if families.iter().all(|f| interpose::is_patched(*f)) {
        return Ok(());
    }
    let live = crate::greenlet::unfinished_count();
    if live > 0 {
        return Err(PatchError::Late {
            live_green_threads: live,
        });
    }
    for f in families {
        interpose::patch(*f);
    }
    Ok(())
}

/// Whether `family` is patched.
pub fn is_patched(family: Family) -> bool {
    interpose::is_patched(family)
}

/// Turns every family off again (for tests): calls go straight to libc.
pub fn unpatch_all() {
    for f in Family::ALL {
        interpose::unpatch(f);
    }
}

/// Counters of every family: calls that took the cooperative path and calls that passed
/// through while patched.
pub fn stats() -> Stats {
    Stats {
        families: Family::ALL.map(|f| (f, interpose::stats(f))),
        futex: interpose::futex::stats(),
    }
}

/// What [`stats`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    families: [(Family, FamilyStats); Family::ALL.len()],
    futex: FutexStats,
}

impl Stats {
    /// The futex table's counters ([`Family::Locks`]).
    pub fn futex(&self) -> FutexStats {
        self.futex
    }

    /// The counters of one family.
    pub fn family(&self, family: Family) -> FamilyStats {
        self.families
            .iter()
            .find(|(f, _)| *f == family)
            .map(|(_, s)| *s)
            .unwrap_or_default()
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (family, s) in &self.families {
            writeln!(
                f,
                "{family:?}: {} cooperative, {} passed through",
                s.cooperative, s.passed_through
            )?;
        }
        Ok(())
    }
}
