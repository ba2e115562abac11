//! greenshim's timer: one OS thread with a binary heap of deadlines.
//!
//! may runs a coroutine woken by *its* timer directly on its single timer thread, until that
//! coroutine next blocks, so one green thread that computes after a `sleep` delays every other
//! timer (reference/may.md §5). greenshim's timer never runs green-thread code: on expiry it
//! hands the green thread to the dispatcher ([`crate::park::waker`]), which queues it on the
//! first idle worker, or it posts an interrupt, which does the same.
//!
//! Cancellation is synchronous: once [`TimerHandle::cancel`] returns, the action has either run
//! completely or will never run. An entry moves `PENDING -> FIRING -> FIRED` on the timer thread
//! or `PENDING -> CANCELLED` in `cancel`; a cancel that finds `FIRING` waits for `FIRED`.
//! Cancelled entries stay in the heap until they reach its top, or until they outnumber the live
//! ones, when the heap is compacted.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::park::context::{Context, Interrupt};
use crate::park::waker::Waker;

const PENDING: u8 = 0;
const FIRING: u8 = 1;
const FIRED: u8 = 2;
const CANCELLED: u8 = 3;
/// Compact the heap only when at least this many cancelled entries could be dropped.
const COMPACT_MIN: usize = 1024;

/// What a timer does when it expires.
#[derive(Debug)]
pub enum Action {
    /// Wake a parked green thread or OS thread.
    Wake(Waker),
    /// Post an interrupt to a context (and wake it).
    Interrupt(Arc<Context>, Interrupt),
}

#[derive(Debug)]
struct Entry {
    state: AtomicU8,
    action: Action,
}

