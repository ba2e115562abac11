//! The execution context of the running code: a green thread, or a plain OS thread.
//!
//! Each context owns the *pending-interrupt slot* that `Greenlet::kill` and `Timeout` write and
//! that the park primitive checks on every park and every wake-up. This is greenshim's own
//! mechanism rather than may's `cancel()`: may's cancel bit is sticky, `wait_io` swallows it and
//! socket writes ignore it (reference/may.md §4).
//!
//! The slot is one `AtomicU64`: `0` is "nothing pending", [`KILL`] is a kill, and any larger
//! value is the id of an expired [`Timeout`](Interrupt::Timeout). Timeout ids grow with time, so
//! among the timeouts active in one context an enclosing one always has a smaller id than the
//! ones nested in it. Writers keep the *smallest* value: a kill beats every timeout, and an
//! outer timeout beats an inner one, which is what unwinding needs (the outer handler must see
//! its own expiry even if an inner one fired first).
//!
//! ```text
//!  killer / timer thread                   green thread
//!  ---------------------                   ------------
//!  slot.fetch_min(code)  ----------------> (parked in may::park)
//!  waker.wake()          -- unpark ------> park returns
//!                                          slot != 0  -> Err(Interrupt) -> unwind
//! ```

use std::any::Any;
use std::cell::RefCell;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use super::wait::{WaitCell, WaitOn};
use super::waker::Waker;
pub use super::which::on_green_thread;
use crate::trace;

/// Slot value meaning "this green thread is being killed".
pub const KILL: u64 = 1;
/// First id handed out to a timeout.
const FIRST_TIMEOUT_ID: u64 = 2;

static NEXT_CONTEXT_ID: AtomicU64 = AtomicU64::new(1);
static NEXT_TIMEOUT_ID: AtomicU64 = AtomicU64::new(FIRST_TIMEOUT_ID);

/// Why a park was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// The green thread is being killed; it should unwind to its top frame.
    Kill,
    /// The timeout with this id expired.
    Timeout(u64),
}

impl Interrupt {
    fn code(self) -> u64 {
        match self {
            Interrupt::Kill => KILL,
            Interrupt::Timeout(id) => id,
        }
    }

    fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => None,
            KILL => Some(Interrupt::Kill),
            id => Some(Interrupt::Timeout(id)),
        }
    }

    /// Unwinds the current stack with this interrupt as the payload, unless the stack is already
    /// unwinding (a destructor that blocks during a kill), in which case it returns so the
    /// blocking call can give up quietly. `resume_unwind` does not run the panic hook, so a kill
    /// or timeout prints nothing.
    pub fn raise(self) {
        if !std::thread::panicking() {
            std::panic::resume_unwind(Box::new(InterruptUnwind(self)));
        }
    }
}

/// The unwind payload of an interrupt. The greenlet's top frame and `Timeout::run` catch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterruptUnwind(pub Interrupt);

impl InterruptUnwind {
    /// The interrupt carried by an unwind payload, if it is one.
    pub fn of(payload: &(dyn Any + Send)) -> Option<Interrupt> {
        payload.downcast_ref::<InterruptUnwind>().map(|u| u.0)
    }
}

/// Allocates an id for a new timeout (greater than every id handed out before).
pub fn next_timeout_id() -> u64 {
    NEXT_TIMEOUT_ID.fetch_add(1, Ordering::Relaxed)
}

/// One green thread or one plain OS thread.
#[derive(Debug)]
pub struct Context {
    id: u64,
    name: Option<String>,
    spawn_site: Option<&'static Location<'static>>,
    green: bool,
    /// `0`, [`KILL`] or a timeout id; see the module docs for the ordering rule.
    interrupt: AtomicU64,
    /// The token of `thread::park`/`Thread::unpark`, separate from the runtime's internal
    /// wake-ups so a user's park is not satisfied by greenshim's own unparks.
    unpark_token: AtomicBool,
    /// Set by the green thread itself when it first runs; a plain thread's is set at creation.
    waker: OnceLock<Waker>,
    /// The code of an interrupt that an interposed libc call reported as its result instead of
    /// unwinding (it cannot unwind through its C caller); 0 if none.
    delivered: AtomicU64,
    /// Whether the green thread is parked (for diagnostics).
    parked: AtomicBool,
    /// The deadline of the current park, as nanoseconds after [`epoch`] (0: none).
    park_deadline: AtomicU64,
    /// What the green thread waits on, while a wait is annotated.
    wait: WaitCell,
}

/// The instant park deadlines are counted from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Restores a context's previous wait annotation when dropped.
pub struct WaitGuard<'a> {
    ctx: &'a Context,
    previous: Option<WaitOn>,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        self.ctx.wait.set(self.previous);
    }
}

impl Context {
    /// A context for a green thread that has not started yet.
    pub fn new_green(
        name: Option<String>,
        spawn_site: Option<&'static Location<'static>>,
    ) -> Arc<Self> {
        let ctx = Arc::new(Self::new(name, spawn_site, true));
        registry::register(&ctx);
        ctx
    }

