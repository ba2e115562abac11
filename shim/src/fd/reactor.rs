//! The reactor: how green threads wait for fds.
//!
//! Each may worker gets one greenshim epoll instance and one *reactor* green thread. The epoll
//! fd is registered in may's own epoll of that worker (may assigns fd `n` to worker
//! `n % workers`, so the epoll fds are created until each worker has one), and the reactor
//! waits on it with may's `wait_io`. Green threads never call may's I/O API themselves: they
//! queue a waker on the fd table's per-direction list and park with the park primitive, so
//! any number of green threads can wait on one fd, and deadlines and interrupts work as for
//! every other park.
//!
//! Every fd a green thread waits for goes into *one* epoll, reactor 0's (the home), edge
//! triggered, once (registration is cached in the fd table until release). Any reactor that
//! wakes drains the home epoll too, so a busy home worker does not hold fd events up for long
//! while another worker is awake. One home instead of `fd % workers` homes: with per-worker
//! homes each worker ran dry and slept in `epoll_wait` far more often (W4 echo, 50
//! connections, 2 workers: 45 000 against 1 300 voluntary context switches in 3 s, p99
//! latency 4.2 ms against 0.9 ms). To spread work, a reactor that wakes a large batch of green
//! threads nudges the next worker, which then steals from its queue (may never wakes an idle
//! worker for work queued elsewhere).
//!
//! ```text
//!  green thread G                     reactor (any worker)             kernel
//!  --------------                     --------------------             ------
//!  t = side.tick; read() -> EAGAIN
//!  register fd (first time)
//!  side.enqueue(t, G)  (refused if
//!    the tick moved: retry read)
//!  park ...                           wait_io(own epoll) ...
//!                                                                      data arrives:
//!                                                                      fd ready -> home epoll
//!                                                                      readable -> may wakes
//!                                     epoll_wait(home, 0):
//!                                       side.fire(): tick += 1,
//!                                       take waiters, unpark G
//!  ... wakes (this worker's queue);
//!  read() -> data
//! ```
//!
//! Each reactor's epoll also holds its worker's *kick* eventfd, through which threads that are
//! not workers (the timer, the offload pool, plain threads) hand wake-ups to the first idle
//! worker; see [`crate::park::waker`]. During a burst of such wake-ups one reactor lingers
//! and takes them without kicks ([`crate::fd::linger`]).

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use may::io::WaitIo;

use crate::fd::linger;
use crate::fd::table::{self as fdtable, Entry, Interest};
use crate::park::waker as dispatch;
use crate::park::waker::Waker;
use crate::sys::EventFd;
use crate::sys::epoll::{self, Epoll};

/// User data of the kick eventfd in a reactor's epoll (fd data never has all high bits set).
const KICK: u64 = u64::MAX;
const BATCH: usize = 256;
/// A wake-up batch at least this large makes the reactor nudge another worker to steal part
/// of it. Smaller batches stay: waking a sleeping worker costs more than a few short green
/// threads take to run (W4 echo on 2 workers, 1 000 connections: nudging on every batch of 2
/// or more cost about a fifth of the throughput against no nudging; 16 kept most of it).
const NUDGE_BATCH: usize = 16;

struct Reactor {
    epoll: Epoll,
    kick: EventFd,
    /// Set by the first signal since the reactor last consumed its kick: later signals skip
    /// the eventfd write, which would wake nobody more.
    kicked: AtomicBool,
    /// Its worker's switch record, set when the reactor starts (on that worker).
    slot: OnceLock<&'static crate::trace::Slot>,
    /// Reactor 0: its epoll holds every watched fd.
    home: bool,
}

impl Reactor {
    /// Makes the reactor run (its worker leaves `epoll_wait` if idle), once per consumed kick.
    fn signal(&self) {
        if !self.kicked.swap(true, Ordering::SeqCst) {
            self.kick.notify();
        }
    }

