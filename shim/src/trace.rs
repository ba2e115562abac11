//! The ground floor: each worker OS thread's switch record, and the mark a green thread leaves
//! while it is inside a libc call. Built from std alone (and [`crate::oslocal`]), so that
//! every floor above (the libc table in `sys` included) can write to it without reaching
//! upward.
//!
//! **Worker slots.** Every worker OS thread has a slot holding the id of the green thread it is
//! running (0 when it is between green threads) and a switch counter. The park primitive
//! updates it on every switch: two relaxed stores by the owning thread, no clock read. The
//! blocking detector samples the slots; a slot whose counter has not moved for
//! `max_blocking_time` while a green thread is in it is a worker that one green thread has held
//! without parking.
//!
//! **libc calls.** While the blocking detector is on ([`set_marking`]), every real libc call
//! made on a worker records the function's name in the slot for its duration, so a report can
//! say "blocked in `read`". With the detector off a libc call costs one relaxed load here. The
//! one mark taken regardless ([`in_libc_always`]) is a futex wait that blocks the worker, which
//! the deadlock check reads. Neither locks nor allocates: a thread without a slot (not a
//! worker) records nothing.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

/// The name under which a green thread's futex wait on per-OS-thread state (`thread::park`,
/// parking_lot's thread data), left to the kernel, shows as its libc call.
pub const THREAD_BOUND_FUTEX_WAIT: &str = "futex wait on per-OS-thread state (blocks the worker)";

/// The name under which a wait in an event loop greenshim did not create (`epoll_wait` on an
/// epoll of tokio's, mio's, libuv's, ...) shows as its libc call: it blocks the worker.
pub const FOREIGN_LOOP_WAIT: &str =
    "epoll_wait of an event loop greenshim did not create (blocks the worker)";

/// One worker OS thread's switch record.
#[derive(Debug)]
pub struct Slot {
    /// The worker's position in slot order (first switch first).
    pub index: usize,
    /// The worker's kernel thread id.
    pub tid: i32,
    /// Id of the green thread running on it; 0 between green threads.
    pub current: AtomicU64,
    /// Bumped on every switch (written by the owning thread only).
    pub switches: AtomicU64,
    /// The libc function the running green thread is inside, or null.
    libc: AtomicPtr<&'static str>,
    /// What the running green thread has left of its cooperative budget (the park module's;
    /// kept here because the slot is at hand at every switch). Owner-written only.
    pub budget: AtomicU32,
    /// Set while the running green thread waits on the worker's std parker with no deadline of
    /// its own: the kernel wait has a timeout (the wait runs in slices), but only another
    /// thread's unpark ends it for good. Owner-written only.
    pub untimed_park: AtomicBool,
}

static SLOTS: Mutex<Vec<&'static Slot>> = Mutex::new(Vec::new());
static MARKING: AtomicBool = AtomicBool::new(false);

crate::os_local! {
    static SLOT: Option<&'static Slot> = None;
}

/// The calling thread's kernel id, read through std (this floor calls no libc itself):
/// `/proc/thread-self` links to `<pid>/task/<tid>`. Read once per worker.
fn gettid() -> i32 {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str()?.parse().ok())
        .unwrap_or(0)
}

/// This OS thread's slot, created on first use.
#[inline]
fn slot() -> &'static Slot {
    SLOT.get().unwrap_or_else(new_slot)
}

/// Creates this OS thread's slot.
#[cold]
#[inline(never)]
fn new_slot() -> &'static Slot {
    let tid = gettid();
    let mut all = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    let new: &'static Slot = Box::leak(Box::new(Slot {
        index: all.len(),
        tid,
        current: AtomicU64::new(0),
        switches: AtomicU64::new(0),
        libc: AtomicPtr::new(std::ptr::null_mut()),
        budget: AtomicU32::new(0),
        untimed_park: AtomicBool::new(false),
    }));
    all.push(new);
    SLOT.set(Some(new));
    new
}

/// This OS thread's slot, created on first use (for a worker to hand out its own record).
pub fn own_slot() -> &'static Slot {
    slot()
}

/// This OS thread's slot if it has one (it is a worker that ran a green thread).
#[inline]
pub fn existing_slot() -> Option<&'static Slot> {
    SLOT.get()
}

impl Slot {
    /// The libc function the running green thread is inside, if any.
    pub fn libc_call(&self) -> Option<&'static str> {
        let p = self.libc.load(Ordering::Relaxed);
        // SAFETY: a non-null pointer in a slot points to a `&'static str` static (`in_libc`).
        (!p.is_null()).then(|| unsafe { *p })
    }
}

fn bump(s: &Slot) {
    // Only the owning thread writes the counter: a load and a store, no read-modify-write.
    s.switches
        .store(s.switches.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

/// The green thread `id` starts or resumes running on this worker. Called on green threads
/// only.
#[inline]
pub fn switch_in(id: u64) -> &'static Slot {
    let s = slot();
    s.current.store(id, Ordering::Relaxed);
    bump(s);
    s
}

/// Whether this OS thread is running a green thread now (async-signal-safe: it reads the
/// thread's slot without creating one).
#[inline]
pub fn running_green() -> bool {
    SLOT.get()
        .is_some_and(|s| s.current.load(Ordering::Relaxed) != 0)
}

/// The running green thread is about to park, yield or finish; returns its id (for the
/// matching [`switch_in`]). Called on green threads only.
#[inline]
pub fn switch_out() -> u64 {
    let s = slot();
    let id = s.current.load(Ordering::Relaxed);
    s.current.store(0, Ordering::Relaxed);
    bump(s);
    id
}

/// Marks the calling green thread as inside libc's `name` until the mark is dropped.
#[derive(Debug)]
pub struct LibcMark(Option<&'static Slot>);

impl Drop for LibcMark {
    #[inline]
    fn drop(&mut self) {
        if let Some(s) = self.0 {
            s.libc.store(std::ptr::null_mut(), Ordering::Relaxed);
        }
    }
}

/// Records that the caller enters libc's `name`, while marking is on (the blocking detector
/// turns it on); a no-op off workers.
#[inline]
pub fn in_libc(name: &'static &'static str) -> LibcMark {
    if !MARKING.load(Ordering::Relaxed) {
        return LibcMark(None);
    }
    in_libc_always(name)
}

/// [`in_libc`] whether or not marking is on (for waits the deadlock check must see).
#[inline]
pub fn in_libc_always(name: &'static &'static str) -> LibcMark {
    let Some(s) = existing_slot() else {
        return LibcMark(None);
    };
    if s.current.load(Ordering::Relaxed) == 0 {
        return LibcMark(None); // the worker's own code, between green threads
    }
    s.libc
        .store(std::ptr::from_ref(name).cast_mut(), Ordering::Relaxed);
    LibcMark(Some(s))
}

/// Turns the libc-call marks of [`in_libc`] on or off.
pub fn set_marking(on: bool) {
    MARKING.store(on, Ordering::Relaxed);
}

/// Every worker slot so far.
pub fn slots() -> Vec<&'static Slot> {
    SLOTS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}
