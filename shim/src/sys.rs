//! System facts the runtime needs: the kernel's memory-mapping limit and the process's current
//! number of mappings. Each green thread's stack is one mapping plus one guard-page mapping, so
//! these two numbers bound how many green threads can be alive at once.

use std::fs;
use std::io;

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

/// An owned, non-blocking, close-on-exec eventfd.
#[derive(Debug)]
pub struct EventFd(std::os::fd::OwnedFd);

impl EventFd {
    /// Creates an eventfd with a zero counter.
    pub fn new() -> io::Result<Self> {
        use std::os::fd::FromRawFd;
        // SAFETY: eventfd takes no pointers; the flags are valid constants.
        let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
        // SAFETY: `fd` was just returned by eventfd and is owned by nobody else.
        Ok(EventFd(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
    }

    /// Adds one to the counter, making the fd readable.
    pub fn notify(&self) {
        use std::os::fd::AsRawFd;
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an fd this value owns. A failure (counter
        // overflow, EAGAIN) leaves the fd readable, which is all a notification needs.
        unsafe { libc::write(self.0.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    /// Resets the counter to zero (non-blocking).
    pub fn drain(&self) {
        use std::os::fd::AsRawFd;
        let mut value: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64; EAGAIN (already zero) is fine.
        unsafe { libc::read(self.0.as_raw_fd(), (&raw mut value).cast(), 8) };
    }
}

impl std::os::fd::AsRawFd for EventFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.0)
    }
}
