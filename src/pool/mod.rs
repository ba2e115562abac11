//! gevent's [`Group`] and [`Pool`]: track a set of green threads, wait for or kill them all,
//! and (for a pool) bound how many run at once.

mod sized;

pub use sized::{Imap, ImapUnordered, Pool};

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::{Duration, Instant};

use greenshim_shim::park::context::{self, Context, Interrupt};
use greenshim_shim::park::waitqueue::{self, Wait, WaitQueue};

use crate::Greenlet;

/// A set of running green threads; gevent's `Group`. Members leave it when they finish
/// (however they end). Cloning gives another handle to the same set.
///
/// ```
/// use greenshim::{Event, Group};
/// use std::sync::Arc;
///
/// let go = Arc::new(Event::new());
/// let group = Group::new();
/// for _ in 0..10 {
///     let go = go.clone();
///     group.spawn(move || go.wait());
/// }
/// assert_eq!(group.len(), 10);
/// go.set();
/// group.join();
/// assert!(group.is_empty());
/// ```
#[derive(Clone, Default)]
pub struct Group {
    inner: Arc<StdMutex<Members>>,
}

#[derive(Default)]
struct Members {
    running: HashMap<u64, Arc<Context>>,
    /// Waiters for "empty".
    joiners: WaitQueue,
}

impl Group {
    /// An empty group.
    #[must_use]
    pub fn new() -> Group {
        Group::default()
    }

    fn members(&self) -> std::sync::MutexGuard<'_, Members> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Spawns `f` on a new green thread in the group.
    ///
    /// # Panics
    /// As [`spawn`](crate::spawn), if the green thread cannot be created.
    #[track_caller]
    pub fn spawn<F, T>(&self, f: F) -> Greenlet<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let g = crate::spawn(f);
        self.add(&g);
        g
    }

    /// Adds a green thread spawned elsewhere; it leaves when it finishes.
    pub fn add<T>(&self, greenlet: &Greenlet<T>) {
        let id = greenlet.id();
        self.members()
            .running
            .insert(id, greenlet.context().clone());
        let inner = Arc::downgrade(&self.inner);
        greenlet.on_finish(move || {
            if let Some(inner) = inner.upgrade() {
                let mut m = inner.lock().unwrap_or_else(PoisonError::into_inner);
                m.running.remove(&id);
                if m.running.is_empty() {
                    m.joiners.notify_all();
                }
            }
        });
    }

    /// How many members are still running.
    pub fn len(&self) -> usize {
        self.members().running.len()
    }

    /// Whether no member is running.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the green thread with this id is a running member.
    pub fn contains(&self, id: u64) -> bool {
        self.members().running.contains_key(&id)
    }

    /// Parks until the group is empty (gevent: "empty at least once").
    ///
    /// # Panics
    /// Unwinds with the kill or timeout that reaches a green thread while it waits.
    pub fn join(&self) {
        self.join_until(None);
    }

    /// Like [`join`](Self::join), at most `timeout`; true if the group became empty.
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.join_until(Instant::now().checked_add(timeout))
    }

    fn join_until(&self, deadline: Option<Instant>) -> bool {
        let ctx = context::current();
        let how = Wait::new(&ctx).until(deadline).on("Group::join");
        match waitqueue::wait_until(
            &self.inner,
            |m| &mut m.joiners,
            how,
            |m| m.running.is_empty(),
        ) {
            Ok(empty) => empty,
            Err(i) => {
                i.raise();
                self.is_empty()
            }
        }
    }

    /// Kills every member and waits until they are gone. Called from inside a member, it kills
    /// the caller too.
    pub fn kill(&self) {
        let members: Vec<_> = self.members().running.values().cloned().collect();
        for ctx in members {
            ctx.interrupt(Interrupt::Kill);
        }
        self.join();
    }
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group").field("len", &self.len()).finish()
    }
}
