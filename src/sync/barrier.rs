//! [`Barrier`], mirroring [`std::sync::Barrier`].

use std::fmt;
use std::sync::{Mutex as StdMutex, PoisonError};

use greenshim_shim::park::context;
use greenshim_shim::park::waitqueue::{self, Wait, WaitQueue, Woken};

/// Lets `n` threads wait for each other; mirrors [`std::sync::Barrier`]. Waiting parks a green
/// thread (blocks a plain thread); green and plain threads can meet at one barrier.
///
/// # Differences from std
/// A kill or [`Timeout`](crate::Timeout) reaches a waiting green thread and unwinds it; it then
/// no longer counts as arrived, so the barrier still waits for `n` others.
///
/// ```
/// use greenshim::sync::{Arc, Barrier};
///
/// let barrier = Arc::new(Barrier::new(10));
/// let greenlets: Vec<_> = (0..10)
///     .map(|_| {
///         let b = barrier.clone();
///         greenshim::spawn(move || b.wait().is_leader())
///     })
///     .collect();
/// let leaders = greenshim::joinall(greenlets).into_iter().filter(|r| *r.as_ref().unwrap()).count();
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    n: usize,
    state: StdMutex<State>,
}

#[derive(Debug)]
struct State {
    arrived: usize,
    generation: u64,
    waiters: WaitQueue,
}

/// What [`Barrier::wait`] returns; mirrors [`std::sync::BarrierWaitResult`].
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// True for exactly one of the threads released together (the last to arrive).
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` threads (0 behaves as 1); mirrors [`std::sync::Barrier::new`].
    #[must_use]
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            n,
            state: StdMutex::new(State {
                arrived: 0,
                generation: 0,
                waiters: WaitQueue::new(),
            }),
        }
    }

    /// Waits until `n` threads have called `wait`, then releases them all; mirrors
    /// [`std::sync::Barrier::wait`]. The barrier can be reused afterwards.
    ///
    /// # Panics
    /// Unwinds with the kill or timeout that reaches a green thread while it waits.
    pub fn wait(&self) -> BarrierWaitResult {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if s.arrived + 1 >= self.n {
            s.arrived = 0;
            s.generation += 1;
            s.waiters.notify_all();
            return BarrierWaitResult(true);
        }
        s.arrived += 1;
        let generation = s.generation;
        let ctx = context::current();
        let how = Wait::new(&ctx).on("Barrier::wait");
        match waitqueue::wait(&self.state, s, |s| &mut s.waiters, (), how, || {}).0 {
            Woken::Notified => BarrierWaitResult(false),
            Woken::TimedOut => unreachable!("no deadline"),
            Woken::Interrupted(i) => {
                let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                if s.generation == generation {
                    s.arrived -= 1;
                }
                drop(s);
                i.raise();
                // Already unwinding: give up quietly.
                BarrierWaitResult(false)
            }
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").finish_non_exhaustive()
    }
}

impl fmt::Debug for BarrierWaitResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWaitResult")
            .field("is_leader", &self.0)
            .finish()
    }
}
