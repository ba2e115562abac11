//! `Greenlet<T>`: a handle to a green thread, with gevent's lifecycle (join, kill, timeouts).
//!
//! A greenlet's shared state lives in [`Shared`]: the result slot, a `done` flag and the
//! listeners to notify at completion. The green thread completes it itself when its function
//! returns, panics or is killed; if the green thread dies without unwinding (a stack overflow
//! caught by the guard page), may still frees its local storage, and the [`ExitGuard`] stored
//! there completes the greenlet with [`JoinError::StackOverflow`] so that joiners never hang.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use greenshim_shim::monitor::{self, DeadlockReport, DeadlockWatch, PanicReport, WaitOn};
use greenshim_shim::park::context::{self, Context, Interrupt, InterruptUnwind};
use greenshim_shim::park::{self, Waker};
use greenshim_shim::runtime;

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

/// Someone to tell when a greenlet completes.
pub(crate) enum Listener {
    Wake(Waker),
    Queue(Arc<DoneQueue>, usize),
    Call(Box<dyn FnOnce() + Send>),
}

/// Completion order for [`iwait`](crate::iwait): indices of completed greenlets, and the waker
/// of whoever iterates.
pub(crate) struct DoneQueue {
    state: Mutex<(VecDeque<usize>, Option<Waker>)>,
}

impl DoneQueue {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(DoneQueue {
            state: Mutex::new((VecDeque::new(), None)),
        })
    }

    pub(crate) fn push(&self, index: usize) {
        let waker = {
            let mut s = lock(&self.state);
            s.0.push_back(index);
            s.1.clone()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Pops the next completed index, or records the caller's waker for the next push.
    pub(crate) fn pop_or_register(&self) -> Option<usize> {
        let mut s = lock(&self.state);
        let next = s.0.pop_front();
        if next.is_none() {
            s.1 = Some(Waker::current());
        }
        next
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct State<T> {
    result: Option<Result<T, JoinError>>,
    done: bool,
    listeners: Vec<Listener>,
}

pub(crate) struct Shared<T> {
    ctx: Arc<Context>,
    done: AtomicBool,
    state: Mutex<State<T>>,
}

impl<T> Shared<T> {
    /// Stores the outcome (first call wins) and notifies every listener.
    fn complete(&self, result: Result<T, JoinError>) {
        let listeners = {
            let mut s = lock(&self.state);
            if s.done {
                return;
            }
            s.result = Some(result);
            s.done = true;
            std::mem::take(&mut s.listeners)
        };
        UNFINISHED.fetch_sub(1, Ordering::AcqRel);
        self.done.store(true, Ordering::Release);
        for l in listeners {
            match l {
                Listener::Wake(w) => w.wake(),
                Listener::Queue(q, i) => q.push(i),
                Listener::Call(f) => f(),
            }
        }
    }

    /// Registers `l`, or returns it if the greenlet is already done.
    pub(crate) fn listen(&self, l: Listener) -> Option<Listener> {
        let mut s = lock(&self.state);
        if s.done {
            return Some(l);
        }
        s.listeners.push(l);
        None
    }

    fn take_result(&self) -> Option<Result<T, JoinError>> {
        lock(&self.state).result.take()
    }
}

impl<T> Drop for Shared<T> {
    /// The last handle and the green thread itself are gone: a panic nobody took is reported.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(Err(e @ JoinError::Panicked(_))) = &state.result {
            monitor::report(monitor::Report::UnjoinedPanic(PanicReport {
                id: self.ctx.id(),
                name: self.ctx.name().map(str::to_owned),
                spawn_site: self.ctx.spawn_site(),
                message: e.panic_message().map(str::to_owned),
            }));
        }
    }
}

/// Type-erased completion for the exit guard.
trait Abandon: Send + Sync {
    fn abandon(&self);
}

impl<T: Send> Abandon for Shared<T> {
    fn abandon(&self) {
        self.complete(Err(JoinError::StackOverflow));
    }
}

/// Lives in the green thread's local storage; dropped when may releases the stack.
struct ExitGuard(Arc<dyn Abandon>);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        self.0.abandon();
        LIVE.fetch_sub(1, Ordering::Release);
    }
}

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
    /// - `OutOfMemory` when the stack cannot be allocated: the message names the limit
    ///   (`vm.max_map_count`) and the fix;
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
        // Dealt round robin over the workers by greenshim's own counter rather than may's, which
        // every may-internal wake-up from outside the workers also advances: two green threads
        // spawned one after the other from one thread start on different workers.
        let mut builder = greenshim_shim::may::coroutine::Builder::new().id(next_worker());
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
        let body = move || run_greenlet(inner, f);
        // Counted before it can run (and finish); uncounted below if the spawn fails.
        UNFINISHED.fetch_add(1, Ordering::AcqRel);
        let spawned = context::with_spawn_panics_silenced(|| {
            panic::catch_unwind(AssertUnwindSafe(|| {
                // SAFETY: may's spawn is unsafe because a green thread can resume on another OS
                // thread, which makes `std::thread_local!` values unstable across parks.
                // greenshim documents that caveat at the crate root and offers `green_local!`
                // instead; what greenshim keeps per green thread is in coroutine-local storage.
                unsafe { builder.spawn(body) }
            }))
        });
        match spawned {
            Ok(Ok(_detached)) => Ok(Greenlet { shared }),
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

/// The worker the next green thread starts on (may puts it in that worker's queue).
fn next_worker() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed) % runtime::settings().workers.max(1)
}

/// The body of every green thread greenshim spawns.
fn run_greenlet<F, T>(shared: Arc<Shared<T>>, f: F)
where
    F: FnOnce() -> T,
    T: Send + 'static,
{
    let guard: Box<dyn Any> = Box::new(ExitGuard(shared.clone()));
    shared.ctx.bind_current(Some(guard));
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
