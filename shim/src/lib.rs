//! greenshim's runtime layer, below the std-shaped API of the `greenshim` crate.
//!
//! Everything that knows about `may` lives here, so every later layer shares *one* way of
//! waiting:
//!
//! - [`runtime`]: lazy start of may's scheduler with greenshim's configuration (API and
//!   `GREENSHIM_*` environment variables).
//! - [`context`]: the per-green-thread (and per-OS-thread) context: identity, the pending
//!   interrupt slot that kill and timeouts write, and the waker.
//! - [`park`]: the park primitive. Parks a green thread (or blocks a plain thread) until it is
//!   woken, a deadline passes, or it is interrupted. Every blocking call in greenshim ends here.
//! - [`timer`]: greenshim's own timer thread. Deadlines wake green threads by queueing them on a
//!   worker, never by running them on the timer thread (may's own timer does the latter, which
//!   lets one CPU-heavy green thread delay every other timer).
//! - [`reactor`]: one epoll and one reactor green thread per worker; how green threads wait
//!   for fds, any number per fd, with deadlines and interrupts.
//! - [`fdtable`]: per-fd state shared by every layer: waiters per direction, the user's blocking
//!   intent and timeouts, registration, generation.
//! - [`io`]: the one retry loop (try the syscall, wait on `WouldBlock`, retry) and the plain
//!   thread fallback (`poll(2)`).
//! - [`dispatch`]: delivers wake-ups from non-worker threads (timer, offload pool) through the
//!   first idle worker, so a busy worker cannot strand them.
//! - [`dns`]: the `getaddrinfo` interposer that runs a green thread's lookups off the worker.
//! - [`interpose`]: the monkey patch's libc interposers, their family switches and counters.
//! - [`waitqueue`]: the FIFO of parked waiters (green or plain) with hand-off payloads that
//!   every lock, channel and queue is built from.
//! - [`lock`]: the lock word of greenshim's mutexes, built on a wait queue.
//! - [`offload`]: the elastic thread pool for work the kernel cannot make non-blocking.
//! - [`monitor`]: diagnostics: the worker switch record, the blocking detector, run info, the
//!   deadlock check and the report channel.
//! - [`sys`]: the only code here that calls libc.
//!
//! Users want the `greenshim` crate; this one is its engine room.
#![warn(missing_docs)]

pub mod context;
pub mod dispatch;
pub mod dns;
pub mod fdtable;
pub mod interpose;
pub mod io;
pub mod lock;
pub mod monitor;
pub mod offload;
pub mod park;
pub mod reactor;
pub mod runtime;
pub mod sys;
pub mod timer;
pub mod waitqueue;

/// The may crate greenshim runs on, for the layers above (one dependency edge: greenshim →
/// greenshim-shim → may).
#[doc(hidden)]
pub use may;
