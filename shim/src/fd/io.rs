//! The one retry loop: try the non-blocking syscall; on `WouldBlock`, wait for the fd; retry.
//!
//! Every blocking fd operation of greenshim (the `net` mirror now, the hooks later) is an
//! `op` closure run by [`do_io`] or [`write_all`]. The loop adopts the fd (see
//! [`crate::fd::table`]), honours the user's non-blocking mode and timeouts, and waits:
//!
//! - on a green thread, with a waker queued on the fd's direction and the park primitive, so
//!   deadlines, kill and `Timeout` work as for every other park;
//! - on a plain OS thread, in `poll(2)` on the fd plus the thread's wake eventfd, so a
//!   `Timeout` or a release of the fd wakes it too.
//!
//! An operation that does not block costs the syscall and a few atomic loads, nothing more.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::Instant;

use crate::fd::reactor;
use crate::fd::table::{self as fdtable, Desc, Entry, Interest};
use crate::park::context::{self, Context, Interrupt};
use crate::park::{self, Waker, Wakeup};
use crate::sys::{self, PollFor};

/// How a wait for an fd ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// Something happened on the fd (possibly spuriously): retry the operation.
    Ready,
    /// The deadline passed.
    TimedOut,
}

/// The error of a read or write whose timeout passed: `EAGAIN`, as the kernel reports an
/// expired `SO_RCVTIMEO`/`SO_SNDTIMEO` (kind `WouldBlock`, like std).
pub fn timed_out() -> io::Error {
    io::Error::from_raw_os_error(libc::EAGAIN)
}

/// The error of an operation on an fd that greenshim released while it waited.
pub fn closed() -> io::Error {
    io::Error::from_raw_os_error(libc::EBADF)
}

/// What a wait does with an interrupt (kill or `Timeout`) that cuts it short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnInterrupt {
    /// Unwind the green thread (greenshim's own API: the mirrors).
    Raise,
    /// Record the interrupt as delivered in the context and fail the call with
    /// [`delivered`]'s error: for the interposers, which cannot unwind through their C callers.
    Deliver,
}

impl OnInterrupt {
    fn error(self, ctx: &Context, i: Interrupt) -> io::Error {
        match self {
            OnInterrupt::Raise => interrupted(i),
            OnInterrupt::Deliver => {
                ctx.deliver(i);
                delivered(i)
            }
        }
    }
}

/// The error an interposed call fails with when a kill (`ECANCELED`) or a `Timeout`
/// (`ETIMEDOUT`) cut its wait short. Neither is `EINTR`, which std and C code retry.
pub fn delivered(i: Interrupt) -> io::Error {
    io::Error::from_raw_os_error(match i {
        Interrupt::Kill => libc::ECANCELED,
        Interrupt::Timeout(_) => libc::ETIMEDOUT,
    })
}

/// Turns a pending interrupt into an unwind; when the stack is already unwinding (a blocking
/// call in a destructor of a killed green thread) it returns an error instead.
pub fn interrupted(i: Interrupt) -> io::Error {
    i.raise();
    let what = match i {
        Interrupt::Kill => "the green thread is being killed",
        Interrupt::Timeout(_) => "a greenshim Timeout expired",
    };
    io::Error::other(format!("wait abandoned: {what}"))
}

/// The adopted entry and description of `fd`.
fn adopted(fd: RawFd) -> io::Result<(&'static Entry, &'static Desc)> {
    if let Some(e) = fdtable::lookup(fd)
        && let Some(d) = e.desc()
    {
        return Ok((e, d));
    }
    fdtable::adopt(fd)
}

/// One blocking operation on an adopted fd, between its attempts: the entry, the user's
/// mode, and the deadline, which starts at the first wait (the kernel's `SO_RCVTIMEO` and
/// `SO_SNDTIMEO` count from the call; the first attempt takes no time worth counting).
struct Pending {
    fd: RawFd,
    e: &'static Entry,
    d: &'static Desc,
    interest: Interest,
    generation: u32,
    deadline: Option<Option<Instant>>,
    how: OnInterrupt,
}

