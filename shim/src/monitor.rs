//! Diagnostics: which green thread each worker runs, what every parked green thread waits on,
//! the blocking detector, the run-info dump, the deadlock check, and where reports go.
//!
//! **Worker slots.** Every worker OS thread has a slot holding the id of the green thread it is
//! running (0 when it is between green threads) and a switch counter. The park primitive
//! updates it on every switch: two relaxed stores by the owning thread, no clock read. The
//! watchdog samples the slots; a slot whose counter has not moved for `max_blocking_time` while
//! a green thread is in it is a worker that one green thread has held without parking.
//!
//! **libc calls.** Every call to a real libc function made on a worker (the interposers'
//! pass-through, greenshim's own syscalls) records the function's name in the slot for its
//! duration, so a report can say "blocked in `read`" when the hook layer knows it.
//!
//! **Registry.** Every green thread greenshim knows (spawned by it, or a raw may coroutine that
//! used it) is listed from creation until its stack is released. A parked one carries what it
//! waits on ([`WaitOn`]) and its deadline.
//!
//! **Deadlock.** [`DeadlockWatch`] is what a plain thread blocked in `join` polls: it reports
//! only when every known green thread is parked on something only another green thread could
//! signal (a lock, channel, queue, event, join, futex or `thread::park`) with no deadline, or
//! runs on a worker that is blocked in the kernel on per-OS-thread state with no timeout (a
//! patched `thread::park`; then runnable green threads count as stuck too once every worker is
//! blocked so), no other worker runs anything, every thread outside greenshim and may but the
//! joiner is blocked in a futex wait without timeout (it cannot wake anyone before someone wakes
//! it), and all that stayed so over several checks with no park in between. Anything it cannot
//! see through (an fd, a timer, an offload job, a thread doing anything else) means "not a
//! deadlock".

use std::collections::BTreeMap;
use std::fmt;
use std::os::fd::RawFd;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::{Duration, Instant};

use crate::context::{self, Context};
use crate::sys;

/// What a parked green thread waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOn {
    /// An fd to become readable (`write: false`) or writable.
    Fd {
        /// The fd.
        fd: RawFd,
        /// Waiting to write rather than read.
        write: bool,
    },
    /// Any of several fds (an interposed `poll`/`select`/`epoll_wait`).
    Poll {
        /// How many fds.
        fds: usize,
    },
    /// A deadline only (a sleep).
    Sleep,
    /// A job running on the offload pool.
    Offload,
    /// Another green thread to finish.
    Join {
        /// The id of the green thread joined.
        id: u64,
    },
    /// `thread::park`'s token.
    Park,
    /// A greenshim lock, channel, queue or event (`what` names it; `addr` tells instances apart).
    Object {
        /// The kind of object and operation, e.g. `"Mutex::lock"` or `"Receiver::recv"`.
        what: &'static str,
        /// The object's address.
        addr: usize,
    },
}

impl WaitOn {
    /// Whether only another green thread or plain thread could end this wait (no fd, timer,
    /// pool job or kernel event can).
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            WaitOn::Join { .. } | WaitOn::Park | WaitOn::Object { .. }
        )
    }
}

impl fmt::Display for WaitOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitOn::Fd { fd, write: false } => write!(f, "fd {fd} to become readable"),
            WaitOn::Fd { fd, write: true } => write!(f, "fd {fd} to become writable"),
            WaitOn::Poll { fds } => write!(f, "poll on {fds} fd(s)"),
            WaitOn::Sleep => f.write_str("a sleep"),
            WaitOn::Offload => f.write_str("a job on the offload pool"),
            WaitOn::Join { id } => write!(f, "green thread #{id} to finish"),
            WaitOn::Park => f.write_str("thread::park"),
            WaitOn::Object { what, addr } => write!(f, "{what} on {addr:#x}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Worker slots

/// One worker OS thread's switch record.
struct Slot {
    index: usize,
    /// The worker's kernel thread id.
    tid: i32,
    /// Id of the green thread running on it; 0 between green threads.
    current: AtomicU64,
    /// Bumped on every switch (written by the owning thread only).
    switches: AtomicU64,
    /// The libc function the running green thread is inside, or null.
    libc: AtomicPtr<&'static str>,
}

static SLOTS: Mutex<Vec<&'static Slot>> = Mutex::new(Vec::new());

thread_local! {
    static SLOT: std::cell::Cell<Option<&'static Slot>> = const { std::cell::Cell::new(None) };
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// This OS thread's slot. Not inlined, so that a green thread that moved to another worker
/// during a park never uses a thread-local address computed before it.
#[inline(never)]
fn slot() -> &'static Slot {
    SLOT.with(|s| {
        s.get().unwrap_or_else(|| {
            let mut all = lock(&SLOTS);
            let new: &'static Slot = Box::leak(Box::new(Slot {
                index: all.len(),
                tid: sys::gettid(),
                current: AtomicU64::new(0),
                switches: AtomicU64::new(0),
                libc: AtomicPtr::new(std::ptr::null_mut()),
            }));
            all.push(new);
            s.set(Some(new));
            new
        })
    })
}

