//! Waking green threads from outside the workers without stranding them behind a busy worker.
//!
//! `Coroutine::unpark` from a thread that is not a may worker pushes the coroutine onto a
//! worker's *global* queue, round robin. A worker only drains its global queue between green
//! threads, and work stealing only takes from *local* queues, so a green thread woken onto the
//! queue of a worker that is computing waits for that computation to end (300 ms of CPU after
//! a sleep delayed half of all other timers by up to 300 ms in the timer-fairness test).
//!
//! The dispatcher avoids the round robin. Wake-ups from the timer thread go into one shared
//! batch, and one dispatcher coroutine per worker is told through an eventfd registered on
//! *that worker's* epoll (may assigns fd `n` to worker `n % workers`). The first idle worker
//! runs its dispatcher, which unparks the whole batch from inside the worker: woken green
//! threads land on its local queue, where the other idle workers can steal them. A busy worker's
//! dispatcher runs later and finds the batch empty.
//!
//! ```text
//!  timer thread                    worker j (idle)                  worker k (busy)
//!  ------------                    ---------------                  ---------------
//!  READY.extend(wakers)
//!  eventfd[j].notify() ---------> epoll: dispatcher j runnable
//!  eventfd[k].notify() ------------------------------------------> (not polling)
//!                                  dispatcher j: take READY,
//!                                  unpark each -> local queue j
//!                                  (other idle workers steal)
//! ```

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Mutex, OnceLock};

use may::io::WaitIo;

use crate::park::Waker;
use crate::sys::EventFd;

static READY: Mutex<Vec<Waker>> = Mutex::new(Vec::new());
static KICKS: OnceLock<Vec<&'static EventFd>> = OnceLock::new();

/// Borrowed view of a `'static` eventfd for may's `CoIo`, which must not close it.
struct Borrowed(&'static EventFd);

impl AsRawFd for Borrowed {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// One eventfd per worker, with `fd % workers` equal to the worker's index.
fn eventfds_per_worker(workers: usize) -> io::Result<Vec<&'static EventFd>> {
    let mut slots: Vec<Option<EventFd>> = (0..workers).map(|_| None).collect();
    let mut spare = Vec::new();
    while slots.iter().any(Option::is_none) {
        let fd = EventFd::new()?;
        let slot = &mut slots[fd.as_raw_fd() as usize % workers];
        if slot.is_none() {
            *slot = Some(fd);
        } else {
            spare.push(fd);
        }
    }
    drop(spare);
    Ok(slots
        .into_iter()
        .flatten()
        .map(|fd| &*Box::leak(Box::new(fd)))
        .collect())
}

fn dispatcher(fd: &'static EventFd) {
    let io = match may::io::CoIo::new(Borrowed(fd)) {
        Ok(io) => io,
        Err(e) => {
            eprintln!("greenshim: dispatcher cannot register its eventfd: {e}");
            return;
        }
    };
    loop {
        io.wait_io();
        fd.drain();
        let batch = std::mem::take(&mut *READY.lock().unwrap_or_else(|e| e.into_inner()));
        for w in batch {
            w.wake();
        }
    }
}

/// Starts one dispatcher per worker (once). Called at runtime start-up.
pub(crate) fn start(workers: usize) {
    KICKS.get_or_init(|| {
        let fds = match eventfds_per_worker(workers) {
            Ok(fds) => fds,
            Err(e) => {
                eprintln!(
                    "greenshim: cannot create dispatcher eventfds ({e}); timers wake round robin"
                );
                return Vec::new();
            }
        };
        for (i, &fd) in fds.iter().enumerate() {
            let builder = may::coroutine::Builder::new()
                .name(format!("greenshim-dispatch-{i}"))
                .id(i);
            // SAFETY: the dispatcher uses no thread-local storage; it only touches `READY`,
            // its own eventfd and wakers.
            if let Err(e) = unsafe { builder.spawn(move || dispatcher(fd)) } {
                eprintln!("greenshim: cannot start dispatcher {i}: {e}");
            }
        }
        fds
    });
}

/// Wakes a batch of waiters: plain threads directly, green threads through the dispatchers.
pub fn wake_batch(wakers: &mut Vec<Waker>) {
    let kicks = KICKS.get().filter(|k| !k.is_empty());
    let Some(kicks) = kicks else {
        wakers.drain(..).for_each(|w| w.wake());
        return;
    };
    let mut any_green = false;
    {
        let mut ready = READY.lock().unwrap_or_else(|e| e.into_inner());
        for w in wakers.drain(..) {
            match w {
                Waker::Thread(t) => t.unpark(),
                green => {
                    ready.push(green);
                    any_green = true;
                }
            }
        }
    }
    if any_green {
        for fd in kicks {
            fd.notify();
        }
    }
}