impl Pending {
    fn start(fd: RawFd, interest: Interest, how: OnInterrupt) -> io::Result<Self> {
        let (e, d) = adopted(fd)?;
        Ok(Pending {
            fd,
            e,
            d,
            interest,
            generation: e.generation(),
            deadline: None,
            how,
        })
    }

    /// The readiness counter, read before an attempt.
    fn tick(&self) -> u64 {
        self.e.side(self.interest).tick()
    }

    /// Waits for readiness newer than `tick`, bounded by the fd's timeout.
    fn wait(&mut self, tick: u64) -> io::Result<Waited> {
        let (d, interest) = (self.d, self.interest);
        let at = *self
            .deadline
            .get_or_insert_with(|| d.timeout(interest).map(|t| Instant::now() + t));
        wait(
            self.fd,
            self.e,
            self.generation,
            interest,
            tick,
            at,
            self.how,
        )
    }
}

/// Runs `op` until it does not fail with `WouldBlock`, waiting for `interest` on `fd` in
/// between, unless the user made the fd non-blocking. A timeout set on the fd for `interest`
/// bounds the wait; when it passes the result is `EAGAIN`.
pub fn do_io<T>(
    fd: RawFd,
    interest: Interest,
    mut op: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    retry(fd, interest, OnInterrupt::Raise, |_, _, _| op())
}

/// [`do_io`] for an interposer: an interrupt is delivered, never raised.
pub fn hook_io<T>(
    fd: RawFd,
    interest: Interest,
    mut op: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    retry(fd, interest, OnInterrupt::Deliver, |_, _, _| op())
}

/// The retry loop: `op` gets the fd's entry and description and the readiness tick read just
/// before it. `op` makes its system call through `sys` (the interposers and the mirrors' own
/// reads and writes do); a mirror that goes through std instead wraps its call in
/// [`crate::sys::inside`], so that the interposers pass it straight through.
fn retry<T>(
    fd: RawFd,
    interest: Interest,
    how: OnInterrupt,
    mut op: impl FnMut(&Entry, &Desc, u64) -> io::Result<T>,
) -> io::Result<T> {
    let mut p = Pending::start(fd, interest, how)?;
    loop {
        let tick = p.tick();
        match op(p.e, p.d, tick) {
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                if p.d.nonblocking() {
                    return Err(err);
                }
                if p.wait(tick)? == Waited::TimedOut {
                    return Err(timed_out());
                }
            }
            other => {
                if how == OnInterrupt::Raise {
                    // greenshim's own API completed without waiting (never an interposer: its
                    // C caller may be inside state of its OS thread).
                    crate::park::spend();
                }
                return other;
            }
        }
    }
}

/// [`do_io`] for reads from a stream socket into `len` bytes of buffer. A short read (fewer
/// bytes than asked, but some) drained the socket's receive queue, as stream sockets return
/// everything available; the next read then waits for a readiness event instead of paying
/// for a syscall that would fail with `EAGAIN` (tokio's optimization too). Only for fds the
/// reactor watches, where every new arrival moves the readiness counter, and only in blocking
/// mode, where the shortcut's `EAGAIN` is followed by a park, which lets the reactor run. A
/// non-blocking read always asks the kernel: the counter moves only when a reactor runs, and a
/// green thread that polls and reads in a loop without parking keeps its worker's reactor
/// from running. It saw `EAGAIN` forever from a pipe that `poll` called hung up (std's
/// `Command::output` on one worker, `tests/nonblocking_reads.rs`).
pub fn read_stream(
    fd: RawFd,
    len: usize,
    op: impl FnMut() -> io::Result<usize>,
) -> io::Result<usize> {
    read_stream_with(fd, len, OnInterrupt::Raise, op)
}

