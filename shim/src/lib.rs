//! greenshim's runtime layer, below the std-shaped API of the `greenshim` crate.
//!
//! Everything that knows about `may` lives here, so every later layer shares *one* way of
//! waiting. The crate is built in floors; each floor imports only the floors below it, and the
//! runtime alone wires them together (it pushes the reactor kick and the sysmon check down
//! into `park`, and the offload limit into `offload`, instead of being called up):
//!
//! ```text
//!  5  interpose/ (the libc hooks, dns)        runtime (start-up, configuration)
//!  4  fd/ (table, reactor, close, io)   offload (thread pool)   monitor/ (diagnostics)
//!  3  park/ (park primitive, waker + dispatch, context + registry, which, wait, timer,
//!           waitqueue, lock)   stacks/ (the green-thread stack arena, overflow report)
//!  2  sys/ (every libc call; the dlsym table `real`; pass-through flags `pass`)
//!  1  trace (worker switch record, libc-call marks)   oslocal (OS-thread locals); std only
//! ```
//!
//! - [`oslocal`]: the only way to this crate's thread-locals, safe from a green thread that
//!   moves between workers mid-function.
//! - [`trace`]: which green thread each worker runs and the libc call it is in.
//! - [`sys`]: the only code here that calls libc, and the flags that send a call straight
//!   through (forked child, inside greenshim).
//! - [`park`]: the park primitive. Parks a green thread (or blocks a plain thread) until it is
//!   woken, a deadline passes, or it is interrupted. Every blocking call in greenshim ends here;
//!   with it, the context of each green thread, greenshim's own timer thread, the wait queue
//!   every lock and channel is built from, and the lock word.
//! - [`stacks`]: green-thread stacks carved from a few large mappings, so that live green
//!   threads are bounded by memory rather than by `vm.max_map_count`; overflow reporting.
//! - [`fd`]: per-fd state, one epoll and one reactor green thread per worker, the close
//!   protocol, and the retry loop of every non-blocking fd operation.
//! - [`offload`]: the elastic thread pool for work the kernel cannot make non-blocking.
//! - [`monitor`]: diagnostics: the blocking detector, run info, the deadlock check and the
//!   report channel.
//! - [`interpose`]: the monkey patch's libc interposers, their family switches and counters.
//! - [`runtime`]: lazy start of may's scheduler with greenshim's configuration (API and
//!   `GREENSHIM_*` environment variables).
//!
//! Users want the `greenshim` crate; this one is its engine room.
#![warn(missing_docs)]

pub mod fd;
pub mod interpose;
pub mod monitor;
pub mod offload;
pub mod oslocal;
pub mod park;
pub mod runtime;
pub mod stacks;
pub mod sys;
pub mod trace;

/// The may crate greenshim runs on, for the layers above (one dependency edge: greenshim →
/// greenshim-shim → may).
#[doc(hidden)]
pub use may;
