//! The only code in greenshim that calls libc: system facts (the kernel's memory-mapping limit
//! and the process's mapping count, which bound how many stacks can be alive), eventfds,
//! [`epoll`], [`poll`] and the socket calls of [`socket`]. Every call returns `io::Result`
//! through [`cvt`] / [`cvt_r`].
//!
//! **Floor 2.** [`real`] is the table of libc's own functions behind the interposers, and
//! [`pass`] the flags that send a call straight through. This floor may import `trace` only
//! (every real call marks it for the blocking detector).

pub mod epoll;
pub mod file;
pub mod pass;
pub mod real;
pub mod socket;

pub use pass::{in_forked_child, inside, is_inside, set_errno};

use std::fs;
use std::io;
use std::os::fd::RawFd;

/// Where the kernel publishes the per-process mapping limit.
pub const MAX_MAP_COUNT_PATH: &str = "/proc/sys/vm/max_map_count";

/// The kernel's per-process limit on memory mappings (`vm.max_map_count`).
pub fn max_map_count() -> io::Result<usize> {
    let text = fs::read_to_string(MAX_MAP_COUNT_PATH)?;
    text.trim().parse().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{MAX_MAP_COUNT_PATH}: {e}"),
        )
    })
}

/// Number of memory mappings this process has now (lines of `/proc/self/maps`).
pub fn current_map_count() -> io::Result<usize> {
    let text = fs::read("/proc/self/maps")?;
    Ok(text.iter().filter(|&&b| b == b'\n').count())
}

/// Raises `vm.max_map_count` to at least `wanted` (needs root). Returns the value in force after
/// the call.
pub fn raise_max_map_count(wanted: usize) -> io::Result<usize> {
    let now = max_map_count()?;
    if now >= wanted {
        return Ok(now);
    }
    fs::write(MAX_MAP_COUNT_PATH, format!("{wanted}\n"))?;
    max_map_count()
}

