//! Runtime configuration: worker threads, stack size, stack pool, pinning.
//!
//! The runtime starts by itself on the first spawn; configure it before that, through
//! [`Config`] or the environment variables below. [`start`] starts it eagerly (and reports a
//! bad environment variable as an error).
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `GREENSHIM_WORKERS` | worker OS threads running green threads | number of CPUs |
//! | `GREENSHIM_STACK_SIZE` | bytes per green-thread stack (`k`/`m` suffixes) | `64k` |
//! | `GREENSHIM_STACK_POOL` | ready-made stacks kept for reuse | `1000` |
//! | `GREENSHIM_PIN` | pin worker `i` to core `i` (`1`/`0`) | `0` |
//! | `GREENSHIM_OFFLOAD_THREADS` | most threads of the offload pool alive at once | `512` |
//!
//! Values set through [`Config`] win over the environment.
//!
//! # Why these defaults
//!
//! - **Pinning off.** may pins its workers by default. Pinned, a worker cannot leave the core a
//!   co-located load generator runs on: W4 echo with 2 workers on 2 cores served 99k req/s
//!   pinned against 107k unpinned (50 connections; README, configuration section).
//! - **Workers = CPUs.** Green threads that compute need every core. A server that shares a
//!   small machine with its own load generator can do better with `GREENSHIM_WORKERS=1`
//!   (see the README's performance section for the measurement).
//! - **64 KiB stacks.** A stack costs two touched pages of resident memory (about 8 KiB)
//!   whatever its size until code uses more, so a roomier default costs nothing and keeps
//!   ordinary std code (formatting, panics) far from the guard page.
//! - **1000 pooled stacks** (may's default): stacks beyond the pool cost an `mmap`, `mprotect`
//!   and `munmap` each.

pub use greenshim_shim::offload::{OffloadStats, stats as offload_stats};
pub use greenshim_shim::park::{ParkStats, stats as park_stats};
pub use greenshim_shim::runtime::{
    Config, MAX_STACK_SIZE, MIN_STACK_SIZE, Settings, is_started, settings,
    stack_budget_now as stack_budget, start,
};
