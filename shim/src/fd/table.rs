//! The fd table: what greenshim knows about each file descriptor it manages.
//!
//! One [`Entry`] per fd number, found by indexing (two atomic loads, no lock). Entries are
//! allocated in pages on first use and never freed, so a reference to an entry stays valid
//! forever; an entry is *reused* when its fd number is, and its `generation` tells the two
//! lives apart.
//!
//! The state the kernel keeps per *open file description* (shared by `dup`s, which is what
//! `try_clone` makes) lives in a [`Desc`]: the user's blocking intent and the read/write
//! timeouts. std documents that options set on one clone apply to the other, so clones share
//! one `Desc`. Descs are slots of a slab with a free list, reference counted by the entries
//! that point at them.
//!
//! An fd is *adopted* when it has a `Desc`: the kernel's `O_NONBLOCK` is then always set, the
//! user's intent is `Desc::nonblocking`, and every wait goes through the park primitive (green
//! threads) or `poll(2)` (plain threads). Adoption reads the intent and timeouts from the
//! kernel first, so nothing set before adoption is lost. Closing is the close protocol (`fd/close.rs`)'s.

use std::io;
use std::os::fd::RawFd;
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::park::waker::Waker;
use crate::sys;
use crate::sys::socket::TimeoutOpt;

const PAGE: usize = 1024;
const PAGES: usize = 4096;
/// The largest fd number the table can manage (4 Mi); beyond it fds are not adopted.
pub const MAX_FD: usize = PAGE * PAGES;

/// A lazily allocated two-level array whose elements live forever.
struct Slots<T> {
    pages: [AtomicPtr<T>; PAGES],
}

impl<T: Default> Slots<T> {
    const fn new() -> Self {
        Slots {
            pages: [const { AtomicPtr::new(ptr::null_mut()) }; PAGES],
        }
    }

    /// The slot at `index`, if its page exists.
    fn get(&self, index: usize) -> Option<&'static T> {
        let page = self.pages.get(index / PAGE)?.load(Ordering::Acquire);
        // SAFETY: a non-null page pointer comes from `Box::leak` of a slice of exactly PAGE
        // elements in `get_or_alloc` and is never freed, so the element is valid for 'static.
        (!page.is_null()).then(|| unsafe { &*page.add(index % PAGE) })
    }

    /// The slot at `index`, allocating its page if needed. `None` beyond the table.
    fn get_or_alloc(&self, index: usize) -> Option<&'static T> {
        if let Some(slot) = self.get(index) {
            return Some(slot);
        }
        let cell = self.pages.get(index / PAGE)?;
        let page: Box<[T]> = (0..PAGE).map(|_| T::default()).collect();
        let fresh = Box::leak(page).as_mut_ptr();
        if let Err(_existing) =
            cell.compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: `fresh` came from `Box::leak` of a PAGE-long slice just above and was never
            // published, so rebuilding and dropping the box is its only use.
            drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(fresh, PAGE)) });
        }
        self.get(index)
    }
}

/// Which way an operation moves data, and so which readiness it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Readable (also: accept, peek, recv).
    Read,
    /// Writable (also: connect completion, send).
    Write,
}

/// One direction of an fd: a readiness counter and the green threads waiting for it.
#[derive(Default, Debug)]
pub struct Side {
    /// Bumped by the reactor on every readiness event of this direction (and by `release`).
    /// A waiter reads it before its syscall and parks only if it has not moved since.
    tick: AtomicU64,
    /// `tick + 1` as it was before a read that drained the socket (a short stream read), 0
    /// when unknown. While the tick has not moved since, the socket is known to be empty.
    drained: AtomicU64,
    /// The peer hung up or an error is pending (HUP, RDHUP, ERR seen): no later edge will come,
    /// so the drained shortcut no longer applies. Cleared when the fd is released.
    closed: AtomicBool,
    waiters: Mutex<Vec<(u64, Waker)>>,
}

impl Side {
    /// The readiness counter, read before an attempt.
    pub fn tick(&self) -> u64 {
        self.tick.load(Ordering::Acquire)
    }

    /// Records that an attempt made after reading `tick` left nothing to read.
    pub fn mark_drained(&self, tick: u64) {
        self.drained.store(tick.wrapping_add(1), Ordering::Release);
    }

    /// Whether the direction was drained by an attempt made after reading `tick` and nothing
    /// has happened since (no readiness event, no hang-up): an attempt now would find nothing.
    pub fn drained_at(&self, tick: u64) -> bool {
        !self.closed.load(Ordering::Acquire)
            && self.drained.load(Ordering::Acquire) == tick.wrapping_add(1)
    }

