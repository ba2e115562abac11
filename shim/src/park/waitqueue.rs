//! [`WaitQueue`]: the FIFO of parked waiters that every lock, channel and queue of greenshim
//! is built from, green threads and plain threads alike.
//!
//! A primitive keeps its state and its wait queues under one short `std::sync::Mutex` (never
//! held across a park). A waiter that must wait calls [`wait`]: it queues a *node* that lives
//! on its own stack, drops the lock and parks. A notifier, holding the lock, pops the first
//! node, may hand it a value through the node's payload (an item for a getter, or takes the
//! item a putter offered), marks it notified and wakes it.
//!
//! ```text
//!  waiter                                     notifier (holds the primitive's lock)
//!  ------                                     --------
//!  lock; push &node; unlock
//!  park  . . . . . . . . . . . . . . . . . .  pop node; write payload; notified = true
//!        <----------------------------------  wake(node.waker)
//!  notified? yes -> read payload, return      (never touches the node again)
//!  timeout/interrupt -> lock; still queued?
//!        yes -> remove it; no -> it was notified after all: take that
//! ```
//!
//! The node is freed only when `wait` returns, and `wait` returns only after the node has left
//! the queue: either the notifier popped it (and marked it notified, its last access) or the
//! waiter removed it under the lock. So a notification is never lost: a waiter that times out
//! or is interrupted at the same moment it is notified reports [`Woken::Notified`] and keeps
//! what it was handed; a pending interrupt then fires at its next park.

use std::collections::VecDeque;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::park::context::{Context, Interrupt};
use crate::park::wait::WaitOn;
use crate::park::{self, Waker, Wakeup};

/// A waiter parked in [`wait`]. Lives on the waiter's stack.
struct Node<P> {
    /// Points at the waiter's waker, which outlives the node (it belongs to the waiter's
    /// context, held by the waiter for the whole wait).
    waker: NonNull<Waker>,
    /// Set by the notifier, with Release, as its last access to the node.
    notified: AtomicBool,
    /// Written by the notifier only while the node is queued and the primitive's lock is held;
    /// read by the waiter only after the node has left the queue.
    payload: std::cell::UnsafeCell<P>,
}

/// The waiters of one condition, in arrival order. Always used under the lock of the primitive
/// that owns it.
pub struct WaitQueue<P = ()> {
    /// Each pointer is to a live `Node` on a waiter's stack: [`wait`] removes its node (or
    /// has it popped) before it returns, and all access happens under the owner's lock.
    nodes: VecDeque<NonNull<Node<P>>>,
}

// SAFETY: the queue only holds pointers to nodes whose waiters are parked in `wait`, and
// every access to it goes through `&mut self` under the owning primitive's lock. A node's
// payload is handed from one thread to another the way a value sent through a channel is,
// hence `P: Send`; the waker is `Send + Sync`.
unsafe impl<P: Send> Send for WaitQueue<P> {}

impl<P> WaitQueue<P> {
    /// An empty queue.
    pub const fn new() -> Self {
        WaitQueue {
            nodes: VecDeque::new(),
        }
    }

    /// Whether nobody waits.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// How many wait.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The payload of the first waiter, which stays queued.
    pub fn front_payload(&mut self) -> Option<&mut P> {
        let node = *self.nodes.front()?;
        // SAFETY: the node is queued, so its waiter is still inside `wait` and the node is
        // alive; we hold the owner's lock (`&mut self`), the only way to reach the payload
        // while it is queued.
        Some(unsafe { &mut *node.as_ref().payload.get() })
    }

    /// Wakes the first waiter, after letting `f` write or take its payload. Returns false if
    /// nobody waits.
    pub fn notify_one_with(&mut self, f: impl FnOnce(&mut P)) -> bool {
        let Some(node) = self.nodes.pop_front() else {
            return false;
        };
        // SAFETY: just popped under the owner's lock.
        unsafe { Self::wake_popped(node, f) };
        true
    }

    /// Wakes the first waiter whose payload satisfies `pred` (a futex wake with a bit mask).
    /// Returns false if no waiter does.
    pub fn notify_first_where(&mut self, pred: impl Fn(&P) -> bool) -> bool {
        let Some(i) = self.nodes.iter().position(|n| {
            // SAFETY: every queued node is alive and we hold the owner's lock, as in
            // `front_payload`.
            pred(unsafe { &*n.as_ref().payload.get() })
        }) else {
            return false;
        };
        let node = self.nodes.remove(i).expect("index from position");
        // SAFETY: just removed under the owner's lock.
        unsafe { Self::wake_popped(node, |_| {}) };
        true
    }