impl Slot {
    /// The libc function the running green thread is inside, if any.
    fn libc_call(&self) -> Option<&'static str> {
        let p = self.libc.load(Ordering::Relaxed);
        // SAFETY: a non-null pointer in a slot points to a `&'static str` static (`in_libc`).
        (!p.is_null()).then(|| unsafe { *p })
    }
}

fn bump(s: &Slot) {
    // Only the owning thread writes the counter: a load and a store, no read-modify-write.
    s.switches
        .store(s.switches.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

/// The green thread `id` starts or resumes running on this worker. Called on green threads
/// only.
#[inline]
pub fn switch_in(id: u64) {
    let s = slot();
    s.current.store(id, Ordering::Relaxed);
    bump(s);
}

/// The running green thread is about to park, yield or finish; returns its id (for the
/// matching [`switch_in`]). Called on green threads only.
#[inline]
pub fn switch_out() -> u64 {
    let s = slot();
    let id = s.current.load(Ordering::Relaxed);
    s.current.store(0, Ordering::Relaxed);
    bump(s);
    id
}

/// Marks the calling green thread as inside libc's `name` until the mark is dropped.
pub struct LibcMark(Option<&'static Slot>);

impl Drop for LibcMark {
    #[inline]
    fn drop(&mut self) {
        if let Some(s) = self.0 {
            s.libc.store(std::ptr::null_mut(), Ordering::Relaxed);
        }
    }
}

/// Records that the caller enters libc's `name` (a no-op off green threads).
#[inline]
pub fn in_libc(name: &'static &'static str) -> LibcMark {
    if !context::on_green_thread() {
        return LibcMark(None);
    }
    let s = slot();
    s.libc
        .store(std::ptr::from_ref(name).cast_mut(), Ordering::Relaxed);
    LibcMark(Some(s))
}

fn slots() -> Vec<&'static Slot> {
    lock(&SLOTS).clone()
}

// ---------------------------------------------------------------------------------------------
// Registry

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

fn live_contexts() -> Vec<Arc<Context>> {
    let mut all = Vec::new();
    for s in &REGISTRY {
        all.extend(lock(s).values().cloned());
    }
    all.sort_by_key(|c| c.id());
    all
}

// ---------------------------------------------------------------------------------------------
// Run info

/// What a green thread is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Running on the worker with this index.
    Running {
        /// The worker's index (in order of first use).
        worker: usize,
    },
    /// Ready to run: not started yet, yielded, or woken and queued.
    Runnable,
    /// Parked.
    Parked,
}

/// One live green thread, as [`run_info`] saw it.
#[derive(Debug, Clone)]
pub struct GreenThreadInfo {
    /// Unique id.
    pub id: u64,
    /// The name given at spawn.
    pub name: Option<String>,
    /// Where it was spawned.
    pub spawn_site: Option<&'static Location<'static>>,
    /// Running, runnable or parked.
    pub state: State,
    /// What a parked green thread waits for, when the wait is annotated.
    pub waiting_on: Option<WaitOn>,
    /// How long until a parked green thread's deadline, if it has one (zero: passed).
    pub deadline_in: Option<Duration>,
    /// For a running one: the libc function it is inside, if any.
    pub in_libc: Option<&'static str>,
}

/// `#12 "name" (spawned at src/main.rs:10:5)`, leaving out what is unknown.
fn describe(id: u64, name: Option<&str>, site: Option<&Location<'_>>) -> String {
    let mut s = format!("#{id}");
    if let Some(n) = name {
        s += &format!(" {n:?}");
    }
    if let Some(l) = site {
        s += &format!(" (spawned at {l})");
    }
    s
}

impl GreenThreadInfo {
    /// Green thread `id` (its context, if still listed) in `state`; what a parked one waits
    /// on and its deadline come from the context.
    fn new(id: u64, ctx: Option<&Context>, state: State, in_libc: Option<&'static str>) -> Self {
        let parked = ctx.filter(|_| state == State::Parked);
        GreenThreadInfo {
            id,
            name: ctx.and_then(|c| c.name().map(str::to_owned)),
            spawn_site: ctx.and_then(Context::spawn_site),
            state,
            waiting_on: parked.and_then(Context::waiting_on),
            deadline_in: parked
                .and_then(Context::park_deadline)
                .map(|d| d.saturating_duration_since(Instant::now())),
            in_libc,
        }
    }

    /// `#12 "name" (spawned at src/main.rs:10:5)`.
    pub fn who(&self) -> String {
        describe(self.id, self.name.as_deref(), self.spawn_site)
    }
}

impl fmt::Display for GreenThreadInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.who())?;
        match self.state {
            State::Running { worker } => {
                write!(f, "running on worker {worker}")?;
                if let Some(c) = self.in_libc {
                    write!(f, ", inside libc {c}")?;
                }
                Ok(())
            }
            State::Runnable => f.write_str("runnable"),
            State::Parked => {
                match self.waiting_on {
                    Some(w) => write!(f, "parked waiting for {w}")?,
                    None => f.write_str("parked")?,
                }
                match self.deadline_in {
                    Some(d) => write!(f, ", deadline in {d:.1?}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Every live green thread at one moment; `Display` prints one per line.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// The green threads, by id.
    pub green_threads: Vec<GreenThreadInfo>,
}

impl fmt::Display for RunInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} live green thread(s)", self.green_threads.len())?;
        for g in &self.green_threads {
            writeln!(f, "  {g}")?;
        }
        Ok(())
    }
}

