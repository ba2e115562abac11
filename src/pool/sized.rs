//! [`Pool`]: a [`Group`] with a bound on how many of its green threads run at once.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::semaphore::{Semaphore, SemaphorePermit};
use crate::sync::mpsc;
use crate::{Greenlet, JoinError};

use super::Group;

/// A [`Group`] that runs at most `size` green threads at once; gevent's `Pool`. `spawn` parks
/// while the pool is full; `map`, `imap` and `imap_unordered` run a function over many inputs
/// with that bound. Cloning gives another handle to the same pool.
///
/// ```
/// use greenshim::Pool;
///
/// let pool = Pool::new(4);
/// let squares: Vec<u64> = pool
///     .imap(|x: u64| x * x, 1..=10)
///     .map(Result::unwrap)
///     .collect();
/// assert_eq!(squares, [1, 4, 9, 16, 25, 36, 49, 64, 81, 100]);
/// ```
#[derive(Clone)]
pub struct Pool {
    group: Group,
    slots: Arc<Semaphore>,
    size: usize,
}

impl Pool {
    /// A pool of `size` slots. With 0 nothing can ever be spawned (gevent's `Pool(0)`).
    #[must_use]
    pub fn new(size: usize) -> Pool {
        Pool {
            group: Group::new(),
            slots: Arc::new(Semaphore::new(size)),
            size,
        }
    }

    /// Spawns `f` in the pool, parking while it is full.
    ///
    /// # Panics
    /// Unwinds with the kill or timeout that reaches a green thread while it waits; as
    /// [`spawn`](crate::spawn) if the green thread cannot be created.
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> Greenlet<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_in(self.slots.acquire(), f)
    }

    /// Spawns `f` if a slot is free now, else gives `f` back.
    ///
    /// # Errors
    /// `Err(f)` if the pool is full.
    #[track_caller]
    pub fn try_spawn<F, T>(&self, f: F) -> Result<Greenlet<T>, F>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match self.slots.try_acquire() {
            Some(slot) => Ok(self.spawn_in(slot, f)),
            None => Err(f),
        }
    }

    #[track_caller]
    fn spawn_in<F, T>(&self, slot: SemaphorePermit<'_>, f: F) -> Greenlet<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // If the spawn panics, the slot is returned as the permit drops.
        let g = crate::spawn(f);
        slot.forget();
        let slots = self.slots.clone();
        // Before joining the group: listeners run in order, so by the time `join` sees the
        // pool empty, every slot is back.
        g.on_finish(move || slots.release());
        self.group.add(&g);
        g
    }

    /// The number of slots.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Free slots now.
    pub fn free_count(&self) -> usize {
        self.slots.available_permits()
    }

    /// Whether every slot is taken.
    pub fn is_full(&self) -> bool {
        self.free_count() == 0
    }

    /// Parks until a slot is free (it is not reserved for the caller).
    ///
    /// # Panics
    /// Unwinds with the kill or timeout that reaches a green thread while it waits.
    pub fn wait_available(&self) {
        drop(self.slots.acquire());
    }

    /// Like [`wait_available`](Self::wait_available), at most `timeout`; true if a slot was
    /// free.
    pub fn wait_available_timeout(&self, timeout: Duration) -> bool {
        self.slots.acquire_timeout(timeout).is_some()
    }

    /// How many slots are taken (green threads running in the pool, or being started).
    pub fn len(&self) -> usize {
        self.size - self.free_count()
    }

    /// Whether no slot is taken.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Parks until every green thread of the pool has finished.
    pub fn join(&self) {
        self.group.join();
    }

    /// Like [`join`](Self::join), at most `timeout`; true if the pool became empty.
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.group.join_timeout(timeout)
    }

    /// Kills every green thread of the pool and waits until they are gone.
    pub fn kill(&self) {
        self.group.kill();
    }

    /// Runs `f` over `inputs`, at most `size` at a time, and returns the outcomes in input
    /// order.
    pub fn map<A, R, F, I>(&self, f: F, inputs: I) -> Vec<Result<R, JoinError>>
    where
        F: Fn(A) -> R + Send + Sync + 'static,
        I: IntoIterator<Item = A>,
        A: Send + 'static,
        R: Send + 'static,
    {
        self.imap(f, inputs).collect()
    }

    /// Runs `f` over `inputs`, at most `size` at a time, yielding outcomes in input order as
    /// they become available. Inputs are taken only as slots free up.
    pub fn imap<A, R, F, I>(&self, f: F, inputs: I) -> Imap<'_, A, R, F, I::IntoIter>
    where
        F: Fn(A) -> R + Send + Sync + 'static,
        I: IntoIterator<Item = A>,
        A: Send + 'static,
        R: Send + 'static,
    {
        Imap {
            feed: Feed::new(self, f, inputs.into_iter()),
            running: VecDeque::new(),
        }
    }

    /// Runs `f` over `inputs`, at most `size` at a time, yielding outcomes in completion order.
    pub fn imap_unordered<A, R, F, I>(
        &self,
        f: F,
        inputs: I,
    ) -> ImapUnordered<'_, A, R, F, I::IntoIter>
    where
        F: Fn(A) -> R + Send + Sync + 'static,
        I: IntoIterator<Item = A>,
        A: Send + 'static,
        R: Send + 'static,
    {
        let (done_tx, done_rx) = mpsc::channel();
        ImapUnordered {
            feed: Feed::new(self, f, inputs.into_iter()),
            running: HashMap::new(),
            done_tx,
            done_rx,
        }
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.size)
            .field("free", &self.free_count())
            .finish()
    }
}

