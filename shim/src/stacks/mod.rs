//! Green-thread stacks from an arena, so that the number of live green threads is bounded by
//! memory, not by the kernel's mapping limit.
//!
//! may's generator allocates every stack itself: `mmap` of the stack plus one page, then
//! `mprotect` of that page to `PROT_NONE` as the guard, and `munmap` when the stack is
//! dropped. That is two kernel mappings per live green thread, and Linux allows a process
//! `vm.max_map_count` (65 530 by default) of them: about 32 000 live green threads.
//!
//! Here the generator's three calls are served from large reservations (*chunks*) carved into
//! slots of the requested length. The guard page of each slot is installed with
//! `madvise(MADV_GUARD_INSTALL)` (Linux 6.13+), which marks page-table entries instead of
//! splitting the mapping, so a chunk of thousands of stacks stays one mapping. The
//! generator's `mprotect` of that page is then a no-op, and its `munmap` returns the slot to a
//! free list:
//!
//! - **warm** (up to the configured warm size): reused as it is, without a system call or a
//!   page fault;
//! - **cold**: its pages are returned to the kernel (`MADV_DONTNEED`, in sorted, merged runs)
//!   but the slot stays carved and guarded, so reusing it costs only the first-touch faults.
//!
//! Only the calls made inside [`serving`] are served: greenshim opens that window around its
//! own spawns and around may's start-up (which builds may's pool of ready-made stacks), and
//! only for anonymous `MAP_STACK` requests. A coroutine spawned through may directly, outside
//! greenshim, gets may's own mappings; may's pool may later hand that stack to a greenshim
//! spawn (it is unmapped normally when freed). Every other `mmap` in the process passes straight
//! to libc; `munmap` and `mprotect` cost two loads for an address outside the arena.
//!
//! Where the kernel lacks guard regions (or the arena is switched off) every stack is mapped
//! as before, and spawning past the mapping budget fails with an error naming
//! `vm.max_map_count` ([`Mode::PerStack`]).
//!
//! A green thread that overflows its arena stack lands on the guard; [`overflow`] reports it
//! by name and aborts the process, as std does for an OS thread.
//!
//! **Floor 3** (beside `park`): imports `sys` and `trace` only.

mod arena;
pub mod overflow;

use std::ffi::c_void;

pub use arena::Stats;

/// How green-thread stacks are allocated in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Not decided yet: the runtime has not started.
    Unset,
    /// From the arena: slots in a few large mappings, guards installed with
    /// `MADV_GUARD_INSTALL`.
    Arena,
    /// One mapping and one `mprotect`ed guard per stack (may's own allocation), for the reason
    /// given.
    PerStack(&'static str),
}

crate::os_local! {
    /// Whether this thread is inside a spawn whose stack requests the arena serves.
    static SERVING: bool = false;
}

/// Runs `f` (a may spawn, or may's start-up) with its stack requests served from the arena.
pub fn serving<R>(f: impl FnOnce() -> R) -> R {
    SERVING.scoped(f)
}

/// Decides the mode once, at runtime start, before may's scheduler starts: the arena when
/// `arena_bytes > 0` and the kernel supports guard regions (the runtime then installs
/// [`overflow::install`] once may ran its first coroutine). `warm_bytes` of freed stacks are kept resident for reuse.
pub fn configure(arena_bytes: usize, warm_bytes: usize) -> Mode {
    let mode = arena::configure(arena_bytes, warm_bytes);
    if mode == Mode::Arena {
        overflow::note_before_may();
    }
    mode
}

/// The mode in force.
pub fn mode() -> Mode {
    arena::mode()
}

/// Counters of the arena (all zero in the per-stack mode).
pub fn stats() -> Stats {
    arena::stats()
}

/// Serves an `mmap` request from the arena when it is a green-thread stack request made
/// inside [`serving`] (`MAP_FAILED` with `ENOMEM` when the arena is full); `None` sends it to
/// libc.
pub fn map(addr: *mut c_void, len: usize, prot: i32, flags: i32, fd: i32) -> Option<*mut c_void> {
    const WANTED: i32 = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK;
    if !addr.is_null() || fd != -1 || flags & WANTED != WANTED || flags & libc::MAP_FIXED != 0 {
        return None;
    }
    if prot != libc::PROT_READ | libc::PROT_WRITE || !SERVING.get() {
        return None;
    }
    if crate::sys::in_forked_child() || !arena::active() {
        return None;
    }
    // A full arena fails the request (the spawn then fails with an error naming the arena)
    // rather than falling back to a mapping per stack, which would use up the process's
    // mapping budget that malloc and thread stacks need too.
    Some(crate::sys::inside(|| arena::take(len)).unwrap_or_else(|| {
        crate::sys::set_errno(libc::ENOMEM);
        libc::MAP_FAILED
    }))
}

/// Whether `addr` lies in the arena (two loads).
#[inline]
pub fn owns(addr: *mut c_void) -> bool {
    arena::owns(addr as usize)
}

/// The arena's `mprotect`: the generator's guard request on a slot is already in force.
/// `None` for anything else (left to libc).
pub fn protect(addr: *mut c_void, len: usize, prot: i32) -> Option<i32> {
    (prot == libc::PROT_NONE && len == arena::PAGE && arena::is_slot_start(addr as usize))
        .then_some(0)
}

/// The arena's `munmap`: returns a slot to the free lists. `Err(errno)` for a range that is
/// not one whole slot (the arena's memory is left as it is).
pub fn unmap(addr: *mut c_void, len: usize) -> Result<(), i32> {
    crate::sys::inside(|| arena::give_back(addr as usize, len))
}

/// Records which green thread runs on the calling stack (for the overflow report). Called by
/// every green thread greenshim spawns, first thing; a no-op off the arena.
pub fn note_owner(id: u64, name: Option<&str>) {
    let probe = 0u8;
    arena::note_owner(std::ptr::addr_of!(probe) as usize, id, name);
}

/// The usable bounds `[bottom, top)` of the calling green thread's stack (above its guard
/// page), if the stack came from the arena.
pub fn current_stack() -> Option<(usize, usize)> {
    let probe = 0u8;
    arena::bounds_of(std::ptr::addr_of!(probe) as usize)
}

/// Re-arms the generator's overflow sentinel at the bottom of the calling stack (the word the
/// generator wrote there when it made the stack, read by [`note_owner`] as the green thread
/// started): a green thread that used its stack to the last word without overflowing is not
/// an overflow, and may would end the process for it. Called by every green thread greenshim
/// spawns, last thing.
pub fn rearm_sentinel() {
    let probe = 0u8;
    arena::rearm_sentinel(std::ptr::addr_of!(probe) as usize);
}
