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
//! | `GREENSHIM_STACK_ARENA` | most address space the stack arena reserves; `0`: one mapping per stack | `256g` |
//! | `GREENSHIM_STACK_WARM` | bytes of freed stacks kept resident for reuse | `64m` |
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
//! - **1000 pooled stacks** (may's default): finished green threads kept ready for the next
//!   spawn.
//! - **A 256 GiB stack arena.** Stacks are carved from 1 GiB reservations whose guard pages
//!   do not split them (`MADV_GUARD_INSTALL`, Linux 6.13+), so live green threads are bounded
//!   by memory instead of `vm.max_map_count` ([`stack_mode`] says which is in force). 256 GiB
//!   holds 3.9 million default stacks, which need 32 GiB of memory at two pages each: memory
//!   runs out first. Address space is reserved only as green threads need it.
//! - **64 MiB of warm stacks**: freed stacks (counted at full size) that the next spawns reuse
//!   without a system call or page fault; the rest go back to the kernel once unused for a
//!   second.

pub use greenshim_shim::offload::{OffloadStats, stats as offload_stats};
pub use greenshim_shim::park::{ParkStats, stats as park_stats};
pub use greenshim_shim::runtime::{
    Config, MAX_STACK_SIZE, MIN_STACK_SIZE, Settings, is_started, settings,
    stack_budget_now as stack_budget, start,
};
pub use greenshim_shim::stacks::{
    Mode as StackMode, Stats as StackStats, mode as stack_mode, stats as stack_stats,
};
