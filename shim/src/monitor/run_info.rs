//! What every live green thread is doing: [`run_info`].

use std::collections::BTreeMap;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::park::context::Context;
use crate::park::context::registry;
use crate::park::wait::WaitOn;
use crate::sys;
use crate::trace::{self, THREAD_BOUND_FUTEX_WAIT};

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
pub(super) fn describe(id: u64, name: Option<&str>, site: Option<&Location<'_>>) -> String {
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
    pub(super) fn new(
        id: u64,
        ctx: Option<&Context>,
        state: State,
        in_libc: Option<&'static str>,
    ) -> Self {
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
pub(super) struct Run {
    worker: usize,
    tid: i32,
    libc: Option<&'static str>,
    untimed_park: bool,
}

impl Run {
    /// Whether the worker is blocked for good unless another thread acts: inside a futex wait
    /// on per-OS-thread state that the kernel shows without a timeout, or inside a wait on its
    /// std parker that has no deadline (waited in slices: see `Slot::untimed_park`).
    pub(super) fn stuck_in_kernel(&self) -> bool {
        self.libc == Some(THREAD_BOUND_FUTEX_WAIT)
            && (self.untimed_park || sys::in_untimed_futex_wait(self.tid))
    }
}

/// Which worker runs which green thread right now, and the libc call it is in.
pub(super) fn running() -> BTreeMap<u64, Run> {
    let mut m = BTreeMap::new();
    for s in trace::slots() {
        let id = s.current.load(Ordering::Relaxed);
        if id != 0 {
            let run = Run {
                worker: s.index,
                tid: s.tid,
                libc: s.libc_call(),
                untimed_park: s.untimed_park.load(Ordering::Relaxed),
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
    let green_threads = registry::live()
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
