//! Spawning: [`Builder`], [`spawn`], [`spawn_later`] and the body every green thread runs.

use std::io;
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use greenshim_shim::park::context::{self, Context, Interrupt, InterruptUnwind};
use greenshim_shim::park::waker::Waker;
use greenshim_shim::runtime;

use super::{Greenlet, JoinError, LIVE, Shared, State, UNFINISHED};

/// Configures a green thread before spawning it: name and stack size.
#[derive(Debug, Default, Clone)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with the runtime's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the green thread (shown by diagnostics and `thread::current().name()`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The name given so far.
    pub(crate) fn name_ref(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Stack size in bytes, rounded up to whole pages. Only green threads with the runtime's
    /// default stack size reuse pooled stacks.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Spawns the green thread.
    ///
    /// # Errors
    /// - `InvalidInput` for a stack size outside the accepted range;
    /// - `OutOfMemory` when the stack cannot be allocated: the message names the limit (the
    ///   stack arena's size, or `vm.max_map_count` where stacks are mapped one by one) and the
    ///   fix;
    /// - `Unsupported` in a child forked without exec, where the runtime's threads do not
    ///   exist.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<Greenlet<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let site = Location::caller();
        if greenshim_shim::sys::in_forked_child() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "greenshim: cannot spawn a green thread in a forked child: fork() copies only \
                 the calling thread, not the runtime's workers (exec, or use plain threads; \
                 greenshim's blocking calls work there as on plain threads)",
            ));
        }
        runtime::ensure_started();
        crate::foreign::register_probes();
        let mut builder = greenshim_shim::may::coroutine::Builder::new();
        if let Some(bytes) = self.stack_size {
            builder = builder.stack_size(runtime::stack_words(bytes)?);
        }
        let live = LIVE.fetch_add(1, Ordering::AcqRel);
        if live >= runtime::stack_budget_now() {
            LIVE.fetch_sub(1, Ordering::Release);
            return Err(runtime::stack_limit_error(live));
        }
        let ctx = Context::new_green(self.name, Some(site));
        let shared = Arc::new(Shared {
            ctx: ctx.clone(),
            done: AtomicBool::new(false),
            state: Mutex::new(State {
                result: None,
                done: false,
                listeners: Vec::new(),
            }),
        });
        let inner = shared.clone();
        let body = move || {
            // Runs at once on the spawner's thread, up to this park; the first wake-up (below)
            // queues it where every idle worker can take it.
            greenshim_shim::may::coroutine::park();
            run_greenlet(inner, f)
        };
        // Counted before it can run (and finish); uncounted below if the spawn fails.
        UNFINISHED.fetch_add(1, Ordering::AcqRel);
        let spawned = context::with_spawn_panics_silenced(|| {
            panic::catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: may's spawn is unsafe because a green thread can resume on another OS
                // thread, which makes `std::thread_local!` values unstable across parks.
                // greenshim documents that caveat at the crate root and offers `green_local!`
                // instead; what greenshim keeps per green thread is in coroutine-local storage.
                // Its stack comes from greenshim's arena (see `greenshim_shim::stacks`).
                //
                // `spawn_local` runs the new green thread on this thread until its first park
                // instead of queueing it: may's `spawn` puts it on a worker's *global* queue,
                // which only that worker drains and no other worker can steal from. Behind a
                // worker that computes, or that a green thread blocks in a thread-bound wait, it
                // would not start until that ends (for good, when it is the green thread that
                // would end it: `tests/spawn_placement.rs`), and every such spawn wrote to that
                // worker's eventfd.
                greenshim_shim::stacks::serving(|| unsafe { builder.spawn_local(body) })
            }))
        });
        match spawned {
            Ok(Ok(handle)) => {
                // From a green thread: onto this worker's local queue, and the next worker is
                // woken to steal it if idle. From any other thread: through the dispatcher, to
                // the local queue of the first idle worker.
                Waker::Green(handle.coroutine().clone()).wake();
                if context::on_green_thread() {
                    greenshim_shim::fd::reactor::share_new_work();
                }
                Ok(Greenlet { shared })
            }
            Ok(Err(e)) => {
                LIVE.fetch_sub(1, Ordering::Release);
                UNFINISHED.fetch_sub(1, Ordering::AcqRel);
                greenshim_shim::park::context::registry::forget(shared.ctx.id());
                Err(e)
            }
            // may's stack allocator panics ("failed to alloc sys stack") when mmap or mprotect
            // fails; by far the most common cause is the mapping limit.
            Err(_) => {
                LIVE.fetch_sub(1, Ordering::Release);
                UNFINISHED.fetch_sub(1, Ordering::AcqRel);
                greenshim_shim::park::context::registry::forget(shared.ctx.id());
                Err(runtime::stack_limit_error(live))
            }
        }
    }
}

/// The body of every green thread greenshim spawns.
fn run_greenlet<F, T>(shared: Arc<Shared<T>>, f: F)
where
    F: FnOnce() -> T,
    T: Send + 'static,
{
    shared.ctx.bind_current(Some(shared.clone()));
    greenshim_shim::stacks::note_owner(shared.ctx.id(), shared.ctx.name());
    let outcome = if shared.ctx.pending() == Some(Interrupt::Kill) {
        // Killed before it started: `f` never runs.
        drop(f);
        Err(JoinError::Killed)
    } else {
        match panic::catch_unwind(AssertUnwindSafe(f)) {
            // A kill that interposed libc calls reported as their results (they cannot
            // unwind) ended the function early.
            Ok(_) if shared.ctx.take_delivered(Interrupt::Kill) => Err(JoinError::Killed),
            Ok(v) => Ok(v),
            Err(payload) => Err(match InterruptUnwind::of(&*payload) {
                Some(Interrupt::Kill) => JoinError::Killed,
                _ => JoinError::Panicked(payload),
            }),
        }
    };
    shared.complete(outcome);
    greenshim_shim::stacks::rearm_sentinel();
    // The worker is about to leave this green thread for good.
    greenshim_shim::trace::switch_out();
}

/// Spawns `f` on a new green thread.
///
/// # Panics
/// If the green thread cannot be created; the message names the limit and the fix (see
/// [`Builder::spawn`] for the fallible form).
#[track_caller]
pub fn spawn<F, T>(f: F) -> Greenlet<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Builder::new().spawn(f) {
        Ok(g) => g,
        Err(e) => panic!("{e}"),
    }
}

/// Spawns `f` on a new green thread that starts running after `delay`. Killing it before then
/// means `f` never runs.
///
/// # Panics
/// As [`spawn`].
#[track_caller]
pub fn spawn_later<F, T>(delay: Duration, f: F) -> Greenlet<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn(move || {
        crate::time::sleep(delay);
        f()
    })
}

/// The id of the running green thread (or of the OS thread's context).
pub fn current_id() -> u64 {
    context::current().id()
}