/// [`read_stream`] with the choice of what an interrupt does.
pub fn read_stream_with(
    fd: RawFd,
    len: usize,
    how: OnInterrupt,
    mut op: impl FnMut() -> io::Result<usize>,
) -> io::Result<usize> {
    retry(fd, Interest::Read, how, |e, d, tick| {
        if !d.is_byte_stream() {
            return op();
        }
        let side = e.side(Interest::Read);
        if e.is_registered() && !d.nonblocking() && side.drained_at(tick) {
            return Err(io::Error::from_raw_os_error(libc::EAGAIN));
        }
        let n = op()?;
        if n > 0 && n < len {
            side.mark_drained(tick);
        }
        Ok(n)
    })
}

/// A blocking-mode write: runs `op(written_so_far)` until `len` bytes are written, as the
/// kernel's blocking `send` queues every byte. Returns the bytes written; a timeout or an error
/// after some bytes went out returns the partial count, as the kernel does.
pub fn write_all(
    fd: RawFd,
    len: usize,
    op: impl FnMut(usize) -> io::Result<usize>,
) -> io::Result<usize> {
    write_all_with(fd, || len, OnInterrupt::Raise, op)
}

/// [`write_all`] for an interposer: an interrupt is delivered, never raised. `len` is asked
/// only after the first write succeeded: a vector write's length is a walk of the caller's
/// iovecs, which the kernel has then found readable (a bad pointer fails the first write with
/// `EFAULT`, as libc's own call would, instead of crashing in the walk).
pub fn hook_write_all(
    fd: RawFd,
    len: impl FnOnce() -> usize,
    op: impl FnMut(usize) -> io::Result<usize>,
) -> io::Result<usize> {
    write_all_with(fd, len, OnInterrupt::Deliver, op)
}

fn write_all_with(
    fd: RawFd,
    len: impl FnOnce() -> usize,
    how: OnInterrupt,
    mut op: impl FnMut(usize) -> io::Result<usize>,
) -> io::Result<usize> {
    let mut p = Pending::start(fd, Interest::Write, how)?;
    let mut done = 0;
    let (mut len_of, mut len) = (Some(len), 0);
    loop {
        let tick = p.tick();
        match op(done) {
            Ok(n) => {
                done += n;
                if let Some(f) = len_of.take() {
                    len = f();
                }
                if done >= len || n == 0 || p.d.nonblocking() {
                    return Ok(done);
                }
            }
            Err(err) if err.kind() == io::ErrorKind::WouldBlock && !p.d.nonblocking() => {
                match p.wait(tick) {
                    Ok(Waited::Ready) => {}
                    Ok(Waited::TimedOut) if done > 0 => return Ok(done),
                    Ok(Waited::TimedOut) => return Err(timed_out()),
                    Err(_) if done > 0 => return Ok(done),
                    Err(err) => return Err(err),
                }
            }
            Err(_) if done > 0 => return Ok(done),
            Err(err) => return Err(err),
        }
    }
}

/// Waits until `fd` is ready for `interest` (checked with a zero-timeout `poll(2)`), the
/// deadline passes, or the fd is released. For operations whose completion is signalled by
/// readiness rather than retried (a non-blocking `connect`).
pub fn wait_ready(fd: RawFd, interest: Interest, deadline: Option<Instant>) -> io::Result<Waited> {
    let (e, _) = adopted(fd)?;
    wait_ready_on(fd, e, interest, deadline, OnInterrupt::Raise)
}

fn wait_ready_on(
    fd: RawFd,
    e: &Entry,
    interest: Interest,
    deadline: Option<Instant>,
    how: OnInterrupt,
) -> io::Result<Waited> {
    let generation = e.generation();
    let side = e.side(interest);
    loop {
        let tick = side.tick();
        if sys::poll(
            fd,
            poll_for(interest),
            None,
            Some(std::time::Duration::ZERO),
        )? != 0
        {
            return Ok(Waited::Ready);
        }
        if wait(fd, e, generation, interest, tick, deadline, how)? == Waited::TimedOut {
            return Ok(Waited::TimedOut);
        }
    }
}