    /// Records a hang-up or error: reads must go to the kernel from now on (EOF or the error
    /// is waiting there, and no further readiness edge will announce it).
    pub fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Queues `waker` under `token` unless the counter moved past `seen` (an event arrived
    /// since the failed attempt: retry instead of parking). Returns whether it was queued.
    pub fn enqueue(&self, seen: u64, token: u64, waker: &Waker) -> bool {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        if self.tick.load(Ordering::Acquire) != seen {
            return false;
        }
        waiters.push((token, waker.clone()));
        true
    }

    /// Removes the waiter `token` (its park ended without an event: timeout or interrupt).
    pub fn dequeue(&self, token: u64) {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = waiters.iter().position(|(t, _)| *t == token) {
            waiters.swap_remove(i);
        }
    }

    /// How many green or plain threads wait here now.
    pub fn waiters(&self) -> usize {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Marks an event and moves every waiter into `out` (the caller wakes them outside the
    /// lock).
    pub fn fire(&self, out: &mut Vec<Waker>) {
        self.tick.fetch_add(1, Ordering::AcqRel);
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        out.extend(waiters.drain(..).map(|(_, w)| w));
    }
}

/// Everything greenshim knows about one fd number.
#[derive(Default, Debug)]
pub struct Entry {
    /// Bumped each time the fd is released; lets waiters and the reactor spot a reused number.
    generation: AtomicU32,
    /// 0 when not adopted, otherwise the slab index of the Desc plus one.
    desc: AtomicU32,
    /// Registered with a reactor's epoll (data carries the generation at registration).
    registered: AtomicBool,
    /// How the interposers came to know the fd ([`Origin`] as a byte).
    origin: AtomicU8,
    read: Side,
    write: Side,
}

impl Entry {
    /// The current generation.
    pub fn generation(&self) -> u32 {
        self.generation.load(Ordering::Acquire)
    }

    /// The shared description state, if the fd is adopted.
    pub fn desc(&self) -> Option<&'static Desc> {
        match self.desc.load(Ordering::Acquire) {
            0 => None,
            n => DESCS.get(n as usize - 1),
        }
    }

    /// The waiters of one direction.
    pub fn side(&self, interest: Interest) -> &Side {
        match interest {
            Interest::Read => &self.read,
            Interest::Write => &self.write,
        }
    }

    /// Whether the fd is in a reactor's epoll.
    pub fn is_registered(&self) -> bool {
        self.registered.load(Ordering::Acquire)
    }

    /// Records that the fd is in a reactor's epoll.
    pub fn set_registered(&self) {
        self.registered.store(true, Ordering::Release);
    }

    /// How the interposers came to know the fd.
    pub fn origin(&self) -> Origin {
        match self.origin.load(Ordering::Acquire) {
            b if b == Origin::Pollable as u8 => Origin::Pollable,
            b if b == Origin::File as u8 => Origin::File,
            _ => Origin::Unknown,
        }
    }
}

/// How the interposers came to know an fd. Only fds a hooked call created are adopted by the
/// hooks on their own: fds 0/1/2 and inherited fds may share their open file description with
/// other processes, which would see the `O_NONBLOCK` greenshim sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Origin {
    /// Not created by a hooked call (inherited, created before patching, or by code the hooks
    /// do not see).
    Unknown = 0,
    /// A socket or pipe created by a hooked call (`socket`, `accept`, `pipe`, …) while the
    /// monkey patch was on.
    Pollable,
    /// A regular file opened by a hooked `open` while the monkey patch's `Files` family was on.
    File,
}

/// The state of an open file description that the kernel cannot keep for greenshim.
#[derive(Default, Debug)]
pub struct Desc {
    refs: AtomicU32,
    nonblocking: AtomicBool,
    /// A stream socket or a pipe: a short read drained it (see [`Side::mark_drained`]).
    byte_stream: AtomicBool,
    /// Nanoseconds; 0 means none.
    read_timeout: AtomicU64,
    write_timeout: AtomicU64,
}

impl Desc {
    /// The user's `set_nonblocking` choice.
    pub fn nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }

    /// Records the user's `set_nonblocking` choice (the kernel fd stays non-blocking).
    pub fn set_nonblocking(&self, on: bool) {
        self.nonblocking.store(on, Ordering::Relaxed);
    }

    /// Whether the description is a stream socket or a pipe, where a read that returns fewer
    /// bytes than asked for left nothing behind.
    pub fn is_byte_stream(&self) -> bool {
        self.byte_stream.load(Ordering::Relaxed)
    }

