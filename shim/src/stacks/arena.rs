//! The arena itself: chunks, slots, free lists and per-slot owner records.
//!
//! ```text
//!  chunk (one mapping, MAP_NORESERVE)   slot = the generator's request: its guard page + stack
//!  | G stack........... | G stack........... | G stack........... | ... carved in order
//!    ^ MADV_GUARD_INSTALL on the first page of each slot, once, when it is carved
//! ```
//!
//! The chunk table is append-only and lock-free to read (the `munmap` hook, the overflow
//! handler); the free lists sit behind one mutex, taken only by spawns and by finished green
//! threads whose stack may drops.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::Mode;
use crate::sys::real;

/// Page size (x86-64 and AArch64 Linux as configured here; checked at start-up).
pub(super) const PAGE: usize = 4096;
/// `madvise` advice that installs a guard region (Linux 6.13+).
const MADV_GUARD_INSTALL: i32 = 102;
/// `madvise` advice that faults pages in, writable (Linux 5.14+).
const MADV_POPULATE_WRITE: i32 = 23;
/// Bytes of address space each chunk aims at (its slot count is this over the slot length).
const CHUNK_BYTES: usize = 1 << 30;
/// Most chunks the table holds (with 1 GiB chunks: 4 TiB of stacks).
const MAX_CHUNKS: usize = 4096;
/// Bytes of a green thread's name kept for the overflow report.
const NAME_BYTES: usize = 39;
/// Words of the generator's overflow sentinel at the bottom of a stack that are re-armed
/// (generator `Stack::new` fills eight: words of `0xEE` bytes up to 0.8.11, `0xDEADBEEF` from
/// 0.8.12; may exits the process when the lowest one is found overwritten as the green thread
/// finishes). The value is copied from what the generator wrote, not assumed.
const SENTINEL_WORDS: usize = 8;
/// Slots trimmed (their pages returned to the kernel) together: one `process_madvise` call
/// for up to this many ranges. Per slot, `madvise(MADV_DONTNEED)` cost 15.9 µs on this
/// 2-vCPU machine with another thread of the process running (each call flushes the other
/// CPU's TLB by IPI), one vectored call 1.4 µs per slot (`benches/probes/madvise_cost.c`,
/// `spin` mode).
const TRIM_BATCH: usize = 1024;
/// How long a free slot beyond the warm size stays resident before the trimmer returns its
/// pages: a burst of spawns that follows a burst of exits within this time reuses the slots
/// without page faults (trimming at once made W1 thrash: 11 264 slots trimmed and faulted
/// back in per 100 000 spawns, 3.7 µs per spawn against 1.9 µs).
const DECAY: Duration = Duration::from_secs(1);
/// Slots carved (guards installed) together: one vectored call instead of one each (1.08 µs
/// against 0.63 µs per slot, same probe).
const CARVE_BATCH: usize = 64;
/// The kernel's limit on ranges per vectored call (`UIO_MAXIOV`).
const MAX_IOV: usize = 1024;

/// The generator's sentinel word (0: not seen yet), read from the bottom of the first stack a
/// green thread starts on: every stack of the process is filled with the same word.
static SENTINEL: AtomicUsize = AtomicUsize::new(0);

/// Who runs on a slot, for the overflow report (written by the owner, read by a signal
/// handler: atomics only).
struct Owner {
    id: AtomicU64,
    len: AtomicU8,
    name: [AtomicU8; NAME_BYTES],
}

impl Owner {
    const fn new() -> Self {
        Owner {
            id: AtomicU64::new(0),
            len: AtomicU8::new(0),
            name: [const { AtomicU8::new(0) }; NAME_BYTES],
        }
    }
}

/// One reservation, carved into slots of one length.
struct Chunk {
    base: AtomicUsize,
    slot_len: AtomicUsize,
    slots: AtomicUsize,
    owners: AtomicUsize, // *const Owner, `slots` of them, leaked
}

