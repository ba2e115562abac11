//! `Greenlet<T>`: a handle to a green thread, with gevent's lifecycle (join, kill, timeouts).
//!
//! A greenlet's shared state lives in [`Shared`]: the result slot, a `done` flag and the
//! listeners to notify at completion. The green thread completes it itself when its function
//! returns, panics or is killed; if the green thread dies without unwinding (a stack overflow
//! that may's own handling contained, where greenshim's stack arena is not in force), may
//! still frees its local storage, and `Shared`'s `OnExit`, registered there, completes the
//! greenlet with [`JoinError::StackOverflow`] so that joiners never hang.

mod shared;
mod spawn;

pub(crate) use shared::{DoneQueue, Listener};
use shared::{Shared, State};
pub use spawn::{Builder, current_id, spawn, spawn_later};

use std::any::Any;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use greenshim_shim::monitor::{self, DeadlockReport, DeadlockWatch, WaitOn};
use greenshim_shim::park::context::{self, Context, Interrupt};
use greenshim_shim::park::{self, Waker};
/// Green threads spawned by greenshim whose stacks are still allocated.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Number of live green threads spawned by greenshim (running, runnable or parked).
pub fn live_count() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Green threads spawned and not yet finished (a finished one may still hold its stack for a
/// moment, which [`live_count`] counts).
static UNFINISHED: AtomicUsize = AtomicUsize::new(0);

/// Green threads that may still run user code.
pub(crate) fn unfinished_count() -> usize {
    UNFINISHED.load(Ordering::Acquire)
}

/// Why a greenlet produced no value.
pub enum JoinError {
    /// Its function panicked; the payload is the panic's, as `std::thread::JoinHandle::join`
    /// returns it.
    Panicked(Box<dyn Any + Send + 'static>),
    /// It was killed (see [`Greenlet::kill`]) before it returned.
    Killed,
    /// Its stack overflowed into the guard page. Its destructors did not run.
    StackOverflow,
    /// The joiner (a plain thread) found every green thread parked on something only another
    /// green thread could signal, with nothing left that could: it would have waited forever.
    /// The report lists what each one waits on. The green thread is still parked.
    Deadlock(DeadlockReport),
}

impl JoinError {
    /// True for [`JoinError::Killed`].
    pub fn is_killed(&self) -> bool {
        matches!(self, JoinError::Killed)
    }

    /// True for [`JoinError::Panicked`].
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked(_))
    }

    /// The payload `std::thread::JoinHandle::join` would return: the panic payload itself, or
    /// this error boxed for the other cases.
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self {
            JoinError::Panicked(p) => p,
            other => Box::new(other),
        }
    }

    /// The panic message, when the payload is a string.
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            JoinError::Panicked(p) => {
                let p: &(dyn Any + Send) = &**p;
                p.downcast_ref::<&str>()
                    .copied()
                    .or_else(|| p.downcast_ref::<String>().map(String::as_str))
            }
            _ => None,
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(_) => match self.panic_message() {
                Some(m) => write!(f, "Panicked({m:?})"),
                None => f.write_str("Panicked(..)"),
            },
            JoinError::Killed => f.write_str("Killed"),
            JoinError::StackOverflow => f.write_str("StackOverflow"),
            JoinError::Deadlock(r) => write!(f, "Deadlock({r})"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(_) => match self.panic_message() {
                Some(m) => write!(f, "green thread panicked: {m}"),
                None => f.write_str("green thread panicked"),
            },
            JoinError::Killed => f.write_str("green thread was killed"),
            JoinError::StackOverflow => f.write_str("green thread overflowed its stack"),
            JoinError::Deadlock(r) => r.fmt(f),
        }
    }
}

impl std::error::Error for JoinError {}

/// A handle to a green thread: join it for its value, kill it, ask whether it finished.
///
/// Dropping a `Greenlet` detaches the green thread; it keeps running.
pub struct Greenlet<T> {
    shared: Arc<Shared<T>>,
}

