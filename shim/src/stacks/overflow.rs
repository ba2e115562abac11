//! A green thread that overflows its arena stack: a clear report and an abort, every time.
//!
//! std aborts the process when an OS thread overflows its stack ("thread 'x' has overflowed
//! its stack"), because the overflowing code cannot be unwound: its frames are cut off at an
//! arbitrary instruction. greenshim does the same for a green thread. may's generator tries to
//! contain the overflow instead, from its `SIGSEGV` handler, and that is not reliable: the
//! handler allocates (it hangs when the overflow struck inside `malloc`), it switches away
//! from inside the signal frame (the dropped green thread is later resumed into a frame that
//! the next signal on that worker has overwritten), its destructors never run (a lock it held
//! stays held), and may then ends the whole process with `exit(1)` when it finds the stack's
//! bottom words overwritten, which the overflow always does on its way down.
//!
//! greenshim's handler sits in front of every other `SIGSEGV`/`SIGBUS` handler (the
//! interposed `sigaction` of `interpose::signals` files the program's handlers behind it). A fault in the guard page of an arena slot, with the stack
//! pointer in that slot, prints which green thread overflowed and how big its stack was, then
//! aborts. Every other fault goes to the handler that was there before: may's generator's for a
//! fault on a green thread, std's (its own guard-page report for an OS thread's overflow) or
//! the default action otherwise. The generator's handler cannot take a plain thread's fault:
//! it asserts it runs on a coroutine and panics inside the signal frame, which turned std's
//! "thread has overflowed its stack" into a bare `SIGSEGV`. The handler is async-signal-safe: atomics, a stack buffer
//! and `write(2)`.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::sys::real;

/// Whether greenshim's fault handler is installed.
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// The handler behind greenshim's, for `SIGSEGV` and `SIGBUS`: its `sa_sigaction` and
/// `sa_flags`.
static NEXT: [(AtomicUsize, AtomicUsize); 2] = [
    (AtomicUsize::new(0), AtomicUsize::new(0)),
    (AtomicUsize::new(0), AtomicUsize::new(0)),
];

/// may's generator's own handler (installed when the first coroutine starts, before
/// greenshim's) and the handler it replaced (std's) with its flags, for `SIGSEGV` and `SIGBUS`.
/// The generator's handler asserts that it runs on a green thread (it panics inside the signal
/// frame on a plain thread, so that std's "thread has overflowed its stack" report never
/// comes); a fault off the green threads goes to the handler it replaced instead.
static MAYS: [(AtomicUsize, AtomicUsize, AtomicUsize); 2] = [
    (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ),
    (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ),
];

fn mays_of(sig: c_int) -> Option<&'static (AtomicUsize, AtomicUsize, AtomicUsize)> {
    match sig {
        libc::SIGSEGV => Some(&MAYS[0]),
        libc::SIGBUS => Some(&MAYS[1]),
        _ => None,
    }
}

fn next_of(sig: c_int) -> Option<&'static (AtomicUsize, AtomicUsize)> {
    match sig {
        libc::SIGSEGV => Some(&NEXT[0]),
        libc::SIGBUS => Some(&NEXT[1]),
        _ => None,
    }
}

/// The `sa_sigaction` and `sa_flags` now installed for `sig`.
fn current(sig: c_int) -> (usize, usize) {
    // SAFETY: all-zero is a valid sigaction.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a query; `old` is a live local.
    unsafe { real::sigaction(sig, std::ptr::null(), &raw mut old) };
    (old.sa_sigaction, old.sa_flags as usize)
}

/// Records the `SIGSEGV` and `SIGBUS` handlers in force before may's scheduler starts (std's),
/// so that [`install`] can tell the generator's, installed after them, apart.
pub fn note_before_may() {
    for sig in [libc::SIGSEGV, libc::SIGBUS] {
        if let Some(m) = mays_of(sig) {
            let (h, flags) = current(sig);
            m.1.store(h, Ordering::Release);
            m.2.store(flags, Ordering::Release);
        }
    }
}

/// Installs the handler for `SIGSEGV` and `SIGBUS` (once), keeping the current ones behind it.
/// Called after may ran its first coroutine (which installs the generator's handler).
pub fn install() {
    if INSTALLED.swap(true, Ordering::AcqRel) {
        return;
    }
    for sig in [libc::SIGSEGV, libc::SIGBUS] {
        if let Some(m) = mays_of(sig) {
            let (h, _) = current(sig);
            if h != m.1.load(Ordering::Acquire) {
                m.0.store(h, Ordering::Release);
            }
        }
        // SAFETY: all-zero is a valid sigaction (empty mask, no flags).
        let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
        act.sa_sigaction = on_fault as *const () as usize;
        act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: as above.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: pointers to live locals.
        if unsafe { real::sigaction(sig, &raw const act, &raw mut old) } == 0
            && let Some(next) = next_of(sig)
        {
            next.1.store(old.sa_flags as usize, Ordering::Release);
            next.0.store(old.sa_sigaction, Ordering::Release);
        }
    }
}