/// What a worker is doing for the green thread it runs.
#[derive(Debug, Clone, Copy)]
struct Run {
    worker: usize,
    tid: i32,
    libc: Option<&'static str>,
}

impl Run {
    /// Whether the worker is blocked for good unless another thread acts: inside a futex wait
    /// on per-OS-thread state that the kernel shows without a timeout.
    fn stuck_in_kernel(&self) -> bool {
        self.libc == Some(THREAD_BOUND_FUTEX_WAIT) && sys::in_untimed_futex_wait(self.tid)
    }
}

/// The name under which a green thread's futex wait on per-OS-thread state (`thread::park`,
/// parking_lot's thread data), left to the kernel, shows as its libc call.
pub const THREAD_BOUND_FUTEX_WAIT: &str = "futex wait on per-OS-thread state (blocks the worker)";

/// Which worker runs which green thread right now, and the libc call it is in.
fn running() -> BTreeMap<u64, Run> {
    let mut m = BTreeMap::new();
    for s in slots() {
        let id = s.current.load(Ordering::Relaxed);
        if id != 0 {
            let run = Run {
                worker: s.index,
                tid: s.tid,
                libc: s.libc_call(),
            };
            m.insert(id, run);
        }
    }
    m
}

/// Every live green thread greenshim knows: id, name, spawn site, state, and what a parked
/// one waits on.
pub fn run_info() -> RunInfo {
    let running = running();
    let green_threads = live_contexts()
        .iter()
        .map(|c| {
            let (state, in_libc) = match running.get(&c.id()) {
                Some(r) => (State::Running { worker: r.worker }, r.libc),
                None if c.is_parked() => (State::Parked, None),
                None => (State::Runnable, None),
            };
            GreenThreadInfo::new(c.id(), Some(c), state, in_libc)
        })
        .collect();
    RunInfo { green_threads }
}

// ---------------------------------------------------------------------------------------------
// Reports

/// A worker held by one green thread for longer than `max_blocking_time`.
#[derive(Debug, Clone)]
pub struct BlockingReport {
    /// The green thread.
    pub green_thread: GreenThreadInfo,
    /// The worker's index.
    pub worker: usize,
    /// How long it had run without parking when the report was made.
    pub running_for: Duration,
    /// The libc function it was inside at that moment, if any.
    pub in_libc: Option<&'static str>,
}

/// A green thread that panicked and whose result nobody took.
#[derive(Debug, Clone)]
pub struct PanicReport {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: Option<String>,
    /// Where it was spawned.
    pub spawn_site: Option<&'static Location<'static>>,
    /// The panic message, when the payload is a string.
    pub message: Option<String>,
}

/// Every green thread parked on something only another green thread could signal, with
/// nothing left running that could.
#[derive(Debug, Clone)]
pub struct DeadlockReport {
    /// The parked green threads and what each waits on.
    pub green_threads: Vec<GreenThreadInfo>,
}