    /// Consumes the kick: the eventfd first, then the flag, then (the caller) the dispatcher's
    /// queues. A signal between the first two skips its write but its work is in the queues
    /// already; a signal after the flag writes again.
    fn consume_kick(&self) {
        self.kick.drain();
        self.kicked.store(false, Ordering::SeqCst);
    }

    /// Whether its worker runs no green thread right now (it is idle, or between two).
    fn idle(&self) -> bool {
        self.slot
            .get()
            .is_some_and(|s| s.current.load(Ordering::Relaxed) == 0)
    }
}

crate::os_local! {
    /// The index of the worker this OS thread is (set by its reactor; `usize::MAX` elsewhere).
    static WORKER: usize = usize::MAX;
}

static REACTORS: OnceLock<Vec<&'static Reactor>> = OnceLock::new();

/// Borrowed view of a reactor's epoll fd for may's `CoIo`, which must not close it.
struct Borrowed(RawFd);

impl AsRawFd for Borrowed {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// One reactor per worker, with `epoll fd % workers` equal to the worker's index.
fn reactors_per_worker(workers: usize) -> io::Result<Vec<&'static Reactor>> {
    let mut slots: Vec<Option<Epoll>> = (0..workers).map(|_| None).collect();
    let mut spare = Vec::new();
    while slots.iter().any(Option::is_none) {
        let ep = Epoll::new()?;
        let slot = &mut slots[ep.as_raw_fd() as usize % workers];
        if slot.is_none() {
            *slot = Some(ep);
        } else {
            spare.push(ep);
        }
    }
    drop(spare);
    slots
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, epoll)| {
            let kick = EventFd::new()?;
            epoll.add_or_modify(kick.as_raw_fd(), epoll::IN | epoll::ET, KICK)?;
            let home = i == 0;
            let kicked = AtomicBool::new(false);
            Ok(&*Box::leak(Box::new(Reactor {
                epoll,
                kick,
                kicked,
                slot: OnceLock::new(),
                home,
            })))
        })
        .collect()
}

/// Starts one reactor per worker (once). Called at runtime start-up.
pub(crate) fn start(workers: usize) {
    REACTORS.get_or_init(|| {
        let reactors = match reactors_per_worker(workers.max(1)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("greenshim: cannot create the reactors ({e}); fd waits use poll(2)");
                return Vec::new();
            }
        };
        let home = reactors[0];
        for (i, &r) in reactors.iter().enumerate() {
            let builder = may::coroutine::Builder::new()
                .name(format!("greenshim-reactor-{i}"))
                .id(i);
            // SAFETY: the reactor uses no thread-local storage of its own; it touches its epoll,
            // its eventfd, the fd table and wakers, all of which are shared and thread-safe.
            if let Err(e) = unsafe { builder.spawn(move || run(i, r, home)) } {
                eprintln!("greenshim: cannot start reactor {i}: {e}");
            }
        }
        reactors
    });
}

fn reactors() -> Option<&'static [&'static Reactor]> {
    REACTORS.get().filter(|r| !r.is_empty()).map(Vec::as_slice)
}

/// Signals every worker's reactor. Returns false when there are no reactors.
pub(crate) fn kick_all() -> bool {
    let Some(all) = reactors() else { return false };
    for r in all {
        r.signal();
    }
    true
}

/// Signals the reactor of one idle worker (one running no green thread), taken in turn, or
/// every reactor when none is idle, so that the first worker to come free takes the
/// dispatcher's batch. Returns false when there are no reactors.
///
/// Signalling every reactor for every wake-up from a plain thread cost an eventfd write and a
/// wake-up per worker where one does: a plain thread spawning 100 000 green threads (W1) ran
/// into 35 000 context switches where may's own spawn made 3 000.
pub(crate) fn kick_idle() -> bool {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let Some(all) = reactors() else { return false };
    // A lingering reactor looks at the batch between every two green threads of its worker:
    // no signal needed.
    if linger::counted_on() {
        return true;
    }
    let start = NEXT.fetch_add(1, Ordering::Relaxed);
    let n = all.len();
    // A reactor already kicked and not yet run is not taken as idle: its worker may be busy
    // after all (between two green threads when it was looked at).
    let idle = (0..n)
        .map(|k| all[(start + k) % n])
        .find(|r| r.idle() && !r.kicked.load(Ordering::SeqCst));
    match idle {
        Some(r) => r.signal(),
        None => {
            kick_all();
        }
    }
    true
}

