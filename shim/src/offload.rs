//! The offload pool: OS threads that run blocking work while the calling green thread parks.
//!
//! Some blocking cannot be made non-blocking: `getaddrinfo`, regular files, `fsync`. Run on a
//! worker, such a call stalls every green thread queued there. [`run`] ships the closure to a
//! pool thread and parks the caller until it is done.
//!
//! The pool is elastic, in the manner of smol-rs `blocking`: a job that finds no idle thread
//! starts a new one (up to the runtime's `offload_threads`, 512 unless configured through
//! `Config::offload_threads` or `GREENSHIM_OFFLOAD_THREADS`); a thread idle for
//! [`IDLE_TIMEOUT`] exits. Beyond the limit, jobs queue.
//!
//! [`run`] borrows: the closure may reference the caller's stack, because the caller neither
//! returns nor unwinds before the job has finished (interrupts are deferred until then, like a
//! blocking syscall defers a signal's handler on the way back to user space).
//!
//! ```text
//!  green thread                       pool thread
//!  ------------                       -----------
//!  queue job (Arc<Slot>, waker)
//!  park (ignoring interrupts) ...     pop job, run f (catch_unwind)
//!                                     slot = result; waker.wake()  -> dispatcher
//!  wakes; take result; resume panic
//!  (a pending kill/timeout fires at the next park point)
//! ```

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::park::context;
use crate::park::{self, Waker};

/// How long an idle pool thread waits for work before it exits.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);

type Job = Box<dyn FnOnce() + Send + 'static>;

struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

struct Pool {
    state: Mutex<State>,
    work: Condvar,
}

static POOL: Pool = Pool {
    state: Mutex::new(State {
        queue: VecDeque::new(),
        threads: 0,
        idle: 0,
    }),
    work: Condvar::new(),
};

static JOBS: AtomicU64 = AtomicU64::new(0);
static SPAWNED: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Counters of the offload pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OffloadStats {
    /// Jobs run on the pool since start-up.
    pub jobs: u64,
    /// Pool threads started since start-up.
    pub threads_started: u64,
    /// Pool threads alive now.
    pub threads_alive: usize,
}

/// The pool's counters.
pub fn stats() -> OffloadStats {
    OffloadStats {
        jobs: JOBS.load(Ordering::Relaxed),
        threads_started: SPAWNED.load(Ordering::Relaxed),
        threads_alive: LIVE.load(Ordering::Relaxed),
    }
}

/// The most pool threads alive at once: the runtime's `offload_threads` once it has started
/// (it pushes its setting down), its default before.
static MAX_THREADS: AtomicUsize = AtomicUsize::new(512);

/// Sets the most pool threads alive at once (the runtime does, at start-up).
pub fn set_max_threads(n: usize) {
    MAX_THREADS.store(n.max(1), Ordering::Relaxed);
}

fn submit(job: Job) {
    let mut st = POOL.state.lock().unwrap_or_else(|e| e.into_inner());
    st.queue.push_back(job);
    // Enough idle threads for every queued job, this one included: wake one.
    if st.idle >= st.queue.len() {
        POOL.work.notify_one();
        return;
    }
    if st.threads < MAX_THREADS.load(Ordering::Relaxed) {
        let spawned = std::thread::Builder::new()
            .name("greenshim-offload".into())
            .spawn(pool_thread);
        match spawned {
            Ok(_) => {
                st.threads += 1;
                SPAWNED.fetch_add(1, Ordering::Relaxed);
                LIVE.fetch_add(1, Ordering::Relaxed);
            }
            // With no new thread the job waits for a busy one; if there is none the error
            // shows up as a job that never finishes, so say why.
            Err(e) if st.threads == 0 => {
                eprintln!("greenshim: cannot start an offload thread ({e}); running inline");
                let job = st.queue.pop_back().expect("pushed above");
                drop(st);
                job();
            }
            Err(_) => {}
        }
    }
}

fn pool_thread() {
    let mut st = POOL.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(job) = st.queue.pop_front() {
            drop(st);
            job();
            st = POOL.state.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        st.idle += 1;
        let (guard, timeout) = POOL
            .work
            .wait_timeout(st, IDLE_TIMEOUT)
            .unwrap_or_else(|e| e.into_inner());
        st = guard;
        st.idle -= 1;
        if timeout.timed_out() && st.queue.is_empty() {
            st.threads -= 1;
            LIVE.fetch_sub(1, Ordering::Relaxed);
            return;
        }
    }
}

struct Slot<R> {
    result: Mutex<Option<std::thread::Result<R>>>,
}

/// Runs `f` off the worker and returns its result; the calling green thread parks meanwhile.
/// On a plain OS thread `f` simply runs on the caller. A panic in `f` resumes in the caller.
///
/// A kill or `Timeout` that arrives while `f` runs takes effect at the caller's next park
/// point, after `f` is done: `f` may borrow from the caller's stack.
pub fn run<'a, R: Send + 'a>(f: impl FnOnce() -> R + Send + 'a) -> R {
    if !context::on_green_thread() {
        return f();
    }
    JOBS.fetch_add(1, Ordering::Relaxed);
    let slot = Arc::new(Slot {
        result: Mutex::new(None),
    });
    let waker = Waker::current();
    let job_slot = slot.clone();
    let job: Box<dyn FnOnce() + Send + 'a> = Box::new(move || {
        let r = panic::catch_unwind(AssertUnwindSafe(f));
        *job_slot.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        drop(job_slot);
        waker.wake();
    });
    // SAFETY: the job may borrow data of lifetime 'a from the caller. The caller does not
    // return, and cannot unwind, until the job has stored its result (the loop below parks
    // ignoring interrupts and is the only way out), and the job touches nothing borrowed
    // after that store. So every borrow outlives its use on the pool thread.
    let job: Job = unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + 'a>, Job>(job) };
    submit(job);
    let ctx = context::current();
    let _on = ctx.waiting(crate::park::wait::WaitOn::Offload);
    loop {
        if let Some(r) = slot.result.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return r.unwrap_or_else(|p| panic::resume_unwind(p));
        }
        park::park_ignoring_interrupts();
    }
}
