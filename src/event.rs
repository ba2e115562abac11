//! gevent's [`Event`] and [`AsyncResult`]: one-flag and one-value rendezvous points that any
//! number of green threads (and plain threads) can wait on.

use std::fmt;
use std::sync::{Mutex as StdMutex, PoisonError};
use std::time::{Duration, Instant};

use greenshim_shim::park::context;
use greenshim_shim::park::waitqueue::{self, Wait, WaitQueue, Woken};

use crate::sync::OnceLock;

/// A flag that waiters park on until it is set; gevent's `Event`.
///
/// Unlike gevent's, it works across OS threads too: plain threads can set it and wait on it.
///
/// ```
/// use greenshim::Event;
/// use std::sync::Arc;
///
/// let ready = Arc::new(Event::new());
/// let waiters: Vec<_> = (0..10)
///     .map(|_| {
///         let ready = ready.clone();
///         greenshim::spawn(move || ready.wait())
///     })
///     .collect();
/// ready.set();
/// greenshim::joinall(waiters);
/// ```
#[derive(Default)]
pub struct Event {
    state: StdMutex<EventState>,
}

#[derive(Default)]
struct EventState {
    set: bool,
    waiters: WaitQueue,
}

impl Event {
    /// A new, unset event.
    #[must_use]
    pub const fn new() -> Event {
        Event {
            state: StdMutex::new(EventState {
                set: false,
                waiters: WaitQueue::new(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, EventState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the flag and wakes every waiter (in the order they came).
    pub fn set(&self) {
        let mut s = self.state();
        s.set = true;
        s.waiters.notify_all();
    }

    /// Clears the flag; later waiters wait for the next [`set`](Self::set).
    pub fn clear(&self) {
        self.state().set = false;
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.state().set
    }

    /// Parks until the flag is set. Returns at once if it is. A waiter released by `set`
    /// returns even if the flag was cleared again before it ran.
    ///
    /// # Panics
    /// Unwinds with the kill or timeout that reaches a green thread while it waits.
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Parks until the flag is set or `timeout` passes; returns whether it was set.
    ///
    /// # Panics
    /// As [`wait`](Self::wait).
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(Instant::now().checked_add(timeout))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let s = self.state();
        if s.set {
            return true;
        }
        let ctx = context::current();
        let how = Wait::new(&ctx).until(deadline).on("Event::wait");
        match waitqueue::wait(&self.state, s, |s| &mut s.waiters, (), how, || {}).0 {
            Woken::Notified => true,
            Woken::TimedOut => self.is_set(),
            Woken::Interrupted(i) => {
                i.raise();
                self.is_set()
            }
        }
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}

/// The default error type of an [`AsyncResult`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A value or an error, set once, that any number of waiters can read; gevent's
/// `AsyncResult`.
///
/// ```
/// use greenshim::AsyncResult;
/// use std::sync::Arc;
///
/// let answer: Arc<AsyncResult<u32>> = Arc::new(AsyncResult::new());
/// let a = answer.clone();
/// greenshim::spawn(move || a.set(42).unwrap());
/// assert_eq!(answer.get().ok(), Some(&42));
/// ```
pub struct AsyncResult<T, E = BoxError> {
    cell: OnceLock<Result<T, E>>,
    waiters: StdMutex<WaitQueue>,
}

impl<T, E> AsyncResult<T, E> {
    /// A new result with nothing set.
    #[must_use]
    pub const fn new() -> Self {
        AsyncResult {
            cell: OnceLock::new(),
            waiters: StdMutex::new(WaitQueue::new()),
        }
    }

    /// Sets the value and wakes every waiter.
    ///
    /// # Errors
    /// `Err(value)` if a value or error was already set.
    pub fn set(&self, value: T) -> Result<(), T> {
        self.complete(Ok(value)).map_err(|r| match r {
            Ok(v) => v,
            Err(_) => unreachable!("we passed a value"),
        })
    }

    /// Sets the error and wakes every waiter.
    ///
    /// # Errors
    /// `Err(error)` if a value or error was already set.
    pub fn set_error(&self, error: E) -> Result<(), E> {
        self.complete(Err(error)).map_err(|r| match r {
            Err(e) => e,
            Ok(_) => unreachable!("we passed an error"),
        })
    }

    fn complete(&self, r: Result<T, E>) -> Result<(), Result<T, E>> {
        self.cell.set(r)?;
        self.queue().notify_all();
        Ok(())
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, WaitQueue> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a value or error is set.
    pub fn ready(&self) -> bool {
        self.cell.get().is_some()
    }

    /// Whether a value (not an error) is set.
    pub fn successful(&self) -> bool {
        matches!(self.cell.get(), Some(Ok(_)))
    }

    /// The value or error if set, without waiting (gevent's `get_nowait`).
    pub fn try_get(&self) -> Option<Result<&T, &E>> {
        self.cell.get().map(Result::as_ref)
    }

    /// Parks until a value or error is set and returns it.
    ///
    /// # Errors
    /// The error that was set.
    ///
    /// # Panics
    /// Unwinds with the kill or timeout that reaches a green thread while it waits.
    pub fn get(&self) -> Result<&T, &E> {
        loop {
            if let Some(r) = self.get_until(None) {
                return r;
            }
        }
    }

    /// Parks until a value or error is set or `timeout` passes; `None` on timeout.
    pub fn get_timeout(&self, timeout: Duration) -> Option<Result<&T, &E>> {
        self.get_until(Instant::now().checked_add(timeout))
    }

    fn get_until(&self, deadline: Option<Instant>) -> Option<Result<&T, &E>> {
        if let Some(r) = self.try_get() {
            return Some(r);
        }
        let ctx = context::current();
        let mut how = Wait::new(&ctx).until(deadline).on("AsyncResult::get");
        loop {
            match waitqueue::wait_until(&self.waiters, |q| q, how, |_| self.ready()) {
                Ok(_) => return self.try_get(),
                Err(i) => {
                    i.raise();
                    // Already unwinding: the caller still gets what it waits for.
                    how = how.uninterruptible();
                }
            }
        }
    }

    /// The value or error, if set.
    pub fn into_inner(self) -> Option<Result<T, E>> {
        self.cell.into_inner()
    }
}

impl<T, E> Default for AsyncResult<T, E> {
    fn default() -> Self {
        AsyncResult::new()
    }
}

impl<T: fmt::Debug, E: fmt::Debug> fmt::Debug for AsyncResult<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("value", &self.try_get())
            .finish()
    }
}
