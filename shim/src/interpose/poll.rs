//! The `Poll` family: `poll`, `ppoll`, `select`, `pselect`, `epoll_wait`, `epoll_pwait` and
//! FORTIFY's `__poll_chk`/`__ppoll_chk`.
//!
//! On a green thread a wait with a non-zero timeout first asks the kernel with a zero timeout;
//! if nothing is ready, the green thread queues itself on every polled fd's direction in the fd
//! table (the fds join greenshim's reactor, edge-triggered) and parks until one fires, the
//! timeout passes or it is interrupted; then it asks the kernel again. The kernel computes
//! every result, so `revents`, `POLLNVAL` and `select`'s sets are libc's own. An `epoll_wait`
//! parks on the user's epoll fd itself, which is readable when it has events.
//!
//! The signal mask of `ppoll`/`pselect`/`epoll_pwait` applies to the kernel calls only, not
//! while the green thread is parked (a green thread has no signal mask of its own).

use crate::sys::real;
use std::ffi::c_int;
use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use super::{Family, SendPtr, cooperative, offload_call};
use crate::fd::io::delivered;
use crate::fd::reactor;
use crate::fd::table::{self as fdtable, Entry, Interest};
use crate::park::context;
use crate::park::{self, Wakeup};

/// The deadline of a millisecond timeout (`None`: wait forever; negative values mean that).
fn deadline_ms(ms: c_int) -> Option<Instant> {
    u64::try_from(ms)
        .ok()
        .and_then(|ms| Instant::now().checked_add(Duration::from_millis(ms)))
}

/// The deadline of a `timespec` timeout (null: forever); `Err` if it is invalid.
///
/// # Safety
/// `ts` is null or points at a timespec.
unsafe fn deadline_ts(ts: *const libc::timespec) -> Result<Option<Instant>, ()> {
    if ts.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's contract.
    let ts = unsafe { *ts };
    let secs = u64::try_from(ts.tv_sec).map_err(drop)?;
    let nanos = u32::try_from(ts.tv_nsec)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .ok_or(())?;
    Ok(Instant::now().checked_add(Duration::new(secs, nanos)))
}

fn is_zero(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| d <= Instant::now())
}

/// One direction of one fd that a parked poll waits on.
struct Watch {
    fd: RawFd,
    e: &'static Entry,
    interest: Interest,
    tick: u64,
}

/// Parks the green thread until one of `watches` fires, `deadline` passes or an interrupt
/// comes (delivered: the error to fail with). `Ok(true)` means "look again".
fn park_on(watches: &[Watch], deadline: Option<Instant>) -> io::Result<bool> {
    let ctx = context::current();
    let Some(waker) = ctx.waker().cloned() else {
        return Err(io::Error::other("greenshim: waiting context has no waker"));
    };
    for w in watches {
        reactor::refresh(w.fd, w.e)?;
    }
    let token = ctx.id();
    let mut queued = 0;
    for w in watches {
        if !w.e.side(w.interest).enqueue(w.tick, token, &waker) {
            break;
        }
        queued += 1;
    }
    let r = if queued == watches.len() {
        let _on = ctx.waiting(crate::park::wait::WaitOn::Poll { fds: watches.len() });
        park::park_in(&ctx, deadline)
    } else {
        // Something fired since the kernel was asked: ask again.
        Ok(Wakeup::Unparked)
    };
    for w in &watches[..queued] {
        w.e.side(w.interest).dequeue(token);
    }
    match r {
        Ok(Wakeup::Unparked) => Ok(true),
        Ok(Wakeup::TimedOut) => Ok(false),
        Err(i) => {
            ctx.deliver(i);
            Err(delivered(i))
        }
    }
}

