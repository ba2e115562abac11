//! A mirror of `std::thread` whose threads are green threads.
//!
//! `use greenshim::thread;` in place of `use std::thread;` turns every `thread::spawn` into a
//! green-thread spawn; `sleep`, `park`, `current`, `scope` and the rest keep std's signatures.
//!
//! # Differences from std
//! - [`ThreadId`] is greenshim's own type (std's cannot be constructed); ids are unique among
//!   green threads and OS threads alike.
//! - `park`, `sleep`, `join` are park points: a kill or a [`Timeout`](crate::Timeout) interrupts
//!   them.
//! - There is no `thread_local!` here: a green thread can resume on another OS thread, so use
//!   [`green_local!`](crate::green_local) instead.
//! - A scope that is killed while waiting for its threads kills them and still waits for them
//!   before unwinding (they may borrow its stack).
//! - A green thread's name (`Builder::name`) is greenshim's: [`Thread::name`] returns it, but
//!   the kernel's name of the OS thread it runs on, which `pthread_getname_np`, `top -H` and
//!   debuggers show, is its worker's (`greenshim-w0`, …). std's `test_named_thread_truncation`
//!   fails for this reason alone.

mod scope;

pub use scope::{Scope, ScopedJoinHandle, scope};
pub use std::thread::{AccessError, Result, available_parallelism, panicking};

use std::fmt;
use std::io;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenshim_shim::park::context::{self, Context};
use greenshim_shim::park::{self, Wakeup};

use crate::greenlet::{self, Greenlet};

/// A unique identifier of a green thread or OS thread. Never zero, so `Option<ThreadId>` is
/// as small as `ThreadId`, as std's is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ThreadId(NonZeroU64);

impl ThreadId {
    /// The id as a number (the same as [`Greenlet::id`] for a green thread).
    pub fn as_u64(&self) -> u64 {
        self.0.get()
    }
}

/// A handle to a green thread or OS thread: its id, its name, and `unpark`.
#[derive(Clone)]
pub struct Thread {
    ctx: Arc<Context>,
}

impl Thread {
    /// The thread's unique id.
    pub fn id(&self) -> ThreadId {
        ThreadId(NonZeroU64::new(self.ctx.id()).expect("context ids start at 1"))
    }

    /// The thread's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.ctx.name()
    }

    /// Makes the thread's park token available, waking it if it is in [`park()`].
    pub fn unpark(&self) {
        self.ctx.unpark_user();
    }
}

impl fmt::Debug for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thread")
            .field("id", &self.id())
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

/// The handle of the running green thread or OS thread.
pub fn current() -> Thread {
    Thread {
        ctx: context::current(),
    }
}

/// Blocks until the current thread's token is made available by [`Thread::unpark`].
///
/// # Differences from std
/// On a green thread only the green thread waits.
pub fn park() {
    park_until(None);
}

/// Like [`park()`], giving up after `dur`.
pub fn park_timeout(dur: Duration) {
    park_until(Instant::now().checked_add(dur));
}

fn park_until(deadline: Option<Instant>) {
    let ctx = context::current();
    let _on = ctx.waiting(greenshim_shim::monitor::WaitOn::Park);
    loop {
        if ctx.take_user_token() {
            return;
        }
        match park::park_in(&ctx, deadline) {
            Ok(Wakeup::Unparked) => {}
            Ok(Wakeup::TimedOut) => return,
            Err(interrupt) => return interrupt.raise(),
        }
    }
}

/// Sleeps for `dur`; see [`time::sleep`](crate::time::sleep).
pub fn sleep(dur: Duration) {
    crate::time::sleep(dur);
}

/// Lets other green threads run.
pub fn yield_now() {
    crate::yield_now();
}

/// Owned permission to join a green thread, as `std::thread::JoinHandle`.
pub struct JoinHandle<T> {
    greenlet: Greenlet<T>,
    thread: Thread,
}

impl<T> JoinHandle<T> {
    fn new(greenlet: Greenlet<T>) -> Self {
        let thread = Thread {
            ctx: greenlet.context().clone(),
        };
        JoinHandle { greenlet, thread }
    }

    /// Waits for the thread to finish. A panic's payload comes back as `Err`, as with std; a
    /// killed thread's payload is a [`JoinError::Killed`](crate::JoinError::Killed).
    ///
    /// # Errors
    /// The panic payload.
    pub fn join(self) -> Result<T> {
        self.greenlet.join().map_err(crate::JoinError::into_panic)
    }

    /// The thread's handle.
    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Whether the thread has finished.
    pub fn is_finished(&self) -> bool {
        self.greenlet.is_finished()
    }

    /// The underlying greenlet (for `kill`, `join_timeout`, …).
    pub fn into_greenlet(self) -> Greenlet<T> {
        self.greenlet
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("thread", &self.thread)
            .finish_non_exhaustive()
    }
}

/// Thread factory, as `std::thread::Builder`.
#[derive(Debug, Default)]
pub struct Builder {
    inner: greenlet::Builder,
}

impl Builder {
    /// A builder with default settings.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the thread.
    pub fn name(self, name: String) -> Builder {
        Builder {
            inner: self.inner.name(name),
        }
    }

    /// Stack size in bytes (rounded up to whole pages).
    pub fn stack_size(self, size: usize) -> Builder {
        Builder {
            inner: self.inner.stack_size(size),
        }
    }

    /// Spawns the thread.
    ///
    /// # Errors
    /// As [`greenlet::Builder::spawn`].
    ///
    /// # Panics
    /// If the name contains a NUL byte, as std does.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.check_name();
        self.inner.spawn(f).map(JoinHandle::new)
    }

    /// std's rule for thread names, with std's message.
    #[track_caller]
    fn check_name(&self) {
        if let Some(name) = self.inner.name_ref()
            && let Err(e) = std::ffi::CString::new(name)
        {
            panic!("thread name may not contain interior null bytes: {e:?}");
        }
    }

    /// Spawns a scoped thread.
    ///
    /// # Errors
    /// As [`greenlet::Builder::spawn`].
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        self.check_name();
        scope.spawn_with(self.inner, f)
    }
}

/// Spawns a green thread, as `std::thread::spawn`.
///
/// # Panics
/// If the green thread cannot be created (the message names the limit and the fix).
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    JoinHandle::new(greenlet::spawn(f))
}