/// How often the sysmon wakes every worker while one is blocked in a thread-bound wait.
const BLOCKED_WAKE_PERIOD: Duration = Duration::from_millis(2);

/// Workers blocked in a thread-bound wait right now (see [`before_blocking`]).
static BLOCKED_NOW: AtomicUsize = AtomicUsize::new(0);
static BLOCKING_WAKES: AtomicU64 = AtomicU64::new(0);

/// A worker blocked in a thread-bound wait, until dropped.
pub(crate) struct Blocked(());

impl Drop for Blocked {
    fn drop(&mut self) {
        BLOCKED_NOW.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Workers blocked in a thread-bound wait right now.
pub fn workers_blocked_now() -> usize {
    BLOCKED_NOW.load(Ordering::SeqCst)
}

/// Times a green thread about to block its worker in a thread-bound wait woke the other
/// workers.
pub fn blocking_wakes() -> u64 {
    BLOCKING_WAKES.load(Ordering::Relaxed)
}

/// The calling green thread is about to block its worker in a wait greenshim cannot park (a
/// futex wait on per-OS-thread state). Wakes every other worker: an awake worker with nothing
/// to do steals from the next three workers' local queues (may's work stealing), so the green
/// threads queued behind the blocked one run there meanwhile; and while any worker stays
/// blocked, the sysmon wakes them every [`BLOCKED_WAKE_PERIOD`] (a green thread can reach the
/// blocked worker's queue after this wake-up). The guard marks the end of the wait.
///
/// This is the part of compensation may allows: it needs another worker, so one worker alone
/// gets nothing from it. greenshim queues every new or dispatched green thread where other
/// workers can steal it (never on may's per-worker global queues).
fn before_blocking() -> Blocked {
    if BLOCKED_NOW.fetch_add(1, Ordering::SeqCst) == 0 {
        // The sysmon's periodic wake-ups start (see `Sysmon::tick`).
        crate::park::timer::poke();
    }
    if let Some(all) = reactors()
        && all.len() > 1
    {
        BLOCKING_WAKES.fetch_add(1, Ordering::Relaxed);
        for r in all {
            r.signal();
        }
    }
    Blocked(())
}

/// Runs `wait`, a wait that blocks the calling green thread's worker in the kernel: the other
/// workers are woken first ([`before_blocking`], inside greenshim: nothing here may park the
/// green thread halfway through a protocol on its worker's own state), and the wait shows as
/// libc call `name` to the blocking detector and the deadlock check (marked last: the libc
/// calls of the wake-up mark and clear the same record).
pub(crate) fn block_worker<R>(name: &'static &'static str, wait: impl FnOnce() -> R) -> R {
    let _blocked = crate::sys::inside(before_blocking);
    let _mark = crate::trace::in_libc_always(name);
    wait()
}

/// The loop of reactor `index`. `home` is passed in rather than looked up: this green thread
/// can start before `REACTORS` is initialized.
fn run(index: usize, r: &'static Reactor, home: &'static Reactor) {
    let io = match may::io::CoIo::new(Borrowed(r.epoll.as_raw_fd())) {
        Ok(io) => io,
        Err(e) => {
            eprintln!("greenshim: a reactor cannot register its epoll with may: {e}");
            return;
        }
    };
    let shared = (!r.home).then_some(home);
    // Spawned onto worker `index`'s global queue (`Builder::id`), which only that worker
    // drains: this first run is on it.
    WORKER.set(index);
    r.slot.get_or_init(crate::trace::own_slot);
    // SAFETY: epoll_event is plain old data; all-zero is a valid value.
    let mut events: Vec<epoll::Event> = vec![unsafe { std::mem::zeroed() }; BATCH];
    let mut woken: Vec<Waker> = Vec::with_capacity(BATCH);
    // When this reactor last took a dispatcher batch.
    let mut last_batch: Option<Instant> = None;
    loop {
        io.wait_io();
        // Inside greenshim: the reactor must never park anywhere but in `wait_io`. Under the
        // patch a contended std `Mutex` parks a green thread on the futex table, and a parked
        // reactor would wait for a wake-up that only reactors deliver (when the dispatcher's
        // batch sat behind a lock, a reactor parked on it hung a worker for good:
        // `tests/dispatch_contention.rs`). Inside, such a wait is the kernel's, a few
        // instructions long.
        let took_batch = crate::sys::inside(|| round(index, r, shared, &mut events, &mut woken));
        // Outside greenshim: a handle's drop may yield while another worker finishes a park.
        dispatch::drop_deferred();
        if took_batch {
            let mut now = Instant::now();
            if last_batch.is_some_and(|t| now - t < linger::AFTER) {
                linger::linger(&mut woken, |woken| {
                    round(index, r, shared, &mut events, woken);
                });
                now = Instant::now();
            }
            last_batch = Some(now);
        }
    }
}

/// One round of reactor `index`: collects its epoll's events, and the home epoll's, and wakes
/// the green threads they concern. Returns whether it took a dispatcher batch (its kick fired).
fn round(
    index: usize,
    r: &Reactor,
    shared: Option<&Reactor>,
    events: &mut [epoll::Event],
    woken: &mut Vec<Waker>,
) -> bool {
    let took_batch = drain(r, events, woken);
    // Any worker that wakes also serves the fd events, so that they are not held up while the
    // home worker is busy.
    if let Some(home) = shared {
        drain(home, events, woken);
    }
    if woken.len() >= NUDGE_BATCH {
        nudge_neighbour(index);
    }
    for w in woken.drain(..) {
        // On a worker: the green thread joins this worker's (stealable) queue.
        w.wake();
    }
    took_batch
}

/// Collects every ready event of `r`'s epoll: fd readiness and the dispatch kick. Returns
/// whether the kick fired (the dispatcher's batch was taken).
fn drain(r: &Reactor, events: &mut [epoll::Event], woken: &mut Vec<Waker>) -> bool {
    if r.home {
        HOME_DRAINS.fetch_add(1, Ordering::Relaxed);
    }
    let mut kicked = false;
    loop {
        let n = match r.epoll.poll_now(events) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("greenshim: reactor epoll_wait failed: {e}");
                0
            }
        };
        for ev in &events[..n] {
            let (bits, data) = (ev.events, ev.u64);
            if data == KICK {
                r.consume_kick();
                dispatch::take_ready(woken);
                kicked = true;
            } else {
                deliver(bits, data, woken);
            }
        }
        if n < events.len() {
            return kicked;
        }
    }
}