/// [`wait_ready`] for an fd greenshim must not (or need not) adopt: fds 0/1/2, shared with
/// other processes, and the fds an interposer waits on (a pidfd, a connecting socket). Its
/// blocking mode is left alone; it is only watched. `how` says what an interrupt does.
pub fn wait_ready_unadopted(
    fd: RawFd,
    interest: Interest,
    deadline: Option<Instant>,
    how: OnInterrupt,
) -> io::Result<Waited> {
    wait_ready_on(fd, fdtable::entry(fd)?, interest, deadline, how)
}

fn poll_for(interest: Interest) -> PollFor {
    match interest {
        Interest::Read => PollFor::Read,
        Interest::Write => PollFor::Write,
    }
}

/// Waits once for an event on `fd` in direction `interest` that is newer than `tick` (read
/// before the failed attempt), or until `deadline`.
///
/// # Errors
/// `EBADF` if the fd was released meanwhile (`generation` moved), registration errors, and
/// interrupts (raised as an unwind unless already unwinding, or delivered: see
/// [`OnInterrupt`]).
#[allow(clippy::too_many_arguments)]
pub fn wait(
    fd: RawFd,
    e: &Entry,
    generation: u32,
    interest: Interest,
    tick: u64,
    deadline: Option<Instant>,
    how: OnInterrupt,
) -> io::Result<Waited> {
    let ctx = context::current();
    let waited = match ctx.waker() {
        Some(w @ Waker::Green(_)) if ctx.is_green() => {
            reactor::register(fd, e)?;
            let write = matches!(interest, Interest::Write);
            let _on = ctx.waiting(crate::park::wait::WaitOn::Fd { fd, write });
            park_green(&ctx, w, e.side(interest), tick, deadline, how)?
        }
        Some(Waker::Thread(tw)) => {
            let tw = tw.clone();
            let at = At {
                fd,
                e,
                generation,
                interest,
            };
            poll_thread(&ctx, &tw, at, tick, deadline, how)?
        }
        _ => return Err(io::Error::other("greenshim: waiting context has no waker")),
    };
    if e.generation() != generation {
        return Err(closed());
    }
    Ok(waited)
}

fn park_green(
    ctx: &Context,
    w: &Waker,
    side: &fdtable::Side,
    tick: u64,
    deadline: Option<Instant>,
    how: OnInterrupt,
) -> io::Result<Waited> {
    let token = ctx.id();
    if !side.enqueue(tick, token, w) {
        return Ok(Waited::Ready);
    }
    let r = park::park_in(ctx, deadline);
    if r != Ok(Wakeup::Unparked) {
        side.dequeue(token);
    }
    match r {
        Ok(Wakeup::Unparked) => Ok(Waited::Ready),
        Ok(Wakeup::TimedOut) => Ok(Waited::TimedOut),
        Err(i) => Err(how.error(ctx, i)),
    }
}

/// The fd a plain thread polls.
struct At<'a> {
    fd: RawFd,
    e: &'a Entry,
    generation: u32,
    interest: Interest,
}

fn poll_thread(
    ctx: &Context,
    tw: &Arc<park::ThreadWaker>,
    at: At<'_>,
    tick: u64,
    deadline: Option<Instant>,
    how: OnInterrupt,
) -> io::Result<Waited> {
    let At {
        fd,
        e,
        generation,
        interest,
    } = at;
    let wake = tw.poll_wake_fd()?;
    let side = e.side(interest);
    let token = ctx.id();
    // Queued so that a release of the fd wakes this thread through its eventfd.
    if !side.enqueue(tick, token, &Waker::Thread(tw.clone())) {
        return Ok(Waited::Ready);
    }
    let result = loop {
        if let Some(i) = ctx.pending() {
            break Err(how.error(ctx, i));
        }
        if e.generation() != generation {
            break Ok(Waited::Ready);
        }
        let timeout = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => break Ok(Waited::TimedOut),
            },
            None => None,
        };
        match sys::poll(fd, poll_for(interest), Some(wake.as_raw_fd()), timeout) {
            Ok(0) => wake.drain(),
            Ok(_) => break Ok(Waited::Ready),
            Err(err) => break Err(err),
        }
    };
    side.dequeue(token);
    result
}