static CHUNKS: [Chunk; MAX_CHUNKS] = [const {
    Chunk {
        base: AtomicUsize::new(0),
        slot_len: AtomicUsize::new(0),
        slots: AtomicUsize::new(0),
        owners: AtomicUsize::new(0),
    }
}; MAX_CHUNKS];
static NCHUNKS: AtomicUsize = AtomicUsize::new(0);
/// Lowest and highest address of any chunk (a quick "not ours" for every `munmap`).
static LO: AtomicUsize = AtomicUsize::new(usize::MAX);
static HI: AtomicUsize = AtomicUsize::new(0);

/// 0 unset, 1 arena, 2 per-stack; and the reason of the per-stack mode.
static MODE: AtomicU8 = AtomicU8::new(0);
static REASON: Mutex<&'static str> = Mutex::new("");

/// Counters, as [`super::stats`] reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Stacks handed out in total.
    pub served: u64,
    /// Of those, served from the warm list (no system call, no page fault).
    pub warm_hits: u64,
    /// Of those, served from the cold list (no system call; first-touch faults).
    pub cold_hits: u64,
    /// Slots carved (one `madvise(MADV_GUARD_INSTALL)` each).
    pub carved: u64,
    /// Slots whose pages were returned to the kernel.
    pub trimmed: u64,
    /// Stack requests the arena could not serve (full, or out of address space); they went to
    /// libc.
    pub refused: u64,
    /// Slots in use now.
    pub in_use: usize,
    /// Free slots resident now (the warm size, plus slots freed less than a second ago).
    pub warm: usize,
    /// Free slots whose memory went back to the kernel.
    pub cold: usize,
    /// Chunks (kernel mappings) reserved.
    pub chunks: usize,
    /// Bytes of address space reserved.
    pub reserved: usize,
}

/// Free slots of one length.
struct Class {
    slot_len: usize,
    /// Resident free slots with the time each was freed, oldest first; reused newest first.
    warm: VecDeque<(usize, Instant)>,
    cold: Vec<usize>,
    /// Carved (guarded) slots never handed out yet.
    fresh: Vec<usize>,
    /// The chunk being carved and the next slot in it.
    carving: Option<(usize, usize)>,
}

struct State {
    classes: Vec<Class>,
    arena_bytes: usize,
    warm_bytes: usize,
    /// Bytes of the slots in the warm lists.
    warm_used: usize,
    /// Whether the trimmer thread runs.
    trimmer: bool,
    /// Whether it waits with nothing to do (and must be woken).
    trimmer_idle: bool,
    stats: Stats,
}

static STATE: Mutex<State> = Mutex::new(State {
    classes: Vec::new(),
    arena_bytes: 0,
    warm_bytes: 0,
    warm_used: 0,
    trimmer: false,
    trimmer_idle: false,
    stats: Stats {
        served: 0,
        warm_hits: 0,
        cold_hits: 0,
        carved: 0,
        trimmed: 0,
        refused: 0,
        in_use: 0,
        warm: 0,
        cold: 0,
        chunks: 0,
        reserved: 0,
    },
});

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn configure(arena_bytes: usize, warm_bytes: usize) -> Mode {
    let mode = if arena_bytes == 0 {
        Err("switched off (stack_arena = 0)")
    } else {
        probe_guard_regions()
    };
    {
        let mut s = state();
        s.arena_bytes = arena_bytes;
        s.warm_bytes = warm_bytes;
    }
    match mode {
        Ok(()) => {
            MODE.store(1, Ordering::Release);
            Mode::Arena
        }
        Err(why) => {
            *REASON.lock().unwrap_or_else(|e| e.into_inner()) = why;
            MODE.store(2, Ordering::Release);
            Mode::PerStack(why)
        }
    }
}

/// Whether the arena is in force (one load, for the `mmap` hook).
#[inline]
pub(super) fn active() -> bool {
    MODE.load(Ordering::Acquire) == 1
}

pub(super) fn mode() -> Mode {
    match MODE.load(Ordering::Acquire) {
        0 => Mode::Unset,
        1 => Mode::Arena,
        _ => Mode::PerStack(*REASON.lock().unwrap_or_else(|e| e.into_inner())),
    }
}

pub(super) fn stats() -> Stats {
    let s = state();
    let mut st = s.stats;
    st.warm = s.classes.iter().map(|c| c.warm.len()).sum();
    st.cold = s.classes.iter().map(|c| c.cold.len()).sum();
    st
}