/// Drains of the home epoll so far (by any reactor or the sysmon).
static HOME_DRAINS: AtomicU64 = AtomicU64::new(0);
/// Fds in the home epoll now.
static WATCHED: AtomicUsize = AtomicUsize::new(0);
/// Times the sysmon found fd events that no reactor had collected for a whole period.
static RESCUES: AtomicU64 = AtomicU64::new(0);

/// The shortest and longest pause between two sysmon checks. The pause doubles at every check
/// that finds no stranded event, up to the longest, and drops to the shortest after a rescue:
/// a home worker that computes without parking is found within two longest pauses, and served
/// every shortest pause while it lasts. Go's sysmon polls the network when nobody has for
/// 10 ms, the same bound. A pause that stayed short while reactors drained cost a wake-up of
/// the timer thread per millisecond: 2% of the server's CPU time on W4 echo (50 connections,
/// server on 1 worker pinned to one core, `perf record -p`), for nothing.
const SYSMON_MIN: Duration = Duration::from_millis(1);
const SYSMON_MAX: Duration = Duration::from_millis(10);

/// Times the sysmon delivered fd events because no reactor had for a whole period (a green
/// thread computing on the home worker without parking).
pub fn sysmon_rescues() -> u64 {
    RESCUES.load(Ordering::Relaxed)
}

