//! The channel core shared by [`mpsc`](super::mpsc) and the gevent-style queues: a store of
//! items (FIFO, LIFO or priority), an optional capacity, and FIFO queues of parked getters and
//! putters.
//!
//! Items are *handed over*: a put that finds a getter waiting writes the item into that
//! getter's wait node, and a get that frees room takes the first waiting putter's item (also
//! from its node) into the store, or directly when the capacity is 0 (rendezvous). So waiters
//! are served strictly in arrival order, a late arrival cannot barge ahead, and an item is
//! never in limbo: it is in the store, in a putter's node (returned to it on timeout or close),
//! or delivered.
//!
//! Invariants (under the lock): getters wait only while the store is empty; putters wait only
//! while the store is full.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::{Mutex as StdMutex, MutexGuard as StdGuard, PoisonError};
use std::time::Instant;

use greenshim_shim::park::waitqueue::{self, Wait, WaitQueue, Woken};
use greenshim_shim::park::{self, context};

/// Where a channel keeps its buffered items, in the order it gives them out.
pub(crate) trait Store<T>: Default {
    fn push(&mut self, item: T);
    fn pop(&mut self) -> Option<T>;
    fn len(&self) -> usize;
}

impl<T> Store<T> for VecDeque<T> {
    fn push(&mut self, item: T) {
        self.push_back(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.pop_front()
    }
    fn len(&self) -> usize {
        VecDeque::len(self)
    }
}

impl<T> Store<T> for Vec<T> {
    fn push(&mut self, item: T) {
        Vec::push(self, item);
    }
    fn pop(&mut self) -> Option<T> {
        Vec::pop(self)
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
}

/// Smallest first.
impl<T: Ord> Store<T> for BinaryHeap<Reverse<T>> {
    fn push(&mut self, item: T) {
        BinaryHeap::push(self, Reverse(item));
    }
    fn pop(&mut self) -> Option<T> {
        BinaryHeap::pop(self).map(|r| r.0)
    }
    fn len(&self) -> usize {
        BinaryHeap::len(self)
    }
}

/// Why a put failed; the item comes back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PutFailed<T> {
    /// No room (a non-waiting put), or the deadline passed.
    Full(T),
    /// The channel is closed.
    Closed(T),
}

/// Why a get failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GetFailed {
    /// Nothing to take (a non-waiting get), or the deadline passed.
    Empty,
    /// The channel is closed and drained.
    Closed,
}

/// How long an operation may wait.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Patience {
    /// Not at all.
    None,
    /// Until the deadline (`None`: forever).
    Until(Option<Instant>),
}

pub(crate) struct State<T, S> {
    pub(crate) store: S,
    /// `None`: unbounded.
    pub(crate) cap: Option<usize>,
    pub(crate) closed: bool,
    getters: WaitQueue<Option<T>>,
    putters: WaitQueue<Option<T>>,
    /// Items put and not yet marked done (for `Queue::join`).
    pub(crate) unfinished: usize,
    pub(crate) joiners: WaitQueue,
}

pub(crate) struct Chan<T, S> {
    state: StdMutex<State<T, S>>,
}

impl<T, S: Store<T>> Chan<T, S> {
    pub(crate) fn new(cap: Option<usize>) -> Self {
        Chan {
            state: StdMutex::new(State {
                store: S::default(),
                cap,
                closed: false,
                getters: WaitQueue::new(),
                putters: WaitQueue::new(),
                unfinished: 0,
                joiners: WaitQueue::new(),
            }),
        }
    }