/// What the monitor reports.
#[derive(Debug, Clone)]
pub enum Report {
    /// A green thread held its worker too long.
    Blocking(BlockingReport),
    /// A green thread panicked and nobody joined it.
    UnjoinedPanic(PanicReport),
    /// A join found every green thread deadlocked.
    Deadlock(DeadlockReport),
}

impl fmt::Display for BlockingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "green thread {} has run on worker {} for {:.0?} without parking",
            self.green_thread.who(),
            self.worker,
            self.running_for
        )?;
        match self.in_libc {
            Some(c) => write!(f, "; it is inside libc {c}, which blocks the worker"),
            None => f.write_str("; it is computing or blocked outside the hooked libc calls"),
        }?;
        f.write_str(" (the other green threads on this worker are waiting)")
    }
}

impl fmt::Display for PanicReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = describe(self.id, self.name.as_deref(), self.spawn_site);
        write!(f, "green thread {who}")?;
        match &self.message {
            Some(m) => write!(f, " panicked and was never joined: {m}"),
            None => f.write_str(" panicked and was never joined"),
        }
    }
}

impl fmt::Display for DeadlockReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deadlock: all {} green thread(s) are parked and nothing can wake them",
            self.green_threads.len()
        )?;
        for g in &self.green_threads {
            write!(f, "\n  {g}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Blocking(r) => r.fmt(f),
            Report::UnjoinedPanic(r) => r.fmt(f),
            Report::Deadlock(r) => r.fmt(f),
        }
    }
}

type Reporter = Arc<dyn Fn(&Report) + Send + Sync>;
static REPORTER: RwLock<Option<Reporter>> = RwLock::new(None);

/// Sends reports to `f` instead of the `log` facade (target `greenshim`, level warn).
pub fn set_reporter(f: impl Fn(&Report) + Send + Sync + 'static) {
    *REPORTER.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(f));
}