/// Whether guard regions work here: the kernel accepts `MADV_GUARD_INSTALL` on a page of a
/// scratch mapping (kernels before 6.13 refuse the unknown advice with `EINVAL`). That the
/// guards then neither split the mapping nor stop faulting is what `tests/stack_arena.rs` and
/// `tests/stack_overflow.rs` check.
fn probe_guard_regions() -> Result<(), &'static str> {
    // SAFETY: sysconf has no preconditions.
    if unsafe { libc::sysconf(libc::_SC_PAGESIZE) } != PAGE as libc::c_long {
        return Err("the page size is not 4 KiB");
    }
    let len = 4 * PAGE;
    // SAFETY: a fresh anonymous private mapping, unmapped below.
    let p = unsafe {
        real::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err("a probe mapping failed");
    }
    // SAFETY: the second page of our own mapping.
    let r = unsafe { real::madvise(p.cast::<u8>().add(PAGE).cast(), PAGE, MADV_GUARD_INSTALL) };
    // SAFETY: our own mapping, whole.
    unsafe { real::munmap(p, len) };
    if r != 0 {
        return Err("the kernel has no guard regions (madvise MADV_GUARD_INSTALL, Linux 6.13+)");
    }
    Ok(())
}

#[inline]
pub(super) fn owns(addr: usize) -> bool {
    addr >= LO.load(Ordering::Acquire) && addr < HI.load(Ordering::Acquire)
}

/// The chunk index and slot index of `addr`, if it lies in a chunk.
fn locate(addr: usize) -> Option<(usize, usize)> {
    if !owns(addr) {
        return None;
    }
    let n = NCHUNKS.load(Ordering::Acquire);
    CHUNKS[..n].iter().enumerate().find_map(|(i, c)| {
        let base = c.base.load(Ordering::Acquire);
        let len = c.slot_len.load(Ordering::Relaxed);
        let slots = c.slots.load(Ordering::Relaxed);
        (addr >= base && addr < base + len * slots).then(|| (i, (addr - base) / len))
    })
}

fn slot_base(chunk: usize, slot: usize) -> usize {
    let c = &CHUNKS[chunk];
    c.base.load(Ordering::Acquire) + slot * c.slot_len.load(Ordering::Relaxed)
}

pub(super) fn is_slot_start(addr: usize) -> bool {
    locate(addr).is_some_and(|(c, s)| slot_base(c, s) == addr)
}

/// The owner record of the slot holding `addr`.
fn owner_of(addr: usize) -> Option<(&'static Owner, usize, usize)> {
    let (c, s) = locate(addr)?;
    let owners = CHUNKS[c].owners.load(Ordering::Acquire) as *const Owner;
    // SAFETY: `owners` points at the chunk's leaked array of `slots` records, and `s` is below
    // `slots` (checked by `locate`).
    let o = unsafe { &*owners.add(s) };
    Some((
        o,
        slot_base(c, s),
        CHUNKS[c].slot_len.load(Ordering::Relaxed),
    ))
}

pub(super) fn note_owner(sp: usize, id: u64, name: Option<&str>) {
    let Some((o, base, _)) = owner_of(sp) else {
        return;
    };
    if SENTINEL.load(Ordering::Relaxed) == 0 {
        // The generator filled the bottom words with its sentinel when it made the stack,
        // before the green thread ran: whatever the generator version's pattern is, it is this
        // word.
        // SAFETY: the lowest word of the calling green thread's own stack (above the guard
        // page), mapped and far below its live frames.
        let word = unsafe { std::ptr::read_volatile((base + PAGE) as *const usize) };
        SENTINEL.store(word, Ordering::Relaxed);
    }
    let bytes = name.unwrap_or("").as_bytes();
    let n = bytes.len().min(NAME_BYTES);
    for (dst, b) in o.name.iter().zip(&bytes[..n]) {
        dst.store(*b, Ordering::Relaxed);
    }
    o.len.store(n as u8, Ordering::Relaxed);
    o.id.store(id, Ordering::Release);
}