    /// The timeout of waits in direction `interest`.
    pub fn timeout(&self, interest: Interest) -> Option<Duration> {
        let ns = match interest {
            Interest::Read => self.read_timeout.load(Ordering::Relaxed),
            Interest::Write => self.write_timeout.load(Ordering::Relaxed),
        };
        (ns != 0).then(|| Duration::from_nanos(ns))
    }

    /// Sets the timeout of waits in direction `interest`.
    pub fn set_timeout(&self, interest: Interest, timeout: Option<Duration>) {
        let ns = timeout.map_or(0, |t| {
            u64::try_from(t.as_nanos()).unwrap_or(u64::MAX).max(1)
        });
        match interest {
            Interest::Read => self.read_timeout.store(ns, Ordering::Relaxed),
            Interest::Write => self.write_timeout.store(ns, Ordering::Relaxed),
        }
    }
}

static ENTRIES: Slots<Entry> = Slots::new();
static DESCS: Slots<Desc> = Slots::new();
/// Free slab indices and the next never-used one.
static DESC_FREE: Mutex<(Vec<u32>, u32)> = Mutex::new((Vec::new(), 0));

fn alloc_desc(
    nonblocking: bool,
    byte_stream: bool,
    read: Option<Duration>,
    write: Option<Duration>,
) -> io::Result<u32> {
    let index = {
        let mut free = DESC_FREE.lock().unwrap_or_else(|e| e.into_inner());
        match free.0.pop() {
            Some(i) => i,
            None => {
                let i = free.1;
                if i as usize >= MAX_FD {
                    return Err(io::Error::new(
                        io::ErrorKind::OutOfMemory,
                        "greenshim's fd table is full (4 Mi open descriptions)",
                    ));
                }
                free.1 += 1;
                i
            }
        }
    };
    let desc = DESCS
        .get_or_alloc(index as usize)
        .expect("index checked above");
    desc.refs.store(1, Ordering::Relaxed);
    desc.set_nonblocking(nonblocking);
    desc.byte_stream.store(byte_stream, Ordering::Relaxed);
    desc.set_timeout(Interest::Read, read);
    desc.set_timeout(Interest::Write, write);
    Ok(index + 1)
}

/// What a description's last reference leaves behind: the user's blocking intent, read
/// before its slot went back on the free list (another fd's adoption may take the slot the
/// moment it is there, so the `Desc` itself must not be read after).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Released {
    /// The user had made the description non-blocking.
    pub(crate) nonblocking: bool,
}

/// Drops one reference to description `id`; the last one frees its slot and returns what it
/// held.
fn drop_desc_ref(id: u32) -> Option<Released> {
    let desc = DESCS.get(id as usize - 1)?;
    if desc.refs.fetch_sub(1, Ordering::AcqRel) == 1 {
        let released = Released {
            nonblocking: desc.nonblocking(),
        };
        let mut free = DESC_FREE.lock().unwrap_or_else(|e| e.into_inner());
        free.0.push(id - 1);
        return Some(released);
    }
    None
}

fn index(fd: RawFd) -> io::Result<usize> {
    usize::try_from(fd)
        .ok()
        .filter(|&i| i < MAX_FD)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))
}

/// The entry of `fd`, if it has ever been touched.
pub fn lookup(fd: RawFd) -> Option<&'static Entry> {
    ENTRIES.get(usize::try_from(fd).ok()?)
}

/// The entry of `fd`, created if needed.
pub fn entry(fd: RawFd) -> io::Result<&'static Entry> {
    ENTRIES
        .get_or_alloc(index(fd)?)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))
}

/// Adopts `fd` if it is not adopted yet: reads the user's blocking mode and timeouts from the
/// kernel, then sets `O_NONBLOCK`. Returns the entry and its description.
pub fn adopt(fd: RawFd) -> io::Result<(&'static Entry, &'static Desc)> {
    let e = entry(fd)?;
    if let Some(d) = e.desc() {
        return Ok((e, d));
    }
    let nonblocking = sys::is_nonblocking(fd)?;
    let read = sys::socket::timeout(fd, TimeoutOpt::Receive)?;
    let write = sys::socket::timeout(fd, TimeoutOpt::Send)?;
    if !nonblocking {
        sys::set_nonblocking(fd, true)?;
    }
    let byte_stream = sys::is_byte_stream(fd);
    install(e, alloc_desc(nonblocking, byte_stream, read, write)?)
}