/// The green-thread `poll`: `fds` is the caller's array.
fn poll_green(fds: &mut [libc::pollfd], deadline: Option<Instant>) -> io::Result<c_int> {
    loop {
        let mut watches = Vec::with_capacity(fds.len());
        for p in fds.iter() {
            if p.fd < 0 {
                continue;
            }
            let e = fdtable::entry(p.fd)?;
            let mut add = |interest| {
                watches.push(Watch {
                    fd: p.fd,
                    e,
                    interest,
                    tick: e.side(interest).tick(),
                });
            };
            if p.events & libc::POLLOUT != 0 {
                add(Interest::Write);
            }
            if p.events & libc::POLLOUT == 0
                || p.events & (libc::POLLIN | libc::POLLPRI | libc::POLLRDHUP) != 0
            {
                add(Interest::Read);
            }
        }
        // SAFETY: `fds` is the caller's live array of this length.
        let n = unsafe { real::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
        if n != 0 {
            return super::int_result(n);
        }
        if is_zero(deadline) {
            return Ok(0);
        }
        match park_on(&watches, deadline) {
            Ok(true) => {}
            Ok(false) => {
                // The deadline passed: one last look, so a result that raced it is not lost.
                // SAFETY: as above.
                return super::int_result(unsafe {
                    real::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0)
                });
            }
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                // An fd epoll cannot watch: let the kernel wait, off the worker.
                let ms = deadline.map_or(-1, |d| {
                    let left = d.saturating_duration_since(Instant::now());
                    c_int::try_from(left.as_millis().max(1)).unwrap_or(c_int::MAX)
                });
                let (p, len) = (SendPtr(fds.as_mut_ptr()), fds.len());
                let n = offload_call(move || {
                    let p = p;
                    // SAFETY: see `SendPtr`.
                    unsafe { real::poll(p.0, len as libc::nfds_t, ms) }
                });
                return super::int_result(n);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Shared by the `poll` family: cooperative only on a green thread with a non-zero timeout.
///
/// # Safety
/// `fds` points at `nfds` pollfds.
unsafe fn poll_with(
    fds: *mut libc::pollfd,
    nfds: libc::nfds_t,
    deadline: Option<Instant>,
    real_call: impl FnOnce() -> c_int,
) -> c_int {
    if is_zero(deadline) || (nfds > 0 && fds.is_null()) || !cooperative(Family::Poll) {
        return real_call();
    }
    let slice = if nfds == 0 {
        &mut [][..]
    } else {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(fds, nfds as usize) }
    };
    super::ret_int(poll_green(slice, deadline))
}

/// greenshim's `poll`.
///
/// # Safety
/// The C contract of `poll(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn poll(fds: *mut libc::pollfd, nfds: libc::nfds_t, timeout: c_int) -> c_int {
    // SAFETY: the caller's contract; the real call gets its arguments unchanged.
    unsafe {
        poll_with(fds, nfds, deadline_ms(timeout), || {
            real::poll(fds, nfds, timeout)
        })
    }
}

/// FORTIFY's `poll`.
///
/// # Safety
/// The C contract of `__poll_chk`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __poll_chk(
    fds: *mut libc::pollfd,
    nfds: libc::nfds_t,
    timeout: c_int,
    fdslen: usize,
) -> c_int {
    super::count_fortified();
    if fdslen / size_of::<libc::pollfd>() < nfds as usize {
        // SAFETY: libc's own check fails and aborts the process.
        return unsafe { real::__poll_chk(fds, nfds, timeout, fdslen) };
    }
    // SAFETY: the array was checked against its size.
    unsafe { poll(fds, nfds, timeout) }
}

/// greenshim's `ppoll`.
///
/// # Safety
/// The C contract of `ppoll(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ppoll(
    fds: *mut libc::pollfd,
    nfds: libc::nfds_t,
    timeout: *const libc::timespec,
    mask: *const libc::sigset_t,
) -> c_int {
    let real_call = || {
        // SAFETY: the caller's arguments pass through unchanged.
        unsafe { real::ppoll(fds, nfds, timeout, mask) }
    };
    // SAFETY: the caller passes a valid timespec or null.
    match unsafe { deadline_ts(timeout) } {
        // SAFETY: the caller's contract.
        Ok(deadline) => unsafe { poll_with(fds, nfds, deadline, real_call) },
        Err(()) => real_call(),
    }
}

/// FORTIFY's `ppoll`.
///
/// # Safety
/// The C contract of `__ppoll_chk`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __ppoll_chk(
    fds: *mut libc::pollfd,
    nfds: libc::nfds_t,
    timeout: *const libc::timespec,
    mask: *const libc::sigset_t,
    fdslen: usize,
) -> c_int {
    super::count_fortified();
    if fdslen / size_of::<libc::pollfd>() < nfds as usize {
        // SAFETY: libc's own check fails and aborts the process.
        return unsafe { real::__ppoll_chk(fds, nfds, timeout, mask, fdslen) };
    }
    // SAFETY: the array was checked against its size.
    unsafe { ppoll(fds, nfds, timeout, mask) }
}