/// The timer thread's watch over the home epoll, in the manner of Go's sysmon.
///
/// The home worker's reactor cannot run while a green thread computes on that worker without
/// parking, and may gives no other worker a reason to wake. So while fds are watched, the timer
/// thread checks every 1 to 10 ms whether any reactor has drained the home epoll since its
/// last check; if none has *and the home worker has not switched green threads either* (it is
/// stuck in one), or none has for [`SYSMON_MAX`] although it switches (green threads that
/// keep its queue from running empty), it drains the epoll itself and hands the woken green
/// threads to the first idle worker through the dispatcher.
///
/// A home worker that switches is usually on its way back to its reactor: it is running a batch
/// of green threads, and a batch large enough to be worth sharing has already woken the next
/// worker (see [`NUDGE_BATCH`]), whose reactor drains the home epoll too. Rescuing there took
/// the events out of one epoll only to hand them back through the dispatcher's queue, a lock
/// and an eventfd: 6% of the server's CPU time in the timer thread on W4 echo at 1 000
/// connections (1 worker pinned to one core, `perf record -p`). With one worker nothing can
/// take a rescued event at all, so the sysmon leaves the fds alone.
#[derive(Debug)]
struct Sysmon {
    seen: u64,
    /// The home worker's switch count at the last check.
    switches: u64,
    /// When a check last saw that a reactor had drained the home epoll.
    drained_at: Instant,
    period: Duration,
    events: Vec<epoll::Event>,
}

impl Default for Sysmon {
    fn default() -> Self {
        Sysmon {
            seen: u64::MAX,
            switches: u64::MAX,
            drained_at: Instant::now(),
            period: SYSMON_MIN,
            // SAFETY: epoll_event is plain old data; all-zero is a valid value.
            events: vec![unsafe { std::mem::zeroed() }; 64],
        }
    }
}

impl Sysmon {
    /// One check; returns how long to wait before the next, or `None` while no fd is watched
    /// and no worker is blocked.
    ///
    /// While a worker is blocked in a thread-bound wait, every check also wakes every worker
    /// (see [`before_blocking`]), as Go's sysmon retakes a blocked thread's work.
    fn tick(&mut self) -> Option<Duration> {
        let blocked = BLOCKED_NOW.load(Ordering::SeqCst) > 0;
        if blocked {
            kick_all();
        }
        let fds = self.check_home();
        if blocked {
            Some(fds.map_or(BLOCKED_WAKE_PERIOD, |p| p.min(BLOCKED_WAKE_PERIOD)))
        } else {
            fds
        }
    }

    /// The fd part of [`Sysmon::tick`].
    fn check_home(&mut self) -> Option<Duration> {
        let all = reactors()?;
        if WATCHED.load(Ordering::Relaxed) == 0 || all.len() < 2 {
            return None;
        }
        let switches = all[0]
            .slot
            .get()
            .map_or(0, |s| s.switches.load(Ordering::Relaxed));
        let now = Instant::now();
        let drained = HOME_DRAINS.load(Ordering::Relaxed) != self.seen;
        if drained {
            self.drained_at = now;
        }
        // Stuck in one green thread, or switching among green threads that have not let the
        // queue run empty for longer than a batch takes.
        let stuck = !drained && (switches == self.switches || now - self.drained_at >= SYSMON_MAX);
        self.switches = switches;
        let mut woken = Vec::new();
        if stuck {
            drain(all[0], &mut self.events, &mut woken);
        }
        if woken.is_empty() {
            self.period = (self.period * 2).min(SYSMON_MAX);
        } else {
            RESCUES.fetch_add(1, Ordering::Relaxed);
            self.period = SYSMON_MIN;
            dispatch::wake_batch(&mut woken);
        }
        self.seen = HOME_DRAINS.load(Ordering::Relaxed);
        Some(self.period)
    }
}

static SYSMON: Mutex<Option<Sysmon>> = Mutex::new(None);

