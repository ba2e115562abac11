//! Waking: [`Waker`], what wakes one parked green thread or OS thread, and the dispatcher.
//!
//! **Dispatch.** `Coroutine::unpark` from a thread that is not a may worker pushes the
//! coroutine onto a worker's *global* queue, round robin. A worker only drains its global
//! queue between green threads, and work stealing only takes from *local* queues, so a green
//! thread woken onto the queue of a worker that is computing waits for that computation to end
//! (300 ms of CPU after a sleep delayed half of all other timers by up to 300 ms in the
//! timer-fairness test).
//!
//! The dispatcher avoids the round robin. Wake-ups from non-worker threads (the timer, the
//! offload pool, plain threads) go into one shared batch, and the reactor of one idle worker
//! is kicked through an eventfd in its epoll (every worker's, when none is idle; none, while
//! a reactor lingers through a burst of such wake-ups, see the fd floor's `linger`). The
//! reactor takes the whole batch and unparks it from inside the worker: woken green threads
//! land on its local queue, where the other idle workers can steal them. A green thread
//! spawned from such a thread goes the same way: greenshim's spawn runs it up to a first park
//! on the spawning thread, then wakes it (`src/greenlet/spawn.rs`).
//!
//! ```text
//!  timer thread                    worker j (idle)                  worker k (busy)
//!  ------------                    ---------------                  ---------------
//!  push onto READY
//!  kick[j].notify() ------------> epoll: reactor j runnable      (not kicked: busy)
//!                                  reactor j: take READY,
//!                                  unpark each -> local queue j
//!                                  (other idle workers steal)
//! ```

use std::io;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, OnceLock};

use super::which::on_green_thread;
use crate::sys::EventFd;

/// Wakes one parked green thread or OS thread. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Waker {
    /// A green thread.
    Green(may::coroutine::Coroutine),
    /// A plain OS thread.
    Thread(Arc<ThreadWaker>),
}

/// What wakes a plain OS thread: `Thread::unpark` for the park primitive, plus an eventfd for a
/// thread blocked in `poll(2)` on an fd (created the first time the thread waits on an fd).
#[derive(Debug)]
pub struct ThreadWaker {
    thread: std::thread::Thread,
    poll_wake: OnceLock<EventFd>,
}

impl ThreadWaker {
    /// The eventfd that [`Waker::wake`] signals, for a `poll(2)` that must also return when the
    /// thread is woken (an interrupt, or the fd being closed by greenshim).
    pub fn poll_wake_fd(&self) -> io::Result<&EventFd> {
        if let Some(fd) = self.poll_wake.get() {
            return Ok(fd);
        }
        let fd = EventFd::new()?;
        Ok(self.poll_wake.get_or_init(|| fd))
    }
}

crate::os_local_ref! {
    static THREAD_WAKER: Arc<ThreadWaker> = Arc::new(ThreadWaker {
        thread: std::thread::current(),
        poll_wake: OnceLock::new(),
    });
}

impl Waker {
    /// The waker of the running code.
    pub fn current() -> Waker {
        if on_green_thread() {
            Self::current_green()
        } else {
            Self::current_thread()
        }
    }

    pub(crate) fn current_green() -> Waker {
        Waker::Green(may::coroutine::current())
    }

    pub(crate) fn current_thread() -> Waker {
        Waker::Thread(THREAD_WAKER.with(Arc::clone))
    }

    /// Wakes the target. Waking a target that is not parked makes its next park return at once.
    /// From a green thread, the woken green thread joins that worker's queue; from any other
    /// thread it goes through the dispatcher, which hands it to the first idle worker (it never
    /// runs on the caller's thread).
    pub fn wake(&self) {
        match self {
            Waker::Green(co) if on_green_thread() => co.unpark(),
            Waker::Green(co) => wake_green(co.clone()),
            Waker::Thread(t) => t.wake(),
        }
    }
}

impl ThreadWaker {
    fn wake(&self) {
        self.thread.unpark();
        if let Some(fd) = self.poll_wake.get() {
            fd.notify();
        }
    }
}

/// One green thread in the pending batch.
struct Node {
    co: may::coroutine::Coroutine,
    next: *mut Node,
}

/// The pending batch: a lock-free stack (newest first) that wakers push onto and a reactor
/// takes whole. No lock: a thread that wakes a green thread never waits for a reactor, nor a
/// reactor for a waker (with a lock, a plain thread spawning green threads in a loop and the
/// reactors taking them contended in the kernel on every other spawn). Taking the whole stack
/// at once leaves no single-node pop, hence no ABA.
static READY: AtomicPtr<Node> = AtomicPtr::new(ptr::null_mut());