impl Entry {
    /// Runs the action unless the entry was cancelled. Wake-ups are collected in `wakes` and
    /// delivered in one batch by the dispatcher; an interrupt is posted here, synchronously, so
    /// that a cancel that returns `false` knows the interrupt is already in the slot.
    fn fire(&self, wakes: &mut Vec<Waker>) {
        if self
            .state
            .compare_exchange(PENDING, FIRING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            match &self.action {
                Action::Wake(w) => wakes.push(w.clone()),
                Action::Interrupt(ctx, what) => {
                    if let Some(w) = ctx.post(*what) {
                        wakes.push(w);
                    }
                }
            }
            self.state.store(FIRED, Ordering::Release);
            FIRED_COUNT.fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct Item {
    at: Instant,
    seq: u64,
    entry: Arc<Entry>,
}

impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Item {
    /// Reversed, so that `BinaryHeap` (a max-heap) yields the earliest deadline first.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

struct Heap {
    items: BinaryHeap<Item>,
    next_seq: u64,
    /// The timer thread is waiting on the condvar (not firing).
    sleeping: bool,
    /// The reactor started watching fds: run the sysmon now (it then schedules itself).
    sysmon_poked: bool,
    /// The deadline the sleeping timer thread will wake for; `None` means no deadline.
    wake_at: Option<Instant>,
}

struct Timer {
    heap: Mutex<Heap>,
    cond: Condvar,
}

static TIMER: OnceLock<&'static Timer> = OnceLock::new();
static CANCELLED_COUNT: AtomicUsize = AtomicUsize::new(0);
static FIRED_COUNT: AtomicU64 = AtomicU64::new(0);

fn timer() -> &'static Timer {
    TIMER.get_or_init(|| {
        let t: &'static Timer = Box::leak(Box::new(Timer {
            heap: Mutex::new(Heap {
                items: BinaryHeap::new(),
                next_seq: 0,
                sleeping: false,
                sysmon_poked: false,
                wake_at: None,
            }),
            cond: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("greenshim-timer".into())
            .spawn(move || t.run())
            .expect("greenshim: cannot start the timer thread");
        t
    })
}

/// The sysmon's check, run on the timer thread: returns when to run it next, or `None` while
/// it has nothing to watch (pushed down by the runtime; see `fd::reactor::sysmon_tick`).
static SYSMON: OnceLock<fn() -> Option<Duration>> = OnceLock::new();

/// Installs the sysmon check the timer thread runs (the runtime does, once). `poke` runs it
/// at once.
pub fn set_sysmon(tick: fn() -> Option<Duration>) {
    let _ = SYSMON.set(tick);
}

impl Timer {
    fn lock(&self) -> MutexGuard<'_, Heap> {
        self.heap.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run(&self) {
        let mut due = Vec::new();
        let mut wakes = Vec::new();
        let mut sysmon_at: Option<Instant> = None;
        let mut heap = self.lock();
        loop {
            let mut now = Instant::now();
            if heap.sysmon_poked || sysmon_at.is_some_and(|at| at <= now) {
                heap.sysmon_poked = false;
                drop(heap);
                sysmon_at = SYSMON
                    .get()
                    .and_then(|tick| tick())
                    .map(|period| now + period);
                heap = self.lock();
                now = Instant::now();
            }
            while heap.items.peek().is_some_and(|top| top.at <= now) {
                if let Some(item) = heap.items.pop() {
                    due.push(item.entry);
                }
            }
            if !due.is_empty() {
                drop(heap);
                for entry in due.drain(..) {
                    entry.fire(&mut wakes);
                }
                crate::park::waker::wake_batch(&mut wakes);
                heap = self.lock();
                continue;
            }
            let next = match (heap.items.peek().map(|top| top.at), sysmon_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            heap.sleeping = true;
            heap.wake_at = next;
            heap = match next {
                Some(at) => {
                    self.cond
                        .wait_timeout(heap, at - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.cond.wait(heap).unwrap_or_else(|e| e.into_inner()),
            };
            heap.sleeping = false;
        }
    }
}

/// A scheduled timer; dropping it does *not* cancel it.
#[derive(Debug)]
#[must_use = "a timer that is never cancelled fires even if nobody waits any more"]
pub struct TimerHandle(Arc<Entry>);

impl TimerHandle {
    /// Cancels the timer. Returns true if it had not fired; false if its action already ran
    /// (completely: a cancel racing with the firing waits for it to finish).
    pub fn cancel(self) -> bool {
        match self
            .0
            .state
            .compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                CANCELLED_COUNT.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(FIRING) => {
                while self.0.state.load(Ordering::Acquire) == FIRING {
                    std::hint::spin_loop();
                }
                false
            }
            Err(_) => false,
        }
    }
}

/// Schedules `action` at `at`.
pub fn add(at: Instant, action: Action) -> TimerHandle {
    let t = timer();
    let entry = Arc::new(Entry {
        state: AtomicU8::new(PENDING),
        action,
    });
    let mut heap = t.lock();
    let cancelled = CANCELLED_COUNT.load(Ordering::Relaxed);
    if cancelled >= COMPACT_MIN && cancelled > heap.items.len() / 2 {
        heap.items
            .retain(|item| item.entry.state.load(Ordering::Acquire) == PENDING);
        CANCELLED_COUNT.store(0, Ordering::Relaxed);
    }
    let seq = heap.next_seq;
    heap.next_seq += 1;
    heap.items.push(Item {
        at,
        seq,
        entry: entry.clone(),
    });
    if heap.sleeping && heap.wake_at.is_none_or(|w| at < w) {
        heap.wake_at = Some(at);
        t.cond.notify_one();
    }
    TimerHandle(entry)
}

/// Starts the sysmon's periodic checks: the reactor calls this when it starts watching fds.
/// The checks stop by themselves when no fd is watched any more.
pub(crate) fn poke() {
    let t = timer();
    let mut heap = t.lock();
    heap.sysmon_poked = true;
    if heap.sleeping {
        t.cond.notify_one();
    }
}

/// Number of timers that have fired since start-up.
pub fn fired_count() -> u64 {
    FIRED_COUNT.load(Ordering::Relaxed)
}
