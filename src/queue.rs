//! gevent's queues: [`Queue`] (FIFO), [`LifoQueue`], [`PriorityQueue`] (smallest first) and the
//! rendezvous [`Channel`]. Bounded or unbounded; `put` and `get` park while full or empty,
//! with timeout and non-blocking forms; waiting putters and getters are served strictly in
//! arrival order; `task_done`/`join` track completion; `close` shuts a queue down.
//!
//! Unlike gevent's, they work across OS threads too: plain threads can put and get.
//!
//! ```
//! use greenshim::Queue;
//! use std::sync::Arc;
//!
//! let jobs = Arc::new(Queue::bounded(10));
//! let workers: Vec<_> = (0..4)
//!     .map(|_| {
//!         let jobs = jobs.clone();
//!         greenshim::spawn(move || {
//!             let mut done = 0;
//!             while let Ok(n) = jobs.get() {
//!                 done += n;
//!                 jobs.task_done().unwrap();
//!             }
//!             done
//!         })
//!     })
//!     .collect();
//! for n in 1..=100 {
//!     jobs.put(n).unwrap(); // parks while 10 are queued
//! }
//! jobs.join(); // every item was marked done
//! jobs.close(); // workers' `get` now fails once the queue is empty
//! let total: u64 = greenshim::joinall(workers).into_iter().map(Result::unwrap).sum();
//! assert_eq!(total, 5050);
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use crate::sync::chan::{Chan, GetFailed, Patience, PutFailed, Store};

/// Why a put failed; the item comes back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum PutError<T> {
    /// No room (`try_put`), or none came free in time (`put_timeout`).
    Full(T),
    /// The queue is closed.
    Closed(T),
}

impl<T> PutError<T> {
    /// The item that was not put.
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(t) | PutError::Closed(t) => t,
        }
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("Full(..)"),
            PutError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("queue is full"),
            PutError::Closed(_) => f.write_str("queue is closed"),
        }
    }
}

impl<T> std::error::Error for PutError<T> {}

/// Why a get failed.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum GetError {
    /// Nothing queued (`try_get`), or nothing came in time (`get_timeout`).
    Empty,
    /// The queue is closed and empty.
    Closed,
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetError::Empty => f.write_str("queue is empty"),
            GetError::Closed => f.write_str("queue is closed and empty"),
        }
    }
}

impl std::error::Error for GetError {}

/// [`task_done`](Queue::task_done) was called more times than items were put.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct TaskDoneError;

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done called more times than items were put")
    }
}

impl std::error::Error for TaskDoneError {}

fn put_error<T>(e: PutFailed<T>) -> PutError<T> {
    match e {
        PutFailed::Full(t) => PutError::Full(t),
        PutFailed::Closed(t) => PutError::Closed(t),
    }
}

fn get_error(e: GetFailed) -> GetError {
    match e {
        GetFailed::Empty => GetError::Empty,
        GetFailed::Closed => GetError::Closed,
    }
}

fn deadline(timeout: Duration) -> Patience {
    Patience::Until(Instant::now().checked_add(timeout))
}

/// The methods every queue kind shares, over its store.
struct Inner<T, S> {
    chan: Chan<T, S>,
}

impl<T, S: Store<T>> Inner<T, S> {
    fn new(cap: Option<usize>) -> Self {
        Inner {
            chan: Chan::new(cap),
        }
    }

    fn task_done(&self) -> Result<(), TaskDoneError> {
        let mut s = self.chan.lock();
        if s.unfinished == 0 {
            return Err(TaskDoneError);
        }
        s.unfinished -= 1;
        if s.unfinished == 0 {
            s.joiners.notify_all();
        }
        Ok(())
    }

    fn join_until(&self, deadline: Option<Instant>) -> bool {
        self.chan.wait_for(deadline, |s| s.unfinished == 0)
    }
}