/// Adopts an fd that greenshim itself just created non-blocking (a connected or accepted
/// stream socket), with the given user state, skipping the kernel queries.
pub fn adopt_new(
    fd: RawFd,
    nonblocking: bool,
    read: Option<Duration>,
    write: Option<Duration>,
) -> io::Result<(&'static Entry, &'static Desc)> {
    let e = entry(fd)?;
    install(e, alloc_desc(nonblocking, true, read, write)?)
}

fn install(e: &'static Entry, id: u32) -> io::Result<(&'static Entry, &'static Desc)> {
    if e.desc
        .compare_exchange(0, id, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        // Another thread adopted the same fd first; use its description.
        drop_desc_ref(id);
    }
    let d = e.desc().expect("adopted above");
    Ok((e, d))
}

/// Makes `new_fd` (a `dup` of `fd`) share `fd`'s description. `fd` must be adopted.
pub fn share(fd: RawFd, new_fd: RawFd) -> io::Result<()> {
    let (src, _) = adopt(fd)?;
    let id = src.desc.load(Ordering::Acquire);
    let d = src.desc().expect("adopted above");
    d.refs.fetch_add(1, Ordering::AcqRel);
    let e = entry(new_fd)?;
    if e.desc
        .compare_exchange(0, id, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        drop_desc_ref(id);
    }
    Ok(())
}

impl Entry {
    /// First half of a release (see the close protocol (`fd/close.rs`)): a new generation, and the entry no
    /// longer registered. Returns whether it was registered, or `None` when the fd has
    /// nothing to release.
    pub(crate) fn begin_release(&self) -> Option<bool> {
        if self.desc.load(Ordering::Acquire) == 0 && !self.is_registered() {
            return None;
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        Some(self.registered.swap(false, Ordering::AcqRel))
    }

    /// Second half of a release: wakes every waiter (they see the new generation) and drops
    /// the description reference; returns what the description held if this was its last
    /// reference.
    pub(crate) fn end_release(&self) -> Option<Released> {
        let mut woken = Vec::new();
        self.read.fire(&mut woken);
        self.write.fire(&mut woken);
        self.read.closed.store(false, Ordering::Release);
        self.write.closed.store(false, Ordering::Release);
        for w in woken {
            w.wake();
        }
        let id = self.desc.swap(0, Ordering::AcqRel);
        if id == 0 { None } else { drop_desc_ref(id) }
    }

    /// Records where the fd came from.
    pub(crate) fn set_origin(&self, origin: Origin) {
        self.origin.store(origin as u8, Ordering::Release);
    }
}

/// Calls `f` with every fd that has an entry.
pub(crate) fn for_each_entry(mut f: impl FnMut(RawFd, &'static Entry)) {
    for (p, page) in ENTRIES.pages.iter().enumerate() {
        if page.load(Ordering::Acquire).is_null() {
            continue;
        }
        for i in 0..PAGE {
            let fd = (p * PAGE + i) as RawFd;
            if let Some(e) = lookup(fd) {
                f(fd, e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_hand_out_stable_references() {
        static S: Slots<AtomicU32> = Slots::new();
        assert!(S.get(5).is_none());
        let a = S.get_or_alloc(5).unwrap();
        a.store(7, Ordering::Relaxed);
        assert_eq!(S.get(5).unwrap().load(Ordering::Relaxed), 7);
        assert!(S.get_or_alloc(MAX_FD).is_none());
        assert!(std::ptr::eq(a, S.get_or_alloc(5).unwrap()));
    }

    #[test]
    fn a_released_description_reports_its_state_from_before_its_slot_is_reused() {
        let a = alloc_desc(false, true, None, None).unwrap();
        let last = drop_desc_ref(a);
        // The slot goes straight to the next adoption, which makes it non-blocking.
        let b = alloc_desc(true, true, None, None).unwrap();
        assert_eq!(a, b, "the slot was reused");
        assert_eq!(last, Some(Released { nonblocking: false }));
        assert_eq!(drop_desc_ref(b), Some(Released { nonblocking: true }));
    }

    #[test]
    fn a_queued_waiter_is_refused_once_the_tick_moved() {
        let side = Side::default();
        let seen = side.tick();
        let w = Waker::current();
        assert!(side.enqueue(seen, 1, &w));
        let mut out = Vec::new();
        side.fire(&mut out);
        assert_eq!(out.len(), 1);
        assert!(!side.enqueue(seen, 2, &w), "an event arrived since `seen`");
        assert!(side.enqueue(side.tick(), 3, &w));
        side.dequeue(3);
        side.fire(&mut out);
        assert_eq!(out.len(), 1, "dequeued waiters are not woken");
    }
}