/// Sends reports to the `log` facade again.
pub fn clear_reporter() {
    *REPORTER.write().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Delivers `r` to the reporter, or to `log::warn!` when none is set.
pub fn report(r: Report) {
    let f = REPORTER.read().unwrap_or_else(|e| e.into_inner()).clone();
    match f {
        Some(f) => f(&r),
        None => log::warn!(target: "greenshim", "{r}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Blocking detector

/// Default `max_blocking_time`.
pub const DEFAULT_MAX_BLOCKING_TIME: Duration = Duration::from_millis(100);

static ENABLED: AtomicBool = AtomicBool::new(false);
static MAX_BLOCKING_NS: AtomicU64 = AtomicU64::new(100_000_000);
static WATCHDOG: OnceLock<()> = OnceLock::new();
static INCIDENTS: AtomicUsize = AtomicUsize::new(0);

/// Starts the blocking detector: a green thread that runs on one worker for longer than
/// `max_blocking_time` without parking is reported once, through [`report`]. Calling it again
/// changes the threshold.
pub fn enable(max_blocking_time: Duration) {
    let ns = u64::try_from(max_blocking_time.as_nanos())
        .unwrap_or(u64::MAX)
        .max(1_000_000);
    MAX_BLOCKING_NS.store(ns, Ordering::Relaxed);
    ENABLED.store(true, Ordering::Release);
    WATCHDOG.get_or_init(|| {
        std::thread::Builder::new()
            .name("greenshim-watchdog".into())
            .spawn(watchdog)
            .map(drop)
            .unwrap_or_else(|e| eprintln!("greenshim: cannot start the blocking detector: {e}"));
    });
}

/// Stops reporting (the watchdog thread idles).
pub fn disable() {
    ENABLED.store(false, Ordering::Release);
}

/// Whether the blocking detector is on.
pub fn is_enabled() -> bool {
    ENABLED.load(Ordering::Acquire)
}

/// The blocking detector's threshold.
pub fn max_blocking_time() -> Duration {
    Duration::from_nanos(MAX_BLOCKING_NS.load(Ordering::Relaxed))
}

/// Blocking incidents reported since start-up.
pub fn blocking_incidents() -> usize {
    INCIDENTS.load(Ordering::Relaxed)
}

/// Turns the detector on when `GREENSHIM_MONITOR` is `1`/`true`/`yes`/`on`, with
/// `GREENSHIM_MAX_BLOCKING_MS` as the threshold if set.
pub(crate) fn enable_from_env() {
    let on = std::env::var("GREENSHIM_MONITOR").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    });
    if on {
        let ms = std::env::var("GREENSHIM_MAX_BLOCKING_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok());
        enable(ms.map_or(DEFAULT_MAX_BLOCKING_TIME, Duration::from_millis));
    }
}

/// What the watchdog last saw in one slot.
#[derive(Clone, Copy)]
struct Seen {
    switches: u64,
    current: u64,
    since: Instant,
    reported: bool,
}

fn watchdog() {
    let mut seen: Vec<Option<Seen>> = Vec::new();
    loop {
        let max = max_blocking_time();
        std::thread::sleep((max / 5).clamp(Duration::from_millis(2), Duration::from_millis(50)));
        if !is_enabled() {
            seen.clear();
            continue;
        }
        let now = Instant::now();
        for s in slots() {
            if seen.len() <= s.index {
                seen.resize(s.index + 1, None);
            }
            let switches = s.switches.load(Ordering::Relaxed);
            let current = s.current.load(Ordering::Relaxed);
            let entry = &mut seen[s.index];
            match entry {
                Some(e) if e.switches == switches && e.current == current => {
                    if current != 0 && !e.reported && now - e.since >= max {
                        e.reported = true;
                        blocked(s, current, now - e.since);
                    }
                }
                _ => {
                    *entry = Some(Seen {
                        switches,
                        current,
                        since: now,
                        reported: false,
                    });
                }
            }
        }
    }
}

fn blocked(s: &Slot, id: u64, running_for: Duration) {
    let in_libc = s.libc_call();
    let ctx = lock(shard(id)).get(&id).cloned();
    let state = State::Running { worker: s.index };
    let green_thread = GreenThreadInfo::new(id, ctx.as_deref(), state, in_libc);
    INCIDENTS.fetch_add(1, Ordering::Relaxed);
    report(Report::Blocking(BlockingReport {
        green_thread,
        worker: s.index,
        running_for,
        in_libc,
    }));
}

// ---------------------------------------------------------------------------------------------
// Deadlock check

/// OS threads that belong to may (its workers and timer): the threads that appeared while the
/// runtime started.
static RUNTIME_THREADS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// The runtime's worker count.
static WORKERS: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Records may's threads (`tids`, those that appeared while the runtime started) as the
/// runtime's own, and its worker count.
pub(crate) fn note_runtime_threads(tids: &[i32], workers: usize) {
    WORKERS.store(workers, Ordering::Relaxed);
    crate::context::note_may_threads(tids, workers);
    lock(&RUNTIME_THREADS).extend_from_slice(tids);
}

/// Whether every OS thread of the process is greenshim's, may's, the caller, or blocked in a
/// futex wait without timeout (a plain thread waiting on a lock or channel, or in greenshim's
/// own wait: it cannot wake anyone until someone wakes it).
fn no_foreign_threads() -> bool {
    let me = sys::gettid();
    let runtime = lock(&RUNTIME_THREADS).clone();
    sys::thread_ids().into_iter().all(|t| {
        t == me
            || runtime.contains(&t)
            || sys::thread_name(t).is_some_and(|n| n.starts_with("greenshim-"))
            || sys::in_untimed_futex_wait(t)
    })
}

/// The deadlock as it looks right now, if it does: every green thread parked without deadline
/// on something only another green thread could signal, or running but blocked in the kernel
/// on per-OS-thread state with no timeout; runnable ones count as stuck only when every worker
/// is stuck that way.
fn deadlocked_now() -> Option<DeadlockReport> {
    if context::on_green_thread() {
        return None;
    }
    let running = running();
    let stuck_workers = running.values().filter(|r| r.stuck_in_kernel()).count();
    if stuck_workers < running.len() {
        return None;
    }
    let info = run_info();
    let stuck = !info.green_threads.is_empty()
        && info.green_threads.iter().all(|g| match g.state {
            State::Parked => {
                g.deadline_in.is_none() && g.waiting_on.is_some_and(|w| w.is_internal())
            }
            State::Running { .. } => running.get(&g.id).is_some_and(Run::stuck_in_kernel),
            // Nothing can run it: every worker is stuck.
            State::Runnable => stuck_workers >= WORKERS.load(Ordering::Relaxed),
        });
    (stuck && no_foreign_threads()).then_some(DeadlockReport {
        green_threads: info.green_threads,
    })
}

/// How many consecutive checks must agree before a deadlock is reported.
const CONFIRMATIONS: u32 = 3;
/// How often a blocked joiner looks.
pub const DEADLOCK_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Green-thread parks when a deadlock was last confirmed (`u64::MAX`: none): a later joiner
/// that finds the same count and the same picture reports at once.
static CONFIRMED_AT: AtomicU64 = AtomicU64::new(u64::MAX);

/// The deadlock check of one blocked joiner (a plain thread in `join`): call [`check`] every
/// [`DEADLOCK_CHECK_INTERVAL`] while still blocked.
///
/// [`check`]: DeadlockWatch::check
#[derive(Debug, Default)]
pub struct DeadlockWatch {
    parks: Option<u64>,
    agreeing: u32,
}

impl DeadlockWatch {
    /// A watch with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// The report, once the deadlock has held over several checks with no green thread
    /// parking (or running) in between.
    pub fn check(&mut self) -> Option<DeadlockReport> {
        let parks = crate::park::stats().green_parks;
        let Some(found) = deadlocked_now() else {
            self.agreeing = 0;
            return None;
        };
        if CONFIRMED_AT.load(Ordering::Acquire) == parks {
            return Some(found);
        }
        if self.parks == Some(parks) {
            self.agreeing += 1;
        } else {
            self.parks = Some(parks);
            self.agreeing = 1;
        }
        if self.agreeing < CONFIRMATIONS {
            return None;
        }
        CONFIRMED_AT.store(parks, Ordering::Release);
        report(Report::Deadlock(found.clone()));
        Some(found)
    }
}

// ---------------------------------------------------------------------------------------------
// The wait annotation of a context

/// A context's [`WaitOn`], published with a sequence lock: written only by the context's own
/// thread (green or plain), read by diagnostics on any thread, with no lock on either side.
#[derive(Debug, Default)]
pub(crate) struct WaitCell {
    /// Odd while a write is in progress.
    seq: AtomicU64,
    /// 0: nothing; otherwise the variant (see `encode`).
    kind: AtomicU64,
    /// fd, fd count, green-thread id or object address.
    arg: AtomicU64,
    /// The `what` of an `Object`: pointer and length of a `&'static str`.
    what_ptr: AtomicUsize,
    what_len: AtomicUsize,
}

impl WaitCell {
    pub(crate) fn set(&self, on: Option<WaitOn>) {
        let (kind, arg, what) = match on {
            None => (0, 0, ""),
            Some(WaitOn::Fd { fd, write }) => (1 + u64::from(write), fd as u64, ""),
            Some(WaitOn::Poll { fds }) => (3, fds as u64, ""),
            Some(WaitOn::Sleep) => (4, 0, ""),
            Some(WaitOn::Offload) => (5, 0, ""),
            Some(WaitOn::Join { id }) => (6, id, ""),
            Some(WaitOn::Park) => (7, 0, ""),
            Some(WaitOn::Object { what, addr }) => (8, addr as u64, what),
        };
        // One writer: a plain load and stores, no read-modify-write.
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s + 1, Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::Release);
        self.kind.store(kind, Ordering::Relaxed);
        self.arg.store(arg, Ordering::Relaxed);
        self.what_ptr
            .store(what.as_ptr().expose_provenance(), Ordering::Relaxed);
        self.what_len.store(what.len(), Ordering::Relaxed);
        self.seq.store(s + 2, Ordering::Release);
    }

    pub(crate) fn get(&self) -> Option<WaitOn> {
        loop {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let kind = self.kind.load(Ordering::Relaxed);
            let arg = self.arg.load(Ordering::Relaxed);
            let ptr = self.what_ptr.load(Ordering::Relaxed);
            let len = self.what_len.load(Ordering::Relaxed);
            std::sync::atomic::fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) != s1 {
                continue;
            }
            return match kind {
                1 | 2 => Some(WaitOn::Fd {
                    fd: arg as RawFd,
                    write: kind == 2,
                }),
                3 => Some(WaitOn::Poll { fds: arg as usize }),
                4 => Some(WaitOn::Sleep),
                5 => Some(WaitOn::Offload),
                6 => Some(WaitOn::Join { id: arg }),
                7 => Some(WaitOn::Park),
                8 => Some(WaitOn::Object {
                    // SAFETY: the sequence did not move, so pointer and length are the halves
                    // of one `&'static str` that `set` stored.
                    what: unsafe {
                        std::str::from_utf8_unchecked(std::slice::from_raw_parts(
                            std::ptr::with_exposed_provenance::<u8>(ptr),
                            len,
                        ))
                    },
                    addr: arg as usize,
                }),
                _ => None,
            };
        }
    }
}