pub(super) fn bounds_of(addr: usize) -> Option<(usize, usize)> {
    let (_, base, len) = owner_of(addr)?;
    Some((base + PAGE, base + len))
}

pub(super) fn rearm_sentinel(sp: usize) {
    let Some((o, base, _)) = owner_of(sp) else {
        return;
    };
    let bottom = base + PAGE;
    // Far below the caller's frames (they are at the top of the stack, `sp` is above them).
    if sp < bottom + 2 * PAGE {
        return;
    }
    let word = SENTINEL.load(Ordering::Relaxed);
    for i in 0..SENTINEL_WORDS {
        // SAFETY: the lowest words of the calling green thread's own stack, far below its live
        // frames; nothing else uses them.
        unsafe { std::ptr::write_volatile((bottom as *mut usize).add(i), word) };
    }
    o.id.store(0, Ordering::Release);
}

/// What a guard-page fault at `addr` with stack pointer `sp` says: the overflowing green
/// thread's slot, when `addr` is in a slot's guard page and `sp` is in that slot or less than
/// 1 MiB below it (a frame that large moves `sp` past the guard before its stack probe
/// touches it); a fault with `sp` elsewhere is a stray pointer, not an overflow.
pub(super) struct Overflow {
    pub id: u64,
    pub name: [u8; NAME_BYTES],
    pub name_len: usize,
    pub stack_bytes: usize,
}

pub(super) fn overflow_at(addr: usize, sp: Option<usize>) -> Option<Overflow> {
    let (o, base, len) = owner_of(addr)?;
    if addr >= base + PAGE {
        return None;
    }
    if sp.is_some_and(|sp| sp + (1 << 20) < base || sp >= base + len) {
        return None;
    }
    let mut name = [0u8; NAME_BYTES];
    let name_len = usize::from(o.len.load(Ordering::Relaxed)).min(NAME_BYTES);
    let id = o.id.load(Ordering::Acquire);
    for (d, s) in name.iter_mut().zip(&o.name) {
        *d = s.load(Ordering::Relaxed);
    }
    Some(Overflow {
        id,
        name,
        name_len,
        stack_bytes: len - PAGE,
    })
}

/// A slot of `len` bytes (the generator's stack plus its guard page), or `None` when the
/// arena is off, full or out of address space.
pub(super) fn take(len: usize) -> Option<*mut libc::c_void> {
    if !active() || len < 2 * PAGE || !len.is_multiple_of(PAGE) {
        return None;
    }
    let mut s = state();
    let State {
        classes,
        stats,
        arena_bytes,
        warm_used,
        ..
    } = &mut *s;
    let class = match classes.iter().position(|c| c.slot_len == len) {
        Some(i) => &mut classes[i],
        None => {
            classes.push(Class {
                slot_len: len,
                warm: VecDeque::new(),
                cold: Vec::new(),
                fresh: Vec::new(),
                carving: None,
            });
            classes.last_mut()?
        }
    };
    let slot = if let Some((a, _)) = class.warm.pop_back() {
        *warm_used -= len;
        stats.warm_hits += 1;
        a
    } else if let Some(a) = class.cold.pop() {
        stats.cold_hits += 1;
        a
    } else if let Some(a) = class
        .fresh
        .pop()
        .or_else(|| carve(class, stats, *arena_bytes))
    {
        a
    } else {
        stats.refused += 1;
        return None;
    };
    stats.served += 1;
    stats.in_use += 1;
    Some(slot as *mut libc::c_void)
}

