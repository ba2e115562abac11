//! The park primitive: the one place where greenshim waits.
//!
//! [`park`] suspends the caller until something wakes it, its deadline passes, or it is
//! interrupted. On a green thread it parks the coroutine (may's `park`, which the worker treats
//! as "run something else"); on a plain OS thread it blocks in `std::thread::park`. Either way the
//! pending-interrupt slot of the caller's [`Context`] is checked before parking and after every
//! wake-up, so kill and timeouts reach a waiting green thread at once.
//!
//! Deadlines of green threads go to greenshim's [`crate::park::timer`], never to may's timer.
//!
//! Wake-ups may be spurious (a stale unpark, a timer that fired as the waiter woke anyway):
//! callers loop on their own condition; [`wait_until`] is that loop.
//!
//! **Floor 3.** This folder is the park floor: [`waker`] (what wakes a waiter, and the
//! dispatcher for wake-ups from other threads), [`which`] (is the caller a green thread),
//! [`context`] (per-green-thread state and the registry of live ones), [`wait`] (what a
//! parked green thread waits on), [`timer`], this park primitive, and what is built on it
//! ([`waitqueue`], [`lock`]). It may import `sys` and `trace`; the reactor kick and the sysmon
//! check reach it as functions the runtime installs.

pub mod context;
pub mod lock;
pub mod timer;
pub mod wait;
pub mod waitqueue;
pub mod waker;
pub mod wakeups;
pub mod which;

pub use waker::{ThreadWaker, Waker};

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use self::context::{Context, Interrupt};
use crate::park::wait::WaitOn;
use crate::trace;

/// How a park ended, when it was not interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wakeup {
    /// Something woke the caller (possibly spuriously).
    Unparked,
    /// The deadline has passed.
    TimedOut,
}

static GREEN_PARKS: AtomicU64 = AtomicU64::new(0);
static THREAD_PARKS: AtomicU64 = AtomicU64::new(0);

/// Counters of the park primitive since start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParkStats {
    /// Times a green thread parked (its worker went on to run other green threads).
    pub green_parks: u64,
    /// Times a plain OS thread blocked in the park primitive.
    pub thread_parks: u64,
    /// Timers that fired.
    pub timers_fired: u64,
    /// Waits of green threads left to the kernel, blocking their worker, because they were
    /// made inside another runtime's state (tokio's `block_on`) or in an event loop greenshim
    /// did not create (see `which::set_foreign_state_probe`).
    pub foreign_waits: u64,
    /// Times a green thread used up its budget ([`BUDGET_PER_TURN`] operations without
    /// parking) and yielded.
    pub budget_yields: u64,
}

/// The park counters.
pub fn stats() -> ParkStats {
    ParkStats {
        green_parks: GREEN_PARKS.load(Ordering::Relaxed),
        thread_parks: THREAD_PARKS.load(Ordering::Relaxed),
        timers_fired: timer::fired_count(),
        budget_yields: BUDGET_YIELDS.load(Ordering::Relaxed),
        foreign_waits: which::foreign_waits(),
    }
}

/// Parks the caller until it is woken, `deadline` passes, or an interrupt is pending.
///
/// # Errors
/// The pending interrupt, if there is one before or after the park. The interrupt stays
/// pending; the caller usually [`raise`](Interrupt::raise)s it.
pub fn park(deadline: Option<Instant>) -> Result<Wakeup, Interrupt> {
    park_in(&context::current(), deadline)
}

/// [`park`] for a caller that already holds its own context.
///
/// # Errors
/// As [`park`].
pub fn park_in(ctx: &Context, deadline: Option<Instant>) -> Result<Wakeup, Interrupt> {
    if let Some(i) = ctx.pending() {
        return Err(i);
    }
    if deadline.is_some_and(|d| d <= Instant::now()) {
        return Ok(Wakeup::TimedOut);
    }
    park_once(ctx, deadline);
    if let Some(i) = ctx.pending() {
        return Err(i);
    }
    Ok(woke_how(deadline))
}