/// `select` on a green thread, through [`poll_green`]; the sets are rewritten from the
/// kernel's `revents` as `select` reports readiness.
///
/// # Safety
/// The set pointers are null or point at `fd_set`s; `nfds <= FD_SETSIZE`.
unsafe fn select_green(
    nfds: c_int,
    sets: [*mut libc::fd_set; 3],
    deadline: Option<Instant>,
) -> io::Result<c_int> {
    const WANT: [libc::c_short; 3] = [libc::POLLIN, libc::POLLOUT, libc::POLLPRI];
    let mut fds: Vec<libc::pollfd> = Vec::new();
    for fd in 0..nfds {
        let mut events = 0;
        for (set, want) in sets.iter().zip(WANT) {
            // SAFETY: a non-null set is a valid fd_set and `fd < FD_SETSIZE`.
            if !set.is_null() && unsafe { libc::FD_ISSET(fd, *set) } {
                events |= want;
            }
        }
        if events != 0 {
            fds.push(libc::pollfd {
                fd,
                events,
                revents: 0,
            });
        }
    }
    let n = poll_green(&mut fds, deadline)?;
    for set in sets.iter().filter(|s| !s.is_null()) {
        // SAFETY: a valid fd_set.
        unsafe { libc::FD_ZERO(*set) };
    }
    if n == 0 {
        return Ok(0);
    }
    let mut count = 0;
    for p in &fds {
        if p.revents & libc::POLLNVAL != 0 {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        // What select counts as readable, writable and exceptional.
        let ready = [
            p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0,
            p.revents & (libc::POLLOUT | libc::POLLERR) != 0,
            p.revents & libc::POLLPRI != 0,
        ];
        for ((set, want), ready) in sets.iter().zip(WANT).zip(ready) {
            if ready && p.events & want != 0 {
                // SAFETY: a valid fd_set; the fd came from it.
                unsafe { libc::FD_SET(p.fd, *set) };
                count += 1;
            }
        }
    }
    Ok(count)
}

fn select_ok(nfds: c_int) -> bool {
    (0..=libc::FD_SETSIZE as c_int).contains(&nfds)
}

/// greenshim's `select`. The timeout is updated to the time left, as Linux does.
///
/// # Safety
/// The C contract of `select(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn select(
    nfds: c_int,
    r: *mut libc::fd_set,
    w: *mut libc::fd_set,
    e: *mut libc::fd_set,
    timeout: *mut libc::timeval,
) -> c_int {
    let deadline = if timeout.is_null() {
        Some(None)
    } else {
        // SAFETY: the caller passes a valid timeval.
        let tv = unsafe { *timeout };
        match (u64::try_from(tv.tv_sec), u64::try_from(tv.tv_usec)) {
            (Ok(s), Ok(us)) if us < 1_000_000 => {
                Some(Instant::now().checked_add(Duration::from_secs(s) + Duration::from_micros(us)))
            }
            _ => None,
        }
    };
    let Some(deadline) = deadline.filter(|d| select_ok(nfds) && !is_zero(*d)) else {
        // SAFETY: the caller's arguments pass through unchanged.
        return unsafe { real::select(nfds, r, w, e, timeout) };
    };
    if !cooperative(Family::Poll) {
        // SAFETY: as above.
        return unsafe { real::select(nfds, r, w, e, timeout) };
    }
    // SAFETY: the caller's sets; `nfds` was checked.
    let n = unsafe { select_green(nfds, [r, w, e], deadline) };
    if let (false, Some(d)) = (timeout.is_null(), deadline) {
        let left = d.saturating_duration_since(Instant::now());
        // SAFETY: the caller's timeval.
        unsafe {
            (*timeout).tv_sec = left.as_secs() as libc::time_t;
            (*timeout).tv_usec = left.subsec_micros() as libc::suseconds_t;
        }
    }
    super::ret_int(n)
}