/// Carves the next batch of never-used slots of `class` (reserving a chunk when the current
/// one is used up), installs their guards, and returns one of them; the rest go to `fresh`.
fn carve(class: &mut Class, stats: &mut Stats, arena_bytes: usize) -> Option<usize> {
    let (chunk, next) = match class.carving {
        Some((c, n)) if n < CHUNKS[c].slots.load(Ordering::Relaxed) => (c, n),
        _ => (reserve_chunk(class.slot_len, stats, arena_bytes)?, 0),
    };
    let end = (next + CARVE_BATCH).min(CHUNKS[chunk].slots.load(Ordering::Relaxed));
    let guards: Vec<(usize, usize)> = (next..end).map(|i| (slot_base(chunk, i), PAGE)).collect();
    if !advise(&guards, MADV_GUARD_INSTALL) {
        return None;
    }
    // The two pages the generator writes when it sets a stack up (its sentinel at the bottom,
    // its bookkeeping at the top), faulted in together rather than one fault each.
    let touched: Vec<(usize, usize)> = guards
        .iter()
        .flat_map(|&(base, _)| [(base + PAGE, PAGE), (base + class.slot_len - PAGE, PAGE)])
        .collect();
    advise(&touched, MADV_POPULATE_WRITE);
    class.carving = Some((chunk, end));
    stats.carved += guards.len() as u64;
    // Handed out lowest address first.
    class.fresh.extend(guards.iter().skip(1).rev().map(|g| g.0));
    Some(guards[0].0)
}

/// Applies `advice` to every `(start, len)` range: one `process_madvise` call per
/// [`MAX_IOV`] ranges, or one `madvise` each where the kernel lacks the vectored call for this
/// advice. False if a range was refused.
fn advise(ranges: &[(usize, usize)], advice: i32) -> bool {
    let pidfd = self_pidfd();
    for part in ranges.chunks(MAX_IOV) {
        if pidfd >= 0 {
            let iov: Vec<libc::iovec> = part
                .iter()
                .map(|&(start, len)| libc::iovec {
                    iov_base: start as *mut libc::c_void,
                    iov_len: len,
                })
                .collect();
            let want: usize = part.iter().map(|r| r.1).sum();
            // SAFETY: `iov` lists ranges of the arena's own chunks; process_madvise reads it
            // and changes nothing else.
            let r = unsafe {
                real::syscall(
                    libc::SYS_process_madvise,
                    [
                        libc::c_long::from(pidfd),
                        iov.as_ptr() as libc::c_long,
                        iov.len() as libc::c_long,
                        libc::c_long::from(advice),
                        0,
                        0,
                    ],
                )
            };
            if usize::try_from(r).is_ok_and(|done| done == want) {
                continue;
            }
        }
        for &(start, len) in part {
            // SAFETY: a range of the arena's own chunks.
            if unsafe { real::madvise(start as *mut libc::c_void, len, advice) } != 0 {
                return false;
            }
        }
    }
    true
}

/// A pidfd of this process, for `process_madvise` (opened once; -1 if unavailable).
fn self_pidfd() -> i32 {
    static PIDFD: std::sync::OnceLock<i32> = std::sync::OnceLock::new();
    *PIDFD.get_or_init(|| {
        // SAFETY: pidfd_open takes a pid and flags; the fd it returns is close-on-exec.
        let fd = unsafe {
            real::syscall(
                libc::SYS_pidfd_open,
                [libc::c_long::from(libc::getpid()), 0, 0, 0, 0, 0],
            )
        };
        i32::try_from(fd).unwrap_or(-1)
    })
}

fn reserve_chunk(slot_len: usize, stats: &mut Stats, arena_bytes: usize) -> Option<usize> {
    let n = NCHUNKS.load(Ordering::Acquire);
    let slots = (CHUNK_BYTES / slot_len).max(1);
    let bytes = slots * slot_len;
    if n == MAX_CHUNKS || stats.reserved + bytes > arena_bytes {
        return None;
    }
    // SAFETY: a fresh anonymous mapping; `MAP_NORESERVE`: memory is committed page by page as
    // stacks touch it, not for the whole reservation.
    let p = unsafe {
        real::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return None;
    }
    let owners: Box<[Owner]> = (0..slots).map(|_| Owner::new()).collect();
    let c = &CHUNKS[n];
    c.slot_len.store(slot_len, Ordering::Relaxed);
    c.slots.store(slots, Ordering::Relaxed);
    c.owners
        .store(Box::leak(owners).as_ptr() as usize, Ordering::Release);
    c.base.store(p as usize, Ordering::Release);
    // Published last: readers scan only the first NCHUNKS entries.
    NCHUNKS.store(n + 1, Ordering::Release);
    LO.fetch_min(p as usize, Ordering::AcqRel);
    HI.fetch_max(p as usize + bytes, Ordering::AcqRel);
    stats.chunks += 1;
    stats.reserved += bytes;
    Some(n)
}