/// [`park_in`] for waits that must finish even while an interrupt is pending: a destructor
/// that takes a lock while its green thread unwinds from a kill. Only the deadline or a
/// wake-up ends it.
pub fn park_uninterruptible_in(ctx: &Context, deadline: Option<Instant>) -> Wakeup {
    if deadline.is_some_and(|d| d <= Instant::now()) {
        return Wakeup::TimedOut;
    }
    park_once(ctx, deadline);
    woke_how(deadline)
}

fn park_once(ctx: &Context, deadline: Option<Instant>) {
    match ctx.waker() {
        Some(Waker::Green(_)) if ctx.is_green() => park_green(ctx, deadline),
        _ => park_thread(deadline),
    }
}

fn woke_how(deadline: Option<Instant>) -> Wakeup {
    if deadline.is_some_and(|d| d <= Instant::now()) {
        Wakeup::TimedOut
    } else {
        Wakeup::Unparked
    }
}

fn park_green(ctx: &Context, deadline: Option<Instant>) {
    let timer = deadline
        .zip(ctx.waker())
        .map(|(d, w)| timer::add(d, timer::Action::Wake(w.clone())));
    park_coroutine(ctx, deadline);
    if let Some(t) = timer {
        t.cancel();
    }
}

fn park_thread(deadline: Option<Instant>) {
    THREAD_PARKS.fetch_add(1, Ordering::Relaxed);
    match deadline {
        None => std::thread::park(),
        Some(d) => std::thread::park_timeout(d.saturating_duration_since(Instant::now())),
    }
}

/// Parks until `ready()` is true or `deadline` passes. Returns the last value of `ready()`.
///
/// # Errors
/// A pending interrupt.
pub fn wait_until(
    deadline: Option<Instant>,
    mut ready: impl FnMut() -> bool,
) -> Result<bool, Interrupt> {
    let ctx = context::current();
    loop {
        if ready() {
            return Ok(true);
        }
        if park_in(&ctx, deadline)? == Wakeup::TimedOut {
            return Ok(ready());
        }
    }
}

/// Sleeps until `deadline`.
///
/// # Errors
/// A pending interrupt.
pub fn sleep_until(deadline: Instant) -> Result<(), Interrupt> {
    let ctx = context::current();
    let _on = ctx.waiting(WaitOn::Sleep);
    while park_in(&ctx, Some(deadline))? != Wakeup::TimedOut {}
    Ok(())
}

/// Lets other green threads run (on a plain thread: `std::thread::yield_now`). A yield is a park
/// point: a pending interrupt is reported before and after it.
///
/// # Errors
/// A pending interrupt.
pub fn yield_now() -> Result<(), Interrupt> {
    let ctx = context::current();
    if let Some(i) = ctx.pending() {
        return Err(i);
    }
    if context::on_green_thread() {
        yield_green(&ctx);
    } else {
        std::thread::yield_now();
    }
    ctx.pending().map_or(Ok(()), Err)
}

/// How many yields on a worker in a row use may's cheap local yield before one goes through
/// [`fair_yield`]. A fair yield costs a park and a dispatcher round trip (6.6 µs against
/// 0.18 µs for a local one: `cargo bench --bench hooks`, a patched `nanosleep(0)` on a green
/// thread, when every yield was fair); one in 16 bounds how long the worker's epoll waits (16
/// yields of every green thread spinning there, each yield 128 budget operations apart at
/// most) at a fraction of that cost.
const FAIR_EVERY: u32 = 16;

crate::os_local! {
    /// Local yields on this worker since its last fair one.
    static LOCAL_YIELDS: u32 = 0;
}

/// A green thread's yield: may's local one, or every [`FAIR_EVERY`]th on this worker a
/// [`fair_yield`].
fn yield_green(ctx: &Context) {
    let n = LOCAL_YIELDS.get() + 1;
    if n >= FAIR_EVERY {
        LOCAL_YIELDS.set(0);
        fair_yield(ctx);
    } else {
        LOCAL_YIELDS.set(n);
        green_yield();
    }
}

/// A yield after which every other runnable green thread runs first, including those queued
/// from other threads. may's own yield puts the caller back on its worker's local queue, and a
/// worker polls its epoll (fd events, and the dispatcher's kicks for green threads spawned or
/// woken from plain threads) only when the local one is empty: a green thread yielding in a
/// loop would starve those forever (seen: a green thread spinning on `OnceLock::get` never let
/// the publisher spawned by a plain thread run). So this one parks and queues its own wake-up
/// with the dispatcher, whose batch the worker's reactor collects once the worker has nothing
/// else to run, as Go's `Gosched` puts the goroutine on the global run queue. Costs a park and
/// a dispatcher wake.
fn fair_yield(ctx: &Context) {
    waker::wake_green(may::coroutine::current());
    // Returns when the dispatcher unparks it (at once if that already happened).
    park_coroutine(ctx, None);
}