    fn new(
        name: Option<String>,
        spawn_site: Option<&'static Location<'static>>,
        green: bool,
    ) -> Self {
        Context {
            id: NEXT_CONTEXT_ID.fetch_add(1, Ordering::Relaxed),
            name,
            spawn_site,
            green,
            interrupt: AtomicU64::new(0),
            unpark_token: AtomicBool::new(false),
            waker: OnceLock::new(),
            delivered: AtomicU64::new(0),
            parked: AtomicBool::new(false),
            park_deadline: AtomicU64::new(0),
            wait: WaitCell::default(),
        }
    }

    /// Annotates the waits of this context with `on` until the guard is dropped (shown by
    /// `run_info`, read by the deadlock check).
    pub fn waiting(&self, on: WaitOn) -> WaitGuard<'_> {
        let previous = self.wait.get();
        self.wait.set(Some(on));
        WaitGuard {
            ctx: self,
            previous,
        }
    }

    /// What the context waits on, if its wait is annotated.
    pub fn waiting_on(&self) -> Option<WaitOn> {
        self.wait.get()
    }

    /// Whether the green thread is parked.
    pub fn is_parked(&self) -> bool {
        self.parked.load(Ordering::Acquire)
    }

    /// The deadline of the current park, if any.
    pub fn park_deadline(&self) -> Option<Instant> {
        match self.park_deadline.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(epoch() + std::time::Duration::from_nanos(ns)),
        }
    }

    /// Records that the green thread parks, until `deadline`.
    pub(crate) fn note_parked(&self, deadline: Option<Instant>) {
        let ns = deadline.map_or(0, |d| {
            u64::try_from(d.saturating_duration_since(epoch()).as_nanos())
                .unwrap_or(u64::MAX)
                .max(1)
        });
        self.park_deadline.store(ns, Ordering::Relaxed);
        self.parked.store(true, Ordering::Release);
    }

    /// Records that the green thread runs again.
    pub(crate) fn note_running(&self) {
        self.parked.store(false, Ordering::Release);
    }

    /// Unique id (never reused within a process).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The name given at spawn, or an OS thread's name.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where the green thread was spawned, if known.
    pub fn spawn_site(&self) -> Option<&'static Location<'static>> {
        self.spawn_site
    }

    /// Whether this is a green thread's context.
    pub fn is_green(&self) -> bool {
        self.green
    }

    /// The waker, once the context's code has started running.
    pub fn waker(&self) -> Option<&Waker> {
        self.waker.get()
    }

    /// The pending interrupt, if any.
    pub fn pending(&self) -> Option<Interrupt> {
        Interrupt::from_code(self.interrupt.load(Ordering::SeqCst))
    }

    /// Posts an interrupt (keeping the stronger of it and any already pending) and wakes the
    /// context so that its current park, if any, returns and sees it.
    pub fn interrupt(&self, what: Interrupt) {
        if let Some(w) = self.post(what) {
            w.wake();
        }
    }

    /// Posts an interrupt without waking; returns the waker to wake (if the context has
    /// started running).
    pub fn post(&self, what: Interrupt) -> Option<Waker> {
        let code = what.code();
        self.interrupt
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |cur| {
                (cur == 0 || code < cur).then_some(code)
            })
            .ok();
        self.waker.get().cloned()
    }

    /// Withdraws the timeout `id` if it is the pending interrupt (its `Timeout` has ended).
    pub fn clear_timeout(&self, id: u64) {
        self.interrupt
            .compare_exchange(id, 0, Ordering::SeqCst, Ordering::SeqCst)
            .ok();
    }

    /// Records that `what` ended an interposed libc call early, reported through the call's
    /// result (see `interpose`), so that the `Timeout` or kill it belongs to can tell.
    pub fn deliver(&self, what: Interrupt) {
        self.delivered.store(what.code(), Ordering::SeqCst);
    }

    /// True (and forgotten) if `what` was delivered through an interposed call's result.
    pub fn take_delivered(&self, what: Interrupt) -> bool {
        self.delivered
            .compare_exchange(what.code(), 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Makes the `thread::park` token available and wakes the context.
    pub fn unpark_user(&self) {
        self.unpark_token.store(true, Ordering::Release);
        if let Some(w) = self.waker.get() {
            w.wake();
        }
    }

    /// Consumes the `thread::park` token; true if it was available.
    pub fn take_user_token(&self) -> bool {
        self.unpark_token.swap(false, Ordering::Acquire)
    }

    /// Binds this context to the running green thread: records its waker and stores the context
    /// (and `on_exit`) in the green thread's local storage. may drops that storage when the
    /// green thread's stack is released, even after a stack overflow that skipped every other
    /// destructor, so `on_exit` is a reliable "this green thread is gone" signal.
    ///
    /// Must be the first thing a green thread spawned by greenshim does.
    pub fn bind_current(self: &Arc<Self>, on_exit: Option<Arc<dyn OnExit>>) {
        debug_assert!(may::coroutine::is_coroutine());
        self.waker.set(Waker::current_green()).ok();
        trace::switch_in(self.id);
        BINDING.with(|b| {
            *b.borrow_mut() = Some(Binding {
                ctx: self.clone(),
                on_exit,
            });
        });
    }
}

/// Told when a green thread's local storage is released (see [`Context::bind_current`]).
pub trait OnExit: Send + Sync {
    /// The green thread is gone.
    fn on_exit(&self);
}

/// What a green thread's local storage holds for greenshim.
struct Binding {
    ctx: Arc<Context>,
    on_exit: Option<Arc<dyn OnExit>>,
}

impl Drop for Binding {
    fn drop(&mut self) {
        registry::forget(self.ctx.id);
        if let Some(h) = self.on_exit.take() {
            h.on_exit();
        }
        // The green thread is ending, maybe inside its own park's bookkeeping: if its context is
        // not shared any more, its waker may hold its last handle (see `drop_later`).
        if let Some(ctx) = Arc::get_mut(&mut self.ctx)
            && let Some(Waker::Green(co)) = ctx.waker.take()
        {
            super::waker::drop_later(co);
        }
    }
}

may::coroutine_local!(static BINDING: RefCell<Option<Binding>> = RefCell::new(None));

crate::os_local_ref! {
    static THREAD_CONTEXT: Arc<Context> = {
        let t = std::thread::current();
        let ctx = Context::new(t.name().map(str::to_owned), None, false);
        ctx.waker.set(Waker::current_thread()).ok();
        Arc::new(ctx)
    };
}

crate::os_local! {
    static SILENCE_SPAWN_PANICS: bool = false;
}

/// The context of the running code. A coroutine that greenshim did not spawn (raw may) gets a
/// context on first use.
pub fn current() -> Arc<Context> {
    if !on_green_thread() {
        return THREAD_CONTEXT.with(Arc::clone);
    }
    BINDING.with(|b| {
        if let Some(binding) = b.borrow().as_ref() {
            return binding.ctx.clone();
        }
        let ctx = Context::new_green(None, None);
        ctx.waker.set(Waker::current_green()).ok();
        trace::switch_in(ctx.id);
        *b.borrow_mut() = Some(Binding {
            ctx: ctx.clone(),
            on_exit: None,
        });
        ctx
    })
}

/// Runs `f` (a may spawn) with the "failed to alloc sys stack" panic of may's stack allocator
/// kept off stderr: greenshim turns that panic into an `io::Error` with a useful message, so
/// the raw one must not reach the user. `f` must not park (the flag is per OS thread).
pub fn with_spawn_panics_silenced<R>(f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            SILENCE_SPAWN_PANICS.set(false);
            crate::sys::pass::leave_no_park();
        }
    }
    crate::sys::pass::enter_no_park();
    SILENCE_SPAWN_PANICS.set(true);
    let _reset = Reset;
    f()
}

