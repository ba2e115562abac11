//! The reactor: how green threads wait for fds.
//!
//! Each may worker gets one greenshim epoll instance and one *reactor* green thread. The epoll
//! fd is registered in may's own epoll of that worker (may assigns fd `n` to worker
//! `n % workers`, so the epoll fds are created until each worker has one), and the reactor
//! waits on it with may's `wait_io`. An fd that a green thread waits for goes into reactor
//! `fd % workers`'s epoll, edge-triggered, once (registration is cached in the fd table until
//! release). Green threads never call may's I/O API themselves: they queue a waker on the fd
//! table's per-direction list and park with the park primitive, so any number of green threads
//! can wait on one fd, and deadlines and interrupts work as for every other park.
//!
//! ```text
//!  green thread G (worker i)          reactor i (worker i)             kernel
//!  ---------------------------        --------------------             ------
//!  t = side.tick; read() -> EAGAIN
//!  register fd (first time)
//!  side.enqueue(t, G)  (refused if
//!    the tick moved: retry read)
//!  park ...                           wait_io(epoll i) ...
//!                                                                      data arrives:
//!                                                                      fd ready -> epoll i
//!                                                                      readable -> may wakes
//!                                     epoll_wait(epoll i, 0):
//!                                       side.fire(): tick += 1,
//!                                       take waiters, unpark G
//!  ... wakes (local queue of i);
//!  read() -> data
//! ```
//!
//! The reactor's epoll also holds the worker's *kick* eventfd, through which threads that are
//! not workers (the timer, the offload pool, plain threads) hand wake-ups to the first idle
//! worker; see [`crate::dispatch`].

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::OnceLock;

use may::io::WaitIo;

use crate::dispatch;
use crate::fdtable::{self, Entry, Interest};
use crate::park::Waker;
use crate::sys::EventFd;
use crate::sys::epoll::{self, Epoll};

/// User data of the kick eventfd in a reactor's epoll (fd data never has all high bits set).
const KICK: u64 = u64::MAX;
const BATCH: usize = 256;

struct Reactor {
    epoll: Epoll,
    kick: EventFd,
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
        .map(|epoll| {
            let kick = EventFd::new()?;
            epoll.add_or_modify(kick.as_raw_fd(), epoll::IN | epoll::ET, KICK)?;
            Ok(&*Box::leak(Box::new(Reactor { epoll, kick })))
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
        for (i, &r) in reactors.iter().enumerate() {
            let builder = may::coroutine::Builder::new()
                .name(format!("greenshim-reactor-{i}"))
                .id(i);
            // SAFETY: the reactor uses no thread-local storage of its own; it touches its epoll,
            // its eventfd, the fd table and wakers, all of which are shared and thread-safe.
            if let Err(e) = unsafe { builder.spawn(move || run(r)) } {
                eprintln!("greenshim: cannot start reactor {i}: {e}");
            }
        }
        reactors
    });
}

fn reactors() -> Option<&'static [&'static Reactor]> {
    REACTORS.get().filter(|r| !r.is_empty()).map(Vec::as_slice)
}

/// Signals every worker's reactor (dispatch of wake-ups from non-worker threads). Returns
/// false when there are no reactors.
pub(crate) fn kick_all() -> bool {
    let Some(all) = reactors() else { return false };
    for r in all {
        r.kick.notify();
    }
    true
}

fn run(r: &'static Reactor) {
    let io = match may::io::CoIo::new(Borrowed(r.epoll.as_raw_fd())) {
        Ok(io) => io,
        Err(e) => {
            eprintln!("greenshim: a reactor cannot register its epoll with may: {e}");
            return;
        }
    };
    // SAFETY: epoll_event is plain old data; all-zero is a valid value.
    let mut events: Vec<epoll::Event> = vec![unsafe { std::mem::zeroed() }; BATCH];
    let mut woken: Vec<Waker> = Vec::with_capacity(BATCH);
    loop {
        io.wait_io();
        loop {
            let n = match r.epoll.poll_now(&mut events) {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("greenshim: reactor epoll_wait failed: {e}");
                    0
                }
            };
            for ev in &events[..n] {
                let (bits, data) = (ev.events, ev.u64);
                if data == KICK {
                    r.kick.drain();
                    dispatch::take_ready(&mut woken);
                } else {
                    deliver(bits, data, &mut woken);
                }
            }
            for w in woken.drain(..) {
                // On a worker: the green thread joins this worker's (stealable) queue.
                w.wake();
            }
            if n < BATCH {
                break;
            }
        }
    }
}

fn deliver(bits: u32, data: u64, woken: &mut Vec<Waker>) {
    let fd = data as u32 as RawFd;
    let Some(e) = fdtable::lookup(fd) else { return };
    if u64::from(e.generation()) != data >> 32 {
        return; // an event of an fd number's previous life
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
    let all = reactors().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "greenshim's reactors are not running",
        )
    })?;
    let r = all[fd as usize % all.len()];
    let data = (u64::from(e.generation()) << 32) | u64::from(fd as u32);
    let interest = epoll::IN | epoll::OUT | epoll::RDHUP | epoll::ET;
    r.epoll.add_or_modify(fd, interest, data)?;
    e.set_registered();
    Ok(())
}

/// Removes `fd` from its reactor's epoll (before the fd is closed).
pub(crate) fn deregister(fd: RawFd) {
    if let Some(all) = reactors() {
        all[fd as usize % all.len()].epoll.delete(fd);
    }
}