/// Returns the slot at `addr` (`len` bytes, as handed out) to the warm list; the trimmer
/// returns its pages to the kernel if it stays unused beyond the warm size for [`DECAY`].
pub(super) fn give_back(addr: usize, len: usize) -> Result<(), i32> {
    let Some((c, s)) = locate(addr) else {
        return Err(libc::EINVAL);
    };
    if slot_base(c, s) != addr || CHUNKS[c].slot_len.load(Ordering::Relaxed) != len {
        debug_assert!(false, "munmap of a partial arena slot at {addr:#x}+{len}");
        return Err(libc::EINVAL);
    }
    let mut st = state();
    let Some(class) = st.classes.iter_mut().find(|k| k.slot_len == len) else {
        return Err(libc::EINVAL);
    };
    class.warm.push_back((addr, Instant::now()));
    st.warm_used += len;
    st.stats.in_use -= 1;
    if st.warm_used > st.warm_bytes {
        if !st.trimmer {
            st.trimmer = start_trimmer();
        }
        // A trimmer in a timed wait looks again by itself; only an idle one needs waking (once
        // per burst of frees, not once per free).
        if st.trimmer_idle {
            st.trimmer_idle = false;
            TRIM_WAKE.notify_one();
        }
    }
    Ok(())
}

static TRIM_WAKE: Condvar = Condvar::new();

/// Starts the thread that returns long-unused free slots to the kernel (off the workers:
/// `madvise` flushes every CPU's TLB).
fn start_trimmer() -> bool {
    std::thread::Builder::new()
        .name("greenshim-stacks".into())
        .spawn(|| {
            loop {
                let (batch, len) = next_trim_batch();
                let n = trim(batch.clone(), len);
                let mut st = state();
                st.stats.trimmed += n;
                if let Some(class) = st.classes.iter_mut().find(|k| k.slot_len == len) {
                    class.cold.extend(batch);
                }
            }
        })
        .is_ok()
}

/// Waits until some class has free slots beyond the warm size that have been unused for
/// [`DECAY`], and takes up to [`TRIM_BATCH`] of them (oldest first) out of the warm list,
/// with those unused for half as long: one pass per half second of frees, not one per slot.
fn next_trim_batch() -> (Vec<usize>, usize) {
    let mut st = state();
    loop {
        let now = Instant::now();
        let mut wait = DECAY;
        if st.warm_used > st.warm_bytes {
            let State {
                classes,
                warm_used,
                warm_bytes,
                ..
            } = &mut *st;
            for class in classes.iter_mut() {
                if class
                    .warm
                    .front()
                    .is_some_and(|&(_, at)| now.duration_since(at) < DECAY)
                {
                    let at = class.warm.front().map_or(now, |f| f.1);
                    wait = wait.min(DECAY - now.duration_since(at));
                    continue;
                }
                let mut batch = Vec::new();
                while *warm_used > *warm_bytes && batch.len() < TRIM_BATCH {
                    match class.warm.front() {
                        Some(&(a, at)) if now.duration_since(at) >= DECAY / 2 => {
                            class.warm.pop_front();
                            *warm_used -= class.slot_len;
                            batch.push(a);
                        }
                        _ => break,
                    }
                }
                if !batch.is_empty() {
                    return (batch, class.slot_len);
                }
            }
            st = TRIM_WAKE
                .wait_timeout(st, wait + Duration::from_millis(1))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        } else {
            st.trimmer_idle = true;
            st = TRIM_WAKE.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Returns the pages of `slots` (each `len` bytes) to the kernel, neighbours merged into one
/// range. The guards stay installed (`MADV_DONTNEED` keeps guard markers).
fn trim(mut slots: Vec<usize>, len: usize) -> u64 {
    slots.sort_unstable();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for &start in &slots {
        match ranges.last_mut() {
            Some((s, l)) if *s + *l == start => *l += len,
            _ => ranges.push((start, len)),
        }
    }
    advise(&ranges, libc::MADV_DONTNEED);
    slots.len() as u64
}