impl<T> fmt::Debug for Greenlet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Greenlet")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> Greenlet<T> {
    /// Unique id of the green thread (never reused within the process).
    pub fn id(&self) -> u64 {
        self.shared.ctx.id()
    }

    /// The name given through [`Builder::name`].
    pub fn name(&self) -> Option<&str> {
        self.shared.ctx.name()
    }

    /// Where the green thread was spawned.
    pub fn spawn_site(&self) -> Option<&'static Location<'static>> {
        self.shared.ctx.spawn_site()
    }

    /// Whether the green thread has finished (returned, panicked, been killed or overflowed).
    pub fn is_finished(&self) -> bool {
        self.shared.done.load(Ordering::Acquire)
    }

    /// Asks the green thread to die and returns at once. It is interrupted at its current park
    /// (sleep, join, channel, socket…) or its next one and unwound, so its destructors run; if
    /// it has not started yet it never runs. Code that never parks cannot be killed. Killing a
    /// finished green thread does nothing. Join it to wait until it is gone.
    pub fn kill(&self) {
        if !self.is_finished() {
            self.shared.ctx.interrupt(Interrupt::Kill);
        }
    }

    /// Parks until the green thread has finished or `deadline` passes; true if it finished.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        matches!(self.wait_watching(deadline), Waited::Finished)
    }

    /// [`wait`](Self::wait), which on a plain thread also looks for a deadlock every
    /// [`monitor::DEADLOCK_CHECK_INTERVAL`] (see [`DeadlockWatch`]).
    fn wait_watching(&self, deadline: Option<Instant>) -> Waited {
        if self.is_finished() {
            return Waited::Finished;
        }
        if self
            .shared
            .listen(Listener::Wake(Waker::current()))
            .is_some()
        {
            return Waited::Finished;
        }
        let ctx = context::current();
        let _on = ctx.waiting(WaitOn::Join { id: self.id() });
        let plain = !context::on_green_thread();
        let mut watch = DeadlockWatch::new();
        loop {
            let slice = if plain {
                let next = Instant::now() + monitor::DEADLOCK_CHECK_INTERVAL;
                Some(deadline.map_or(next, |d| d.min(next)))
            } else {
                deadline
            };
            let done = match park::wait_until(slice, || self.is_finished()) {
                Ok(done) => done,
                Err(interrupt) => {
                    interrupt.raise();
                    self.is_finished()
                }
            };
            if done {
                return Waited::Finished;
            }
            if slice == deadline {
                return Waited::TimedOut;
            }
            if let Some(report) = watch.check() {
                return Waited::Deadlock(report);
            }
        }
    }

    /// Waits until the green thread has finished, whatever interrupts the caller receives.
    /// `on_wake` runs before every park (so a waiter that is itself interrupted can react, for
    /// example by forwarding a kill).
    pub(crate) fn wait_ignoring_interrupts(&self, mut on_wake: impl FnMut(&Self)) {
        if self
            .shared
            .listen(Listener::Wake(Waker::current()))
            .is_some()
        {
            return;
        }
        while !self.is_finished() {
            on_wake(self);
            if self.is_finished() {
                break;
            }
            park::park_ignoring_interrupts();
        }
    }

    /// Runs `f` when the green thread finishes (however it ends, stack overflow included), on
    /// the thread that completes it; at once if it has finished. `f` must not block.
    pub(crate) fn on_finish(&self, f: impl FnOnce() + Send + 'static) {
        if let Some(Listener::Call(f)) = self.shared.listen(Listener::Call(Box::new(f))) {
            f();
        }
    }

    /// A second handle to the same green thread. Only one of them may take the result.
    pub(crate) fn clone_handle(&self) -> Self {
        Greenlet {
            shared: self.shared.clone(),
        }
    }

    pub(crate) fn context(&self) -> &Arc<Context> {
        &self.shared.ctx
    }

    pub(crate) fn shared(&self) -> &Arc<Shared<T>> {
        &self.shared
    }

    /// Waits for the green thread to finish and returns its value, or why there is none.
    ///
    /// # Errors
    /// [`JoinError`]: the panic payload, or the green thread was killed or overflowed its stack.
    pub fn join(self) -> Result<T, JoinError> {
        match self.wait_watching(None) {
            Waited::Deadlock(report) => Err(JoinError::Deadlock(report)),
            _ => self.into_result(),
        }
    }

    /// Like [`join`](Self::join), giving up after `timeout`: then the greenlet is handed back,
    /// still running.
    ///
    /// # Errors
    /// `Err(self)` if the green thread has not finished within `timeout`.
    pub fn join_timeout(self, timeout: Duration) -> Result<Result<T, JoinError>, Self> {
        if self.wait(Instant::now().checked_add(timeout)) {
            Ok(self.into_result())
        } else {
            Err(self)
        }
    }

    pub(crate) fn into_result(self) -> Result<T, JoinError> {
        // A joiner that is being killed itself can get here before the target finished; its
        // unwinding continues in the caller, so this value is never observed as a real result.
        self.shared.take_result().unwrap_or(Err(JoinError::Killed))
    }
}

/// How a join's wait ended.
enum Waited {
    Finished,
    TimedOut,
    Deadlock(DeadlockReport),
}