/// Spawns the next input's task when a slot is free.
struct Feed<'p, A, F, I> {
    pool: &'p Pool,
    f: Arc<F>,
    inputs: I,
    /// An input taken while no slot was free.
    pending: Option<A>,
}

impl<'p, A, R, F, I> Feed<'p, A, F, I>
where
    F: Fn(A) -> R + Send + Sync + 'static,
    I: Iterator<Item = A>,
    A: Send + 'static,
    R: Send + 'static,
{
    fn new(pool: &'p Pool, f: F, inputs: I) -> Self {
        Feed {
            pool,
            f: Arc::new(f),
            inputs,
            pending: None,
        }
    }

    /// Spawns the next input's task: waiting for a slot if `wait` (the caller has nothing in
    /// flight), else only if one is free now. `None` when inputs are exhausted or no slot is
    /// free.
    fn next_task(&mut self, wait: bool) -> Option<Greenlet<R>> {
        let input = match self.pending.take() {
            Some(input) => input,
            None => self.inputs.next()?,
        };
        let slot = if wait {
            self.pool.slots.acquire()
        } else {
            match self.pool.slots.try_acquire() {
                Some(slot) => slot,
                None => {
                    self.pending = Some(input);
                    return None;
                }
            }
        };
        let f = self.f.clone();
        Some(self.pool.spawn_in(slot, move || f(input)))
    }
}

/// The iterator of [`Pool::imap`].
pub struct Imap<'p, A, R, F, I> {
    feed: Feed<'p, A, F, I>,
    running: VecDeque<Greenlet<R>>,
}

impl<A, R, F, I> Iterator for Imap<'_, A, R, F, I>
where
    F: Fn(A) -> R + Send + Sync + 'static,
    I: Iterator<Item = A>,
    A: Send + 'static,
    R: Send + 'static,
{
    type Item = Result<R, JoinError>;

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(g) = self.feed.next_task(self.running.is_empty()) {
            self.running.push_back(g);
        }
        self.running.pop_front().map(Greenlet::join)
    }
}

/// The iterator of [`Pool::imap_unordered`].
pub struct ImapUnordered<'p, A, R, F, I> {
    feed: Feed<'p, A, F, I>,
    running: HashMap<u64, Greenlet<R>>,
    done_tx: mpsc::Sender<u64>,
    done_rx: mpsc::Receiver<u64>,
}

impl<A, R, F, I> Iterator for ImapUnordered<'_, A, R, F, I>
where
    F: Fn(A) -> R + Send + Sync + 'static,
    I: Iterator<Item = A>,
    A: Send + 'static,
    R: Send + 'static,
{
    type Item = Result<R, JoinError>;

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(g) = self.feed.next_task(self.running.is_empty()) {
            let (id, tx) = (g.id(), self.done_tx.clone());
            g.on_finish(move || {
                // The receiver lives as long as the iterator; after that nobody cares.
                let _ = tx.send(id);
            });
            self.running.insert(id, g);
        }
        if self.running.is_empty() {
            return None;
        }
        let id = self.done_rx.recv().expect("the iterator holds a sender");
        self.running.remove(&id).map(Greenlet::join)
    }
}