    /// Lets `f` write or take the payload of `node`, marks it notified and wakes its waiter.
    ///
    /// # Safety
    /// `node` was just taken out of this queue under the owner's lock, so its waiter has not
    /// yet returned from `wait` (it needs this lock to leave while un-notified, and it cannot
    /// see `notified` before we set it): the node and its waker are alive until the store
    /// below, which is the last access to the node... except the waker, read first.
    unsafe fn wake_popped(node: NonNull<Node<P>>, f: impl FnOnce(&mut P)) {
        // SAFETY: the function's contract.
        unsafe {
            let node = node.as_ref();
            f(&mut *node.payload.get());
            let waker = node.waker.as_ref().clone();
            node.notified.store(true, Ordering::Release);
            waker.wake();
        }
    }

    /// Wakes the first waiter. Returns false if nobody waits.
    pub fn notify_one(&mut self) -> bool {
        self.notify_one_with(|_| {})
    }

    /// Wakes every waiter; returns how many.
    pub fn notify_all(&mut self) -> usize {
        let n = self.nodes.len();
        while self.notify_one() {}
        n
    }

    fn remove(&mut self, node: NonNull<Node<P>>) -> bool {
        match self.nodes.iter().rposition(|n| *n == node) {
            Some(i) => {
                self.nodes.remove(i);
                true
            }
            None => false,
        }
    }
}

impl<P> Default for WaitQueue<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P> fmt::Debug for WaitQueue<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitQueue")
            .field("waiters", &self.nodes.len())
            .finish()
    }
}

/// How a [`wait`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// A notifier chose this waiter (it may also have timed out or been interrupted at the same
    /// moment; the notification wins, and a pending interrupt stays pending).
    Notified,
    /// The deadline passed first.
    TimedOut,
    /// A kill or timeout reached the waiter first.
    Interrupted(Interrupt),
}

/// How to wait.
#[derive(Debug, Clone, Copy)]
pub struct Wait<'c> {
    /// The waiter's context.
    pub ctx: &'c Context,
    /// Give up at this instant.
    pub deadline: Option<Instant>,
    /// Whether a kill or timeout ends the wait. Waits that must complete even while the stack
    /// unwinds from one (relocking a mutex in a destructor) say no.
    pub interruptible: bool,
    /// What the waiter waits on, as diagnostics name it (`"Mutex::lock"`).
    pub what: &'static str,
    /// The address diagnostics show; the lock's when `None`.
    pub addr: Option<usize>,
    /// Whether a wake-up that was not this wait's notification is handed on when the wait
    /// ends (the green thread's next park returns at once). A wait that can be nested inside
    /// another wait of the same green thread (a futex wait on a lock contended inside
    /// greenshim's own park path) must not swallow the outer wait's wake-up.
    pub repost_stray_wakes: bool,
}

impl<'c> Wait<'c> {
    /// An interruptible wait without deadline.
    pub fn new(ctx: &'c Context) -> Self {
        Wait {
            ctx,
            deadline: None,
            interruptible: true,
            what: "a greenshim wait queue",
            addr: None,
            repost_stray_wakes: false,
        }
    }

    /// The same wait, named `what` for diagnostics.
    pub fn on(self, what: &'static str) -> Self {
        Wait { what, ..self }
    }

    /// The same wait with a deadline.
    pub fn until(self, deadline: Option<Instant>) -> Self {
        Wait { deadline, ..self }
    }

    /// The same wait, shown at `addr` by diagnostics.
    pub fn at(self, addr: usize) -> Self {
        Wait {
            addr: Some(addr),
            ..self
        }
    }

    /// The same wait, handing on wake-ups that were not its notification (see
    /// [`Wait::repost_stray_wakes`]).
    pub fn reposting_stray_wakes(self) -> Self {
        Wait {
            repost_stray_wakes: true,
            ..self
        }
    }

    /// The same wait, not ended by kills or timeouts.
    pub fn uninterruptible(self) -> Self {
        Wait {
            interruptible: false,
            ..self
        }
    }
}