/// For the interposed `sigaction`: when greenshim's handler stands in front of `sig`, files
/// `act` (if any) behind it and reports the handler that was there in `old` (if any); the
/// kernel's disposition is left alone. `false` when `sig` is not one greenshim handles.
///
/// # Safety
/// `act` and `old` are null or valid, as `sigaction(2)` requires.
pub unsafe fn file_behind(
    sig: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> bool {
    let Some(next) = next_of(sig).filter(|_| INSTALLED.load(Ordering::Acquire)) else {
        return false;
    };
    let previous = (
        next.0.load(Ordering::Acquire),
        next.1.load(Ordering::Acquire),
    );
    if !act.is_null() {
        // SAFETY: a valid sigaction, per the contract.
        let a = unsafe { &*act };
        next.1.store(a.sa_flags as usize, Ordering::Release);
        next.0.store(a.sa_sigaction, Ordering::Release);
    }
    if !old.is_null() {
        // SAFETY: valid for writes, per the contract; the mask is reported empty.
        let o = unsafe { &mut *old };
        // SAFETY: all-zero is a valid sigaction.
        *o = unsafe { std::mem::zeroed() };
        o.sa_sigaction = previous.0;
        o.sa_flags = previous.1 as c_int;
    }
    true
}

/// The interrupted stack pointer, where the platform's context layout is known here.
fn stack_pointer(ctx: *mut c_void) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_env = "gnu"))]
    {
        if ctx.is_null() {
            return None;
        }
        // SAFETY: the kernel passes a ucontext_t to an SA_SIGINFO handler.
        let uc = unsafe { &*ctx.cast::<libc::ucontext_t>() };
        Some(uc.uc_mcontext.gregs[libc::REG_RSP as usize] as usize)
    }
    #[cfg(not(all(target_arch = "x86_64", target_env = "gnu")))]
    {
        let _ = ctx;
        None
    }
}

extern "C" fn on_fault(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    if let Some(o) = super::arena::overflow_at(addr, stack_pointer(ctx)) {
        report(&o, addr);
        // SAFETY: abort is async-signal-safe.
        unsafe { libc::abort() };
    }
    chain(sig, info, ctx);
}

/// Hands a fault that is not a green thread's overflow to the handler behind greenshim's (past
/// may's generator's when the fault is not on a green thread).
fn chain(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    let Some(next) = next_of(sig) else { return };
    let mut h = next.0.load(Ordering::Acquire);
    let mut flags = next.1.load(Ordering::Acquire) as c_int;
    if let Some(m) = mays_of(sig)
        && h != 0
        && h == m.0.load(Ordering::Acquire)
        && !crate::trace::running_green()
    {
        h = m.1.load(Ordering::Acquire);
        flags = m.2.load(Ordering::Acquire) as c_int;
    }
    if h == libc::SIG_DFL || h == libc::SIG_IGN {
        // A synchronous fault cannot be ignored: restore the default action and return, so
        // the faulting instruction runs again and the kernel ends the process with the signal.
        // SAFETY: all-zero is a valid sigaction; SIG_DFL is 0.
        let dfl: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a pointer to a live local.
        unsafe { real::sigaction(sig, &raw const dfl, std::ptr::null_mut()) };
        return;
    }
    // SAFETY: `h` was installed for `sig` with `flags`; the kernel's arguments.
    unsafe { crate::sys::pass::call_handler(h, flags, sig, info, ctx) };
}

/// A fixed buffer the report is formatted into (no allocation in a signal handler).
struct Buf {
    bytes: [u8; 512],
    len: usize,
}

impl Buf {
    fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn num(&mut self, mut v: u64, radix: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b"0123456789abcdef"[(v % radix) as usize];
            v /= radix;
            if v == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
}

fn report(o: &super::arena::Overflow, addr: usize) {
    let mut b = Buf {
        bytes: [0; 512],
        len: 0,
    };
    b.push(b"\ngreenshim: green thread ");
    if o.id == 0 {
        b.push(b"(not spawned by greenshim)");
    } else {
        b.push(b"#");
        b.num(o.id, 10);
    }
    if o.name_len > 0 {
        b.push(b" '");
        b.push(&o.name[..o.name_len]);
        b.push(b"'");
    }
    b.push(b" has overflowed its stack of ");
    b.num((o.stack_bytes / 1024) as u64, 10);
    b.push(b" KiB (fault at 0x");
    b.num(addr as u64, 16);
    b.push(
        b", in its guard page)\ngreenshim: aborting, as std does when a thread overflows \
its stack. Give it a bigger stack: greenshim::Builder::stack_size, or GREENSHIM_STACK_SIZE \
for every green thread.\n",
    );
    let mut off = 0;
    while off < b.len {
        // SAFETY: a valid buffer slice; write is async-signal-safe.
        let n = unsafe { real::write(2, b.bytes[off..].as_ptr().cast(), b.len - off) };
        if n <= 0 {
            break;
        }
        off += n as usize;
    }
}