/// One sysmon check (see `Sysmon`), run by the timer thread: returns how long to wait before
/// the next, or `None` while no fd is watched and no worker is blocked.
pub fn sysmon_tick() -> Option<Duration> {
    SYSMON
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(Sysmon::default)
        .tick()
}

/// Wakes the next worker's reactor, so that an idle worker comes out of `epoll_wait` and
/// steals from the batch this worker just queued. may never wakes an idle worker for work
/// pushed onto another worker's local queue; without the nudge a batch waits behind whatever
/// this worker runs next (or behind this worker's own preemption by the OS).
fn nudge_neighbour(index: usize) {
    if let Some(next) = neighbour(index) {
        next.signal();
    }
}

/// The reactor of the worker after worker `index`, when there are two workers or more.
fn neighbour(index: usize) -> Option<&'static Reactor> {
    let all = reactors()?;
    (all.len() > 1).then(|| all[(index + 1) % all.len()])
}

/// Called on a worker that just queued new work on its local queue (a green thread it
/// spawned): wakes the next worker to steal it if idle, as after a large batch (a busy one
/// steals when it comes free). Once per consumed kick of that worker's reactor, so a burst of
/// spawns costs one wake-up.
pub fn share_new_work() {
    let index = WORKER.get();
    if index != usize::MAX
        && let Some(next) = neighbour(index)
        && next.idle()
    {
        next.signal();
    }
}

fn deliver(bits: u32, data: u64, woken: &mut Vec<Waker>) {
    let fd = data as u32 as RawFd;
    let Some(e) = fdtable::lookup(fd) else { return };
    if u64::from(e.generation()) != data >> 32 {
        return; // an event of an fd number's previous life
    }
    if bits & (epoll::ERR | epoll::HUP | epoll::RDHUP) != 0 {
        e.side(Interest::Read).mark_closed();
    }
    if bits & (epoll::IN | epoll::ERR | epoll::HUP | epoll::RDHUP) != 0 {
        e.side(Interest::Read).fire(woken);
    }
    if bits & (epoll::OUT | epoll::ERR | epoll::HUP) != 0 {
        e.side(Interest::Write).fire(woken);
    }
}

/// Puts `fd` in its reactor's epoll (once; cached in the entry until release).
///
/// # Errors
/// `epoll_ctl`'s (`EPERM` for an fd epoll cannot watch, such as a regular file), or
/// `Unsupported` when the runtime has no reactors.
pub fn register(fd: RawFd, e: &Entry) -> io::Result<()> {
    if e.is_registered() {
        return Ok(());
    }
    add_to_home(fd, e)?;
    e.set_registered();
    if WATCHED.fetch_add(1, Ordering::Relaxed) == 0 {
        crate::park::timer::poke();
    }
    Ok(())
}

/// [`register`] for an fd greenshim does not own (one a hooked `poll` waits on): unless the
/// fd was adopted or created under the monkey patch, its cached registration is renewed, as it
/// may have been closed and its number reused behind the hooks' back (the kernel then dropped
/// the old registration).
pub fn refresh(fd: RawFd, e: &Entry) -> io::Result<()> {
    if !e.is_registered() || e.desc().is_some() || e.origin() == fdtable::Origin::Pollable {
        return register(fd, e);
    }
    add_to_home(fd, e)
}

/// Adds `fd` to the home epoll (or renews its registration), edge-triggered for both
/// directions, with the entry's generation in the user data.
fn add_to_home(fd: RawFd, e: &Entry) -> io::Result<()> {
    let all = reactors().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "greenshim's reactors are not running",
        )
    })?;
    let data = (u64::from(e.generation()) << 32) | u64::from(fd as u32);
    let interest = epoll::IN | epoll::OUT | epoll::RDHUP | epoll::ET;
    all[0].epoll.add_or_modify(fd, interest, data)
}

/// Removes `fd` from its reactor's epoll (before the fd is closed).
pub(crate) fn deregister(fd: RawFd) {
    if let Some(all) = reactors() {
        all[0].epoll.delete(fd);
        WATCHED.fetch_sub(1, Ordering::Relaxed);
    }
}