/// Queues the caller on the queue that `queue` picks out of the locked state, unlocks, runs
/// `after_unlock` (a condition variable releases the user's mutex there), and parks until it is
/// notified, times out, or is interrupted. Returns how it ended and the node's payload (as the
/// notifier left it). The lock is released when this returns.
pub fn wait<S, P>(
    lock: &Mutex<S>,
    mut guard: MutexGuard<'_, S>,
    queue: impl Fn(&mut S) -> &mut WaitQueue<P>,
    payload: P,
    how: Wait<'_>,
    after_unlock: impl FnOnce(),
) -> (Woken, P) {
    let own_waker;
    let waker = match how.ctx.waker() {
        Some(w) => w,
        None => {
            own_waker = Waker::current();
            &own_waker
        }
    };
    let node = Node {
        waker: NonNull::from(waker),
        notified: AtomicBool::new(false),
        payload: std::cell::UnsafeCell::new(payload),
    };
    let ptr = NonNull::from(&node);
    queue(&mut guard).nodes.push_back(ptr);
    drop(guard);
    after_unlock();
    let _on = how.ctx.waiting(WaitOn::Object {
        what: how.what,
        addr: how.addr.unwrap_or(std::ptr::from_ref(lock).addr()),
    });

    let mut stray = false;
    let mut woken = loop {
        let r = if how.interruptible {
            park::park_in(how.ctx, how.deadline)
        } else {
            Ok(park::park_uninterruptible_in(how.ctx, how.deadline))
        };
        if node.notified.load(Ordering::Acquire) {
            break Woken::Notified;
        }
        match r {
            Ok(Wakeup::Unparked) => stray = true,
            Ok(Wakeup::TimedOut) => break Woken::TimedOut,
            Err(i) => break Woken::Interrupted(i),
        }
    };
    if woken != Woken::Notified {
        let mut guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        if !queue(&mut guard).remove(ptr) {
            // Popped by a notifier between our last look and the lock: it is ours.
            woken = Woken::Notified;
        }
    }
    if stray && how.repost_stray_wakes {
        waker.wake();
    }
    // Acquire: pairs with the notifier's Release store, after its payload write.
    let notified = node.notified.load(Ordering::Acquire);
    debug_assert_eq!(notified, woken == Woken::Notified);
    (woken, node.payload.into_inner())
}

/// Parks on the queue that `queue` picks until `done` holds for the state (checked under the
/// lock before every park), the deadline passes, or an interrupt arrives. Whoever may make
/// `done` true must notify that queue. Returns whether `done` holds at the end.
///
/// # Errors
/// The interrupt that ended the wait (it stays pending; the caller raises it).
pub fn wait_until<S>(
    lock: &Mutex<S>,
    queue: impl Fn(&mut S) -> &mut WaitQueue,
    how: Wait<'_>,
    mut done: impl FnMut(&mut S) -> bool,
) -> Result<bool, Interrupt> {
    loop {
        let mut guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        if done(&mut guard) {
            return Ok(true);
        }
        match wait(lock, guard, &queue, (), how, || {}).0 {
            Woken::Notified => {}
            Woken::TimedOut => {
                return Ok(done(
                    &mut lock.lock().unwrap_or_else(PoisonError::into_inner),
                ));
            }
            Woken::Interrupted(i) => return Err(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::park::context;
    use std::sync::Arc;
    use std::time::Duration;

    struct Slot {
        queue: WaitQueue<Option<u32>>,
    }

    #[test]
    fn a_notifier_hands_each_waiter_its_value_in_arrival_order() {
        let lock = Arc::new(Mutex::new(Slot {
            queue: WaitQueue::new(),
        }));
        let mut waiters = Vec::new();
        for i in 0..3 {
            let l = lock.clone();
            waiters.push(std::thread::spawn(move || {
                let ctx = context::current();
                let g = l.lock().unwrap();
                wait(&l, g, |s| &mut s.queue, None, Wait::new(&ctx), || {})
            }));
            // The next waiter starts only once this one is queued, so arrival order is known.
            while lock.lock().unwrap().queue.len() <= i {
                std::thread::yield_now();
            }
        }
        for v in 0..3 {
            assert!(lock.lock().unwrap().queue.notify_one_with(|p| *p = Some(v)));
        }
        let got: Vec<_> = waiters.into_iter().map(|h| h.join().unwrap()).collect();
        let expected: Vec<_> = (0..3).map(|v| (Woken::Notified, Some(v))).collect();
        assert_eq!(got, expected);
        assert!(!lock.lock().unwrap().queue.notify_one());
    }

    #[test]
    fn a_timed_out_waiter_leaves_the_queue() {
        let lock = Mutex::new(Slot {
            queue: WaitQueue::new(),
        });
        let ctx = context::current();
        let g = lock.lock().unwrap();
        let deadline = Some(Instant::now() + Duration::from_millis(20));
        let (woken, payload) = wait(
            &lock,
            g,
            |s| &mut s.queue,
            Some(7),
            Wait::new(&ctx).until(deadline),
            || {},
        );
        assert_eq!((woken, payload), (Woken::TimedOut, Some(7)));
        assert!(lock.lock().unwrap().queue.is_empty());
    }
}