fn push(stack: &AtomicPtr<Node>, co: may::coroutine::Coroutine) {
    let node = Box::into_raw(Box::new(Node {
        co,
        next: ptr::null_mut(),
    }));
    let mut head = stack.load(Ordering::Relaxed);
    loop {
        // SAFETY: `node` is not published yet: this thread owns it.
        unsafe { (*node).next = head };
        match stack.compare_exchange_weak(head, node, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => return,
            Err(now) => head = now,
        }
    }
}

/// Takes the whole of `stack`, newest first.
fn take_all(stack: &AtomicPtr<Node>) -> impl Iterator<Item = may::coroutine::Coroutine> {
    let mut p = stack.swap(ptr::null_mut(), Ordering::Acquire);
    std::iter::from_fn(move || {
        if p.is_null() {
            return None;
        }
        // SAFETY: every node was made by `Box::into_raw` in `push` and published by its release
        // CAS, which the acquire swap above synchronises with; the swap took the whole chain, so
        // no other thread can reach these nodes.
        let node = unsafe { Box::from_raw(p) };
        p = node.next;
        Some(node.co)
    })
}

fn push_ready(co: may::coroutine::Coroutine) {
    push(&READY, co);
}

/// Whether the pending batch has work: a lingering reactor's look (sequentially consistent, to
/// pair with the fence of the wakers' check for a lingering reactor).
pub fn has_ready() -> bool {
    !READY.load(Ordering::SeqCst).is_null()
}

/// Moves the pending batch into `out`, oldest first (called by a reactor on its worker).
pub fn take_ready(out: &mut Vec<Waker>) {
    let first = out.len();
    out.extend(take_all(&READY).map(Waker::Green));
    out[first..].reverse();
}

/// Handles of finished green threads, to drop where no park of theirs can be in progress.
static DEFERRED: AtomicPtr<Node> = AtomicPtr::new(ptr::null_mut());

/// Keeps `co`, a handle of a green thread that may be ending, until [`drop_deferred`].
///
/// may can resume a green thread *inside* the bookkeeping of its own park, on the stack of the
/// worker that runs that bookkeeping, when a wake-up arrives between the switch and the
/// bookkeeping's last check; the park is marked busy until that bookkeeping returns. If the
/// green thread ends there and its last handle goes with it, may's destructor of the park
/// waits (yielding the OS thread) for the mark to clear, which only the frames below it can
/// do: the worker spun for good (seen under CPU contention in `monkey_locks_thread_bound`, the
/// last handle being the one its greenshim context keeps). Handles dropped here are dropped
/// later by a reactor, where no such frame is below.
pub(crate) fn drop_later(co: may::coroutine::Coroutine) {
    push(&DEFERRED, co);
}

/// Drops the handles of finished green threads kept until now (a reactor calls it, outside any
/// green thread's park).
pub fn drop_deferred() {
    if !DEFERRED.load(Ordering::Relaxed).is_null() {
        take_all(&DEFERRED).for_each(drop);
    }
}

/// Wakes a batch of waiters: plain threads directly, green threads through the reactors.
pub fn wake_batch(wakers: &mut Vec<Waker>) {
    let mut any_green = false;
    for w in wakers.drain(..) {
        match w {
            Waker::Thread(_) => w.wake(),
            Waker::Green(co) => {
                push_ready(co);
                any_green = true;
            }
        }
    }
    if any_green {
        kick();
    }
}

/// Wakes one green thread from a thread that is not a worker.
pub(crate) fn wake_green(co: may::coroutine::Coroutine) {
    push_ready(co);
    kick();
}

/// What tells the reactors that `READY` has work (pushed down by the runtime at start-up);
/// returns false when there are no reactors.
static KICK: OnceLock<fn() -> bool> = OnceLock::new();

/// Installs the function that tells the reactors that `READY` has work (the runtime does,
/// once).
pub fn set_kicker(kicker: fn() -> bool) {
    let _ = KICK.set(kicker);
}

/// Tells the reactors that `READY` has work; without reactors (start-up failed), falls back to
/// may's round robin.
fn kick() {
    if KICK.get().is_some_and(|kicker| kicker()) {
        return;
    }
    for co in take_all(&READY) {
        co.unpark();
    }
}