macro_rules! queue_methods {
    ($name:ident) => {
        /// Puts `item`, parking while the queue is full.
        ///
        /// # Errors
        /// [`PutError::Closed`] with the item if the queue is or gets closed meanwhile.
        ///
        /// # Panics
        /// Unwinds with the kill or timeout that reaches a green thread while it waits.
        pub fn put(&self, item: T) -> Result<(), PutError<T>> {
            self.inner
                .chan
                .put(item, Patience::Until(None))
                .map_err(put_error)
        }

        /// Puts `item`, parking at most `timeout` while the queue is full.
        ///
        /// # Errors
        /// [`PutError::Full`] on timeout, [`PutError::Closed`] if closed; with the item.
        pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
            self.inner
                .chan
                .put(item, deadline(timeout))
                .map_err(put_error)
        }

        /// Puts `item` if there is room now (gevent's `put_nowait`).
        ///
        /// # Errors
        /// [`PutError::Full`] or [`PutError::Closed`], with the item.
        pub fn try_put(&self, item: T) -> Result<(), PutError<T>> {
            self.inner.chan.put(item, Patience::None).map_err(put_error)
        }

        /// Takes the next item, parking while the queue is empty.
        ///
        /// # Errors
        /// [`GetError::Closed`] once the queue is closed and empty.
        ///
        /// # Panics
        /// Unwinds with the kill or timeout that reaches a green thread while it waits.
        pub fn get(&self) -> Result<T, GetError> {
            self.inner
                .chan
                .get(Patience::Until(None))
                .map_err(get_error)
        }

        /// Takes the next item, parking at most `timeout`.
        ///
        /// # Errors
        /// [`GetError::Empty`] on timeout, [`GetError::Closed`] once closed and empty.
        pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
            self.inner.chan.get(deadline(timeout)).map_err(get_error)
        }

        /// Takes the next item if there is one (gevent's `get_nowait`).
        ///
        /// # Errors
        /// [`GetError::Empty`] or [`GetError::Closed`].
        pub fn try_get(&self) -> Result<T, GetError> {
            self.inner.chan.get(Patience::None).map_err(get_error)
        }

        /// How many items are queued (gevent's `qsize`).
        pub fn len(&self) -> usize {
            self.inner.chan.lock().store.len()
        }

        /// Whether no item is queued.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }

        /// Whether a `try_put` would fail for lack of room now.
        pub fn is_full(&self) -> bool {
            let s = self.inner.chan.lock();
            s.cap.is_some_and(|cap| s.store.len() >= cap) && s.waiting().0 == 0
        }

        /// The bound given at creation (`None`: unbounded).
        pub fn capacity(&self) -> Option<usize> {
            self.inner.chan.lock().cap
        }

        /// Marks one item taken earlier as processed; when every item put so far is
        /// processed, [`join`](Self::join) returns.
        ///
        /// # Errors
        /// [`TaskDoneError`] if there is no unprocessed item.
        pub fn task_done(&self) -> Result<(), TaskDoneError> {
            self.inner.task_done()
        }

        /// Items put and not yet marked done.
        pub fn unfinished_tasks(&self) -> usize {
            self.inner.chan.lock().unfinished
        }

        /// Parks until every item put so far has been marked done.
        ///
        /// # Panics
        /// Unwinds with the kill or timeout that reaches a green thread while it waits.
        pub fn join(&self) {
            self.inner.join_until(None);
        }

        /// Like [`join`](Self::join), at most `timeout`; true if everything was done.
        pub fn join_timeout(&self, timeout: Duration) -> bool {
            self.inner.join_until(Instant::now().checked_add(timeout))
        }

        /// Shuts the queue down: puts fail from now on (parked putters get their items back),
        /// and gets take what is queued, then fail with [`GetError::Closed`].
        pub fn close(&self) {
            self.inner.chan.close(false);
        }

        /// Whether [`close`](Self::close) was called.
        pub fn is_closed(&self) -> bool {
            self.inner.chan.lock().closed
        }

        /// An iterator that takes items (parking while empty) until the queue is closed and
        /// empty.
        pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
            std::iter::from_fn(move || self.get().ok())
        }
    };
}

macro_rules! queue_kind {
    ($(#[$doc:meta])* $name:ident, $store:ty, $($bound:tt)*) => {
        $(#[$doc])*
        pub struct $name<T> {
            inner: Inner<T, $store>,
        }

        impl<T: $($bound)*> $name<T> {
            /// An unbounded queue.
            #[must_use]
            pub fn new() -> Self {
                $name { inner: Inner::new(None) }
            }

            /// A queue that holds at most `capacity` items; `put` parks while it is full. With 0,
            /// every `put` waits for a `get` (as [`Channel`]).
            #[must_use]
            pub fn bounded(capacity: usize) -> Self {
                $name { inner: Inner::new(Some(capacity)) }
            }

            queue_methods!($name);
        }

        impl<T: $($bound)*> Default for $name<T> {
            fn default() -> Self {
                Self::new()
            }
        }

        impl<T: $($bound)*> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("len", &self.len())
                    .field("capacity", &self.capacity())
                    .field("closed", &self.is_closed())
                    .finish()
            }
        }
    };
}

queue_kind!(
    /// A first-in, first-out queue; gevent's `Queue` (with `JoinableQueue`'s `task_done` and
    /// `join`). See the [module docs](self).
    Queue, VecDeque<T>, Sized
);
queue_kind!(
    /// A last-in, first-out queue; gevent's `LifoQueue`.
    LifoQueue, Vec<T>, Sized
);
queue_kind!(
    /// A queue that gives out its smallest item first (as gevent's `PriorityQueue` and Python's
    /// `heapq`; wrap items in [`std::cmp::Reverse`] for largest first).
    PriorityQueue, BinaryHeap<Reverse<T>>, Ord
);

/// A rendezvous point with no buffer; gevent's `Channel`. `put` parks until a getter takes the
/// item, `get` until a putter offers one; `try_put` succeeds only if a getter is waiting.
///
/// ```
/// use greenshim::Channel;
/// use std::sync::Arc;
///
/// let ch = Arc::new(Channel::new());
/// let c = ch.clone();
/// let putter = greenshim::spawn(move || c.put("hello").unwrap());
/// assert_eq!(ch.get(), Ok("hello"));
/// putter.join().unwrap();
/// ```
pub struct Channel<T> {
    inner: Inner<T, VecDeque<T>>,
}

impl<T> Channel<T> {
    /// A new channel.
    #[must_use]
    pub fn new() -> Self {
        Channel {
            inner: Inner::new(Some(0)),
        }
    }

    /// Parked putters minus parked getters (gevent's `balance`).
    pub fn balance(&self) -> isize {
        let (getters, putters) = self.inner.chan.lock().waiting();
        putters as isize - getters as isize
    }

    queue_methods!(Channel);
}

impl<T> Default for Channel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("balance", &self.balance())
            .field("closed", &self.is_closed())
            .finish()
    }
}