    pub(crate) fn lock(&self) -> StdGuard<'_, State<T, S>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Releases the lock, lets the worker's other green threads run once (a partner queued
    /// there may answer, see `park::yield_before_park`), and takes the lock again. Called on
    /// green threads only.
    fn yield_then_lock<'a>(&'a self, s: StdGuard<'a, State<T, S>>) -> StdGuard<'a, State<T, S>> {
        drop(s);
        park::yield_green_before_park();
        self.lock()
    }

    /// Puts `item`, waiting for room as `patience` allows.
    ///
    /// Raises a kill or timeout that reaches a green thread while it waits (the item is
    /// dropped with its stack); if the stack already unwinds, gives up with `Closed`.
    pub(crate) fn put(&self, mut item: T, patience: Patience) -> Result<(), PutFailed<T>> {
        park::spend();
        let mut s = self.lock();
        let mut yielded = !context::on_green_thread();
        let deadline = loop {
            if s.closed {
                return Err(PutFailed::Closed(item));
            }
            item = match s.offer(item) {
                None => return Ok(()),
                Some(item) => item,
            };
            let Patience::Until(deadline) = patience else {
                return Err(PutFailed::Full(item));
            };
            if yielded {
                break deadline;
            }
            s = self.yield_then_lock(s);
            yielded = true;
        };
        let ctx = context::current();
        let how = Wait::new(&ctx).until(deadline).on("channel send");
        let (woken, left) =
            waitqueue::wait(&self.state, s, |s| &mut s.putters, Some(item), how, || {});
        match (woken, left) {
            // A getter took it.
            (Woken::Notified, None) => Ok(()),
            // Woken by close, item still ours.
            (Woken::Notified, Some(item)) => Err(PutFailed::Closed(item)),
            (Woken::TimedOut, Some(item)) => Err(PutFailed::Full(item)),
            (Woken::Interrupted(i), Some(item)) => {
                i.raise();
                Err(PutFailed::Closed(item))
            }
            (_, None) => unreachable!("an item is only taken from a notified putter"),
        }
    }

    /// Takes an item, waiting for one as `patience` allows.
    ///
    /// Raises a kill or timeout that reaches a green thread while it waits; if the stack
    /// already unwinds, gives up with `Closed`.
    pub(crate) fn get(&self, patience: Patience) -> Result<T, GetFailed> {
        park::spend();
        let mut s = self.lock();
        let mut yielded = !context::on_green_thread();
        let deadline = loop {
            if let Some(item) = s.take() {
                return Ok(item);
            }
            if s.closed {
                return Err(GetFailed::Closed);
            }
            let Patience::Until(deadline) = patience else {
                return Err(GetFailed::Empty);
            };
            if yielded {
                break deadline;
            }
            s = self.yield_then_lock(s);
            yielded = true;
        };
        let ctx = context::current();
        let how = Wait::new(&ctx).until(deadline).on("channel receive");
        match waitqueue::wait(&self.state, s, |s| &mut s.getters, None, how, || {}) {
            (_, Some(item)) => Ok(item),
            // Woken by close.
            (Woken::Notified, None) => Err(GetFailed::Closed),
            (Woken::TimedOut, None) => Err(GetFailed::Empty),
            (Woken::Interrupted(i), None) => {
                i.raise();
                Err(GetFailed::Closed)
            }
        }
    }

    /// Closes the channel: puts fail from now on, waiting putters get their items back, and
    /// getters take what is buffered, then fail. Returns the store's items if `drain` (to be
    /// dropped by the caller, outside the lock).
    pub(crate) fn close(&self, drain: bool) -> Option<S> {
        let mut s = self.lock();
        s.closed = true;
        s.getters.notify_all();
        s.putters.notify_all();
        drain.then(|| std::mem::take(&mut s.store))
    }

    /// Parks until `done` holds for the state, or the deadline passes; returns whether it
    /// holds. `joiners` must be notified whenever it may have become true.
    pub(crate) fn wait_for(
        &self,
        deadline: Option<Instant>,
        done: impl Fn(&State<T, S>) -> bool,
    ) -> bool {
        let ctx = context::current();
        let how = Wait::new(&ctx).until(deadline).on("Queue::join");
        match waitqueue::wait_until(&self.state, |s| &mut s.joiners, how, |s| done(s)) {
            Ok(holds) => holds,
            Err(i) => {
                i.raise();
                false
            }
        }
    }
}

impl<T, S: Store<T>> State<T, S> {
    /// Places `item` without waiting: into a waiting getter's hands, or into the store if
    /// there is room. Gives it back otherwise.
    fn offer(&mut self, item: T) -> Option<T> {
        if !self.getters.is_empty() {
            let mut item = Some(item);
            self.getters.notify_one_with(|slot| *slot = item.take());
            self.unfinished += 1;
            return None;
        }
        if self.cap.is_none_or(|cap| self.store.len() < cap) {
            self.store.push(item);
            self.unfinished += 1;
            return None;
        }
        Some(item)
    }

    /// Takes an item without waiting: from the store (refilling it from the first waiting
    /// putter), or straight from a waiting putter when nothing is stored.
    fn take(&mut self) -> Option<T> {
        let stored = self.store.pop();
        let mut offered = None;
        if !self.putters.is_empty() {
            self.putters.notify_one_with(|slot| offered = slot.take());
            self.unfinished += usize::from(offered.is_some());
        }
        match (stored, offered) {
            (Some(item), Some(next)) => {
                self.store.push(next);
                Some(item)
            }
            (stored, offered) => stored.or(offered),
        }
    }

    /// Whether a getter or putter is parked (for `Channel`'s balance and rendezvous checks).
    pub(crate) fn waiting(&self) -> (usize, usize) {
        (self.getters.len(), self.putters.len())
    }
}