/// greenshim's `pselect`.
///
/// # Safety
/// The C contract of `pselect(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pselect(
    nfds: c_int,
    r: *mut libc::fd_set,
    w: *mut libc::fd_set,
    e: *mut libc::fd_set,
    timeout: *const libc::timespec,
    mask: *const libc::sigset_t,
) -> c_int {
    // SAFETY: the caller passes a valid timespec or null.
    let deadline = unsafe { deadline_ts(timeout) };
    match deadline {
        Ok(d) if select_ok(nfds) && !is_zero(d) && cooperative(Family::Poll) => {
            // SAFETY: the caller's sets; `nfds` was checked.
            super::ret_int(unsafe { select_green(nfds, [r, w, e], d) })
        }
        // SAFETY: the caller's arguments pass through unchanged.
        _ => unsafe { real::pselect(nfds, r, w, e, timeout, mask) },
    }
}

/// A wait in an event loop greenshim did not create: `epoll_wait` on an epoll that is neither a
/// reactor's nor a may worker's, made by a green thread. It blocks the worker (the other
/// workers are woken to take the green threads queued behind it, as for a futex wait on
/// per-thread state) instead of parking.
///
/// Such loops may keep state of their OS thread that greenshim cannot see: tokio records
/// "runtime entered" per OS thread in `block_on`, so had the green thread parked here, the next
/// green thread on this worker calling `block_on` would panic ("Cannot start a runtime from
/// within a runtime"), and the parked one could resume inside its runtime on another worker.
/// tokio is also recognised by its own answer (see `which::set_foreign_state_probe`), which
/// covers its other waits; for other loops the `epoll_wait`, their main wait, is what can be
/// recognised.
fn foreign_loop_wait(wait: impl FnOnce() -> c_int) -> c_int {
    crate::park::which::note_foreign_wait();
    static NAME: &str = crate::trace::FOREIGN_LOOP_WAIT;
    crate::fd::reactor::block_worker(&NAME, wait)
}

/// Whether an `epoll_wait` with these arguments waits in an event loop greenshim did not
/// create ([`foreign_loop_wait`]): one that can block, on a green thread (patched), inside a
/// foreign runtime's state or not.
fn in_foreign_loop(timeout: c_int, max: c_int) -> bool {
    timeout != 0
        && max > 0
        && (cooperative(Family::Poll) || crate::park::which::green_inside_foreign_state())
}

/// greenshim's `epoll_wait`.
///
/// # Safety
/// The C contract of `epoll_wait(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn epoll_wait(
    epfd: c_int,
    events: *mut libc::epoll_event,
    max: c_int,
    timeout: c_int,
) -> c_int {
    if timeout != 0
        && max > 0
        && let Some(w) = crate::park::wakeups::worker_of_epoll(epfd)
    {
        // A may worker about to sleep: it first looks for a wake-up its producers did not
        // write (see `park::wakeups`). Always in force, patched or not.
        // SAFETY: the caller's arguments.
        return unsafe { crate::park::wakeups::worker_wait(w, epfd, events, max, timeout) };
    }
    if in_foreign_loop(timeout, max) {
        // SAFETY: the caller's arguments pass through unchanged.
        return foreign_loop_wait(|| unsafe { real::epoll_wait(epfd, events, max, timeout) });
    }
    // SAFETY: the caller's arguments pass through unchanged.
    unsafe { real::epoll_wait(epfd, events, max, timeout) }
}

/// greenshim's `epoll_pwait`.
///
/// # Safety
/// The C contract of `epoll_pwait(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn epoll_pwait(
    epfd: c_int,
    events: *mut libc::epoll_event,
    max: c_int,
    timeout: c_int,
    mask: *const libc::sigset_t,
) -> c_int {
    if in_foreign_loop(timeout, max) {
        // SAFETY: the caller's arguments pass through unchanged.
        return foreign_loop_wait(|| unsafe {
            real::epoll_pwait(epfd, events, max, timeout, mask)
        });
    }
    // SAFETY: the caller's arguments pass through unchanged.
    unsafe { real::epoll_pwait(epfd, events, max, timeout, mask) }
}

/// References every interposer of the family, so that a binary that patches links them.
pub(crate) fn keep_linked() {
    std::hint::black_box([
        poll as *const (),
        __poll_chk as *const (),
        ppoll as *const (),
        __ppoll_chk as *const (),
        select as *const (),
        pselect as *const (),
        epoll_wait as *const (),
        epoll_pwait as *const (),
    ]);
}