/// [`yield_before_park`] for a caller that has just found it runs on a green thread
/// ([`context::on_green_thread`]): skips asking again.
#[inline]
pub fn yield_green_before_park() {
    green_yield();
}

/// Lets the green threads queued on this worker run once, without looking at the interrupt
/// slot (the park that usually follows does). A waiter calls it once before it queues and
/// parks: the partner of a request/reply exchange is usually queued on the same worker, and
/// if it answers meanwhile the exchange costs no park and no wake-up. Does nothing on a plain
/// thread.
#[inline]
pub fn yield_before_park() {
    if context::on_green_thread() {
        green_yield();
    }
}

/// may's park of the running green thread, counted, with its parked state (and `deadline`, for
/// diagnostics) and the worker's switch record kept (see [`monitor`]).
fn park_coroutine(ctx: &Context, deadline: Option<Instant>) {
    debug_assert!(
        crate::sys::pass::may_park(),
        "greenshim: a green thread parked where it must not (inside greenshim's own libc \
         calls, a silenced spawn, or a DNS hand-off)"
    );
    GREEN_PARKS.fetch_add(1, Ordering::Relaxed);
    ctx.note_parked(deadline);
    trace::switch_out();
    may::coroutine::park();
    resumed(ctx.id());
    ctx.note_running();
}

/// The green thread `id` runs again after a park or a yield: the worker's switch record says
/// so, and its budget is full again.
#[inline]
fn resumed(id: u64) {
    trace::switch_in(id)
        .budget
        .store(BUDGET_PER_TURN, Ordering::Relaxed);
}

/// may's yield, with the worker's switch record kept (see [`monitor`]).
#[inline]
fn green_yield() {
    debug_assert!(
        crate::sys::pass::may_park(),
        "greenshim: a green thread yielded where it must not park"
    );
    let id = trace::switch_out();
    may::coroutine::yield_now();
    resumed(id);
}

/// Operations of greenshim's API a green thread may complete without parking before it yields
/// (tokio's cooperative budget has the same size). A green thread that never parks holds its
/// worker: one that spins on `OnceLock::get` until another publishes, or sends on an unbounded
/// channel in a loop, would starve the very green threads it waits for or wakes.
pub const BUDGET_PER_TURN: u32 = 128;

static BUDGET_YIELDS: AtomicU64 = AtomicU64::new(0);

/// Spends one unit of the running green thread's budget: called by greenshim's operations that
/// complete without parking (a lock taken, a message sent or received, an fd ready). At zero it
/// yields, so the worker's other green threads run; a pending interrupt is left for the next
/// park. Does nothing on a plain thread.
///
/// The budget lives in the worker's switch record (`trace::Slot::budget`), at hand at every
/// switch: refilled whenever a green thread resumes (after a park or a yield); a new green
/// thread starts with what is left, which only makes its first yield come earlier. A thread
/// without a record (not a worker) has no budget.
#[inline]
pub fn spend() {
    let Some(slot) = trace::existing_slot() else {
        return;
    };
    let left = slot.budget.load(Ordering::Relaxed);
    if left > 1 {
        slot.budget.store(left - 1, Ordering::Relaxed);
        return;
    }
    slot.budget.store(BUDGET_PER_TURN, Ordering::Relaxed);
    if context::on_green_thread() {
        BUDGET_YIELDS.fetch_add(1, Ordering::Relaxed);
        yield_green(&context::current());
    }
}

/// Parks without looking at the interrupt slot, for waits that must not be cut short (a scope
/// waiting for the green threads that borrow its stack). Spurious returns are possible.
pub fn park_ignoring_interrupts() {
    if context::on_green_thread() {
        park_coroutine(&context::current(), None);
    } else {
        THREAD_PARKS.fetch_add(1, Ordering::Relaxed);
        std::thread::park();
    }
}
