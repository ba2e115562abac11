//! Waiting on many greenlets at once: `joinall`, `killall`, `iwait` (gevent's names).

use std::sync::Arc;
use std::time::{Duration, Instant};

use greenshim_shim::park;

use crate::greenlet::{DoneQueue, Greenlet, JoinError, Listener};

/// Waits for every greenlet and returns their outcomes in the order given.
pub fn joinall<T>(greenlets: Vec<Greenlet<T>>) -> Vec<Result<T, JoinError>> {
    greenlets.into_iter().map(Greenlet::join).collect()
}

/// Waits up to `timeout` for every greenlet. If all finish in time, their outcomes in the
/// order given; otherwise every handle back (finished or not), so the caller can kill the
/// stragglers or wait more.
///
/// # Errors
/// `Err(greenlets)` when some greenlet is still running at the deadline.
pub fn joinall_timeout<T>(
    greenlets: Vec<Greenlet<T>>,
    timeout: Duration,
) -> Result<Vec<Result<T, JoinError>>, Vec<Greenlet<T>>> {
    let deadline = Instant::now().checked_add(timeout);
    if greenlets.iter().all(|g| g.wait(deadline)) {
        Ok(greenlets.into_iter().map(Greenlet::into_result).collect())
    } else {
        Err(greenlets)
    }
}

/// Kills every greenlet and waits until each has finished (gevent's `killall(block=True)`).
pub fn killall<T>(greenlets: &[Greenlet<T>]) {
    for g in greenlets {
        g.kill();
    }
    for g in greenlets {
        g.wait(None);
    }
}

/// Iterates over greenlets in the order they finish, yielding `(index, outcome)` where `index`
/// is the greenlet's position in the vector given.
pub fn iwait<T>(greenlets: Vec<Greenlet<T>>) -> IWait<T> {
    let queue = DoneQueue::new();
    for (i, g) in greenlets.iter().enumerate() {
        if let Some(Listener::Queue(q, i)) = g.shared().listen(Listener::Queue(queue.clone(), i)) {
            q.push(i);
        }
    }
    let remaining = greenlets.len();
    IWait {
        slots: greenlets.into_iter().map(Some).collect(),
        queue,
        remaining,
    }
}

/// Iterator returned by [`iwait`].
pub struct IWait<T> {
    slots: Vec<Option<Greenlet<T>>>,
    queue: Arc<DoneQueue>,
    remaining: usize,
}

impl<T> IWait<T> {
    /// Greenlets that have not been yielded yet.
    pub fn remaining(&self) -> usize {
        self.remaining
    }
}

impl<T> Iterator for IWait<T> {
    type Item = (usize, Result<T, JoinError>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let ctx = greenshim_shim::park::context::current();
        let _on = ctx.waiting(greenshim_shim::monitor::WaitOn::Object {
            what: "iwait",
            addr: Arc::as_ptr(&self.queue).addr(),
        });
        loop {
            if let Some(i) = self.queue.pop_or_register() {
                let g = self.slots[i].take()?;
                self.remaining -= 1;
                return Some((i, g.into_result()));
            }
            if let Err(interrupt) = park::park(None) {
                interrupt.raise();
                return None;
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}