/// Chains a panic hook that drops panics raised inside [`with_spawn_panics_silenced`] and
/// passes every other panic to the hook that was installed before.
pub(crate) fn install_panic_filter() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !SILENCE_SPAWN_PANICS.get() {
            previous(info);
        }
    }));
}

/// The registry: Every green thread greenshim knows (spawned by it, or a raw may coroutine that used it), listed from creation until its stack is released, for the diagnostics.
pub mod registry {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex, MutexGuard};

    use crate::park::context::Context;

    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    const SHARDS: usize = 16;
    static REGISTRY: [Mutex<BTreeMap<u64, Arc<Context>>>; SHARDS] =
        [const { Mutex::new(BTreeMap::new()) }; SHARDS];

    fn shard(id: u64) -> &'static Mutex<BTreeMap<u64, Arc<Context>>> {
        &REGISTRY[(id as usize) % SHARDS]
    }

    /// Lists a new green thread.
    pub(crate) fn register(ctx: &Arc<Context>) {
        lock(shard(ctx.id())).insert(ctx.id(), ctx.clone());
    }

    /// Removes green thread `id` from the list (its stack is gone, or it never started).
    pub fn forget(id: u64) {
        lock(shard(id)).remove(&id);
    }

    /// Every listed green thread, by id.
    pub fn live() -> Vec<Arc<Context>> {
        let mut all = Vec::new();
        for s in &REGISTRY {
            all.extend(lock(s).values().cloned());
        }
        all.sort_by_key(|c| c.id());
        all
    }

    /// Whether some live green thread satisfies `pred` (stops at the first; no snapshot).
    pub fn any(mut pred: impl FnMut(&Context) -> bool) -> bool {
        REGISTRY.iter().any(|s| lock(s).values().any(|c| pred(c)))
    }

    /// The context of green thread `id`, if it is listed.
    pub fn get(id: u64) -> Option<Arc<Context>> {
        lock(shard(id)).get(&id).cloned()
    }
}