/// Converts a libc return value: `-1` becomes the thread's last OS error.
pub fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// [`cvt`] for calls returning `ssize_t`.
pub fn cvt_size(ret: isize) -> io::Result<usize> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// Calls `f` until it fails with something other than `EINTR`.
pub fn cvt_r(mut f: impl FnMut() -> libc::c_int) -> io::Result<libc::c_int> {
    loop {
        match cvt(f()) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Sets or clears `O_NONBLOCK` on the open file description of `fd` (one `ioctl(FIONBIO)`, as
/// std's `set_nonblocking` does).
pub fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    let mut v = libc::c_int::from(on);
    // SAFETY: FIONBIO reads one c_int through the pointer, which points at a live local.
    cvt(unsafe { crate::sys::real::ioctl(fd, libc::FIONBIO, (&raw mut v) as libc::c_ulong) })
        .map(drop)
}

/// Whether `O_NONBLOCK` is set on the open file description of `fd`.
pub fn is_nonblocking(fd: RawFd) -> io::Result<bool> {
    // SAFETY: F_GETFL takes no pointer argument.
    let flags = cvt(unsafe { crate::sys::real::fcntl(fd, libc::F_GETFL, 0) })?;
    Ok(flags & libc::O_NONBLOCK != 0)
}

/// Whether `fd` is a stream socket or a pipe (false when it cannot tell).
pub fn is_byte_stream(fd: RawFd) -> bool {
    match socket::socket_type(fd) {
        Ok(ty) => ty == libc::SOCK_STREAM,
        Err(_) => file::file_type(fd).is_ok_and(|t| t == libc::S_IFIFO),
    }
}

/// What [`poll`] waits for on the user's fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollFor {
    /// `POLLIN`.
    Read,
    /// `POLLOUT`.
    Write,
}

/// Blocks the calling OS thread in `poll(2)` until `fd` is ready for `what`, `wake` (an eventfd)
/// is readable, or `timeout` passes (`None` waits forever). `EINTR` counts as a wake-up: the
/// caller re-checks its state and polls again. Returns the revents of `fd`.
pub fn poll(
    fd: RawFd,
    what: PollFor,
    wake: Option<RawFd>,
    timeout: Option<std::time::Duration>,
) -> io::Result<i16> {
    let events = match what {
        PollFor::Read => libc::POLLIN,
        PollFor::Write => libc::POLLOUT,
    };
    let mut fds = [
        libc::pollfd {
            fd,
            events,
            revents: 0,
        },
        libc::pollfd {
            fd: wake.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let ms = timeout.map_or(-1, |t| {
        // Round up so that a short timeout never turns into a busy loop of zero-length polls.
        let ms = t.as_nanos().div_ceil(1_000_000);
        libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
    });
    // SAFETY: `fds` is a live array of two pollfd; the count passed matches it.
    let r = unsafe { crate::sys::real::poll(fds.as_mut_ptr(), 2, ms) };
    match cvt(r) {
        Ok(_) => Ok(fds[0].revents),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(e),
    }
}

/// An owned, non-blocking, close-on-exec eventfd.
#[derive(Debug)]
pub struct EventFd(std::os::fd::OwnedFd);

impl EventFd {
    /// Creates an eventfd with a zero counter.
    pub fn new() -> io::Result<Self> {
        use std::os::fd::FromRawFd;
        // SAFETY: eventfd takes no pointers; the flags are valid constants. The real one: the
        // interposer would take greenshim's own eventfds for may's (see `park::wakeups`).
        let fd = cvt(unsafe { real::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
        // SAFETY: `fd` was just returned by eventfd and is owned by nobody else.
        Ok(EventFd(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
    }

    /// Adds one to the counter, making the fd readable.
    pub fn notify(&self) {
        use std::os::fd::AsRawFd;
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an fd this value owns. A failure (counter
        // overflow, EAGAIN) leaves the fd readable, which is all a notification needs.
        unsafe { crate::sys::real::write(self.0.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    /// Resets the counter to zero (non-blocking).
    pub fn drain(&self) {
        use std::os::fd::AsRawFd;
        let mut value: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64; EAGAIN (already zero) is fine.
        unsafe { crate::sys::real::read(self.0.as_raw_fd(), (&raw mut value).cast(), 8) };
    }
}

impl std::os::fd::AsRawFd for EventFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.0)
    }
}

/// The kernel id of the calling thread.
pub fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// The kernel ids of this process's threads (empty if `/proc` cannot be read).
pub fn thread_ids() -> Vec<i32> {
    fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The name of thread `tid` of this process (the kernel keeps 15 bytes of it).
pub fn thread_name(tid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
        .ok()
        .map(|n| n.trim_end().to_owned())
}

/// Whether OS thread `tid` of this process is blocked in a futex wait (`FUTEX_WAIT` or
/// `FUTEX_WAIT_BITSET`) without a timeout, as `/proc` shows its current system call.
pub fn in_untimed_futex_wait(tid: i32) -> bool {
    let Ok(call) = fs::read_to_string(format!("/proc/self/task/{tid}/syscall")) else {
        return false;
    };
    let mut fields = call.split_whitespace().map(|f| {
        let hex = f.strip_prefix("0x");
        hex.map_or_else(
            || f.parse::<i64>().ok(),
            |h| u64::from_str_radix(h, 16).ok().map(|v| v as i64),
        )
    });
    if fields.next() != Some(Some(libc::SYS_futex)) {
        return false;
    }
    let args: Vec<Option<i64>> = fields.take(4).collect();
    let cmd = args
        .get(1)
        .copied()
        .flatten()
        .map(|op| op as i32 & !(libc::FUTEX_PRIVATE_FLAG | libc::FUTEX_CLOCK_REALTIME));
    let timeout = args.get(3).copied().flatten();
    matches!(cmd, Some(libc::FUTEX_WAIT | libc::FUTEX_WAIT_BITSET)) && timeout == Some(0)
}

/// The calling OS thread's stack block `[lo, hi)`: its stack, and for a thread glibc created,
/// the static TLS and thread descriptor glibc places at the top of the same allocation.
pub fn thread_stack_block() -> io::Result<(usize, usize)> {
    let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: `attr` is an out-parameter; on success it is initialised and destroyed below.
    let r = unsafe { libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    let mut addr = std::ptr::null_mut();
    let mut size = 0;
    // SAFETY: `attr` was initialised by pthread_getattr_np; `addr` and `size` are out-params.
    let r = unsafe { libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size) };
    // SAFETY: initialised above, destroyed once.
    unsafe { libc::pthread_attr_destroy(attr.as_mut_ptr()) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    let lo = addr as usize;
    Ok((lo, lo + size))
}
