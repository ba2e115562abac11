//! The real libc functions behind the interposers, found with `dlsym(RTLD_NEXT)`.
//!
//! They are resolved by a load-time constructor (before `main`, single-threaded), so an
//! interposer never calls the dynamic loader itself: not in a signal handler, not in a forked
//! child. A pointer that is still unresolved (a call from another constructor that ran first)
//! is resolved on the spot.
//!
//! `fcntl`, `ioctl` and `open` are variadic in C; their third argument is declared here as one
//! register-sized integer, which is how every caller passes it on the 64-bit Linux ABIs
//! (x86-64 and AArch64 pass variadic and fixed integer arguments in the same registers).

use std::ffi::{c_char, c_int, c_long, c_uint, c_ulong, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Looks `name` (NUL-terminated) up once; 0 if libc lacks it.
#[inline]
fn resolve(slot: &AtomicUsize, name: &'static str) -> usize {
    let p = slot.load(Ordering::Acquire);
    if p != 0 {
        return p;
    }
    debug_assert!(name.ends_with('\0'));
    // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name has no other preconditions.
    let p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr().cast::<c_char>()) } as usize;
    slot.store(p, Ordering::Release);
    p
}

macro_rules! real_fns {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)+) => {
        mod slots {
            use std::sync::atomic::AtomicUsize;
            $(#[allow(non_upper_case_globals)] pub static $name: AtomicUsize = AtomicUsize::new(0);)+
        }

        /// Resolves every real function now.
        pub fn resolve_all() {
            $(resolve(&slots::$name, concat!(stringify!($name), "\0"));)+
        }

        $(
            /// Calls libc's own function of this name.
            ///
            /// # Safety
            /// The C contract of the libc function.
            #[allow(clippy::too_many_arguments)] // libc's signature
            pub unsafe fn $name($($arg: $ty),*) -> $ret {
                let p = resolve(&slots::$name, concat!(stringify!($name), "\0"));
                if p == 0 {
                    // Nothing to call: libc always has these, so this is a broken process.
                    std::process::abort();
                }
                // SAFETY: a non-null dlsym result for this name is libc's function, whose C
                // signature is the one declared here.
                let f: unsafe extern "C" fn($($ty),*) -> $ret = unsafe { std::mem::transmute(p) };
                static NAME: &str = stringify!($name);
                let _mark = crate::trace::in_libc(&NAME);
                // SAFETY: the caller upholds the C contract.
                unsafe { f($($arg),*) }
            }
        )+
    };
}

real_fns! {
    sleep(seconds: c_uint) -> c_uint;
    usleep(usec: libc::useconds_t) -> c_int;
    nanosleep(req: *const libc::timespec, rem: *mut libc::timespec) -> c_int;
    clock_nanosleep(clock: libc::clockid_t, flags: c_int, req: *const libc::timespec, rem: *mut libc::timespec) -> c_int;
    getaddrinfo(node: *const c_char, service: *const c_char, hints: *const libc::addrinfo, res: *mut *mut libc::addrinfo) -> c_int;
    getnameinfo(sa: *const libc::sockaddr, salen: libc::socklen_t, host: *mut c_char, hostlen: libc::socklen_t, serv: *mut c_char, servlen: libc::socklen_t, flags: c_int) -> c_int;
    gethostbyname2_r(name: *const c_char, af: c_int, ret: *mut libc::hostent, buf: *mut c_char, buflen: usize, result: *mut *mut libc::hostent, h_errnop: *mut c_int) -> c_int;
    gethostbyaddr_r(addr: *const c_void, len: libc::socklen_t, ty: c_int, ret: *mut libc::hostent, buf: *mut c_char, buflen: usize, result: *mut *mut libc::hostent, h_errnop: *mut c_int) -> c_int;
    read(fd: c_int, buf: *mut c_void, n: usize) -> isize;
    write(fd: c_int, buf: *const c_void, n: usize) -> isize;
    readv(fd: c_int, iov: *const libc::iovec, count: c_int) -> isize;
    writev(fd: c_int, iov: *const libc::iovec, count: c_int) -> isize;
    recv(fd: c_int, buf: *mut c_void, n: usize, flags: c_int) -> isize;
    recvfrom(fd: c_int, buf: *mut c_void, n: usize, flags: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t) -> isize;
    recvmsg(fd: c_int, msg: *mut libc::msghdr, flags: c_int) -> isize;
    recvmmsg(fd: c_int, msgs: *mut libc::mmsghdr, vlen: c_uint, flags: c_int, timeout: *mut libc::timespec) -> c_int;
    send(fd: c_int, buf: *const c_void, n: usize, flags: c_int) -> isize;
    sendto(fd: c_int, buf: *const c_void, n: usize, flags: c_int, addr: *const libc::sockaddr, len: libc::socklen_t) -> isize;
    sendmsg(fd: c_int, msg: *const libc::msghdr, flags: c_int) -> isize;
    sendmmsg(fd: c_int, msgs: *mut libc::mmsghdr, vlen: c_uint, flags: c_int) -> c_int;
    connect(fd: c_int, addr: *const libc::sockaddr, len: libc::socklen_t) -> c_int;
    accept(fd: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t) -> c_int;
    accept4(fd: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t, flags: c_int) -> c_int;
    socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int;
    socketpair(domain: c_int, ty: c_int, protocol: c_int, sv: *mut c_int) -> c_int;
    pipe(fds: *mut c_int) -> c_int;
    pipe2(fds: *mut c_int, flags: c_int) -> c_int;
    dup(fd: c_int) -> c_int;
    dup2(fd: c_int, new_fd: c_int) -> c_int;
    dup3(fd: c_int, new_fd: c_int, flags: c_int) -> c_int;
    fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int;
    fcntl64(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int;
    ioctl(fd: c_int, request: c_ulong, arg: c_ulong) -> c_int;
    setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: libc::socklen_t) -> c_int;
    close(fd: c_int) -> c_int;
    poll(fds: *mut libc::pollfd, nfds: libc::nfds_t, timeout: c_int) -> c_int;
    ppoll(fds: *mut libc::pollfd, nfds: libc::nfds_t, timeout: *const libc::timespec, mask: *const libc::sigset_t) -> c_int;
    select(nfds: c_int, r: *mut libc::fd_set, w: *mut libc::fd_set, e: *mut libc::fd_set, timeout: *mut libc::timeval) -> c_int;
    pselect(nfds: c_int, r: *mut libc::fd_set, w: *mut libc::fd_set, e: *mut libc::fd_set, timeout: *const libc::timespec, mask: *const libc::sigset_t) -> c_int;
    epoll_wait(epfd: c_int, events: *mut libc::epoll_event, max: c_int, timeout: c_int) -> c_int;
    epoll_pwait(epfd: c_int, events: *mut libc::epoll_event, max: c_int, timeout: c_int, mask: *const libc::sigset_t) -> c_int;
    waitpid(pid: libc::pid_t, status: *mut c_int, options: c_int) -> libc::pid_t;
    wait4(pid: libc::pid_t, status: *mut c_int, options: c_int, usage: *mut libc::rusage) -> libc::pid_t;
    waitid(idtype: libc::idtype_t, id: libc::id_t, info: *mut libc::siginfo_t, options: c_int) -> c_int;
    open(path: *const c_char, flags: c_int, mode: c_uint) -> c_int;
    open64(path: *const c_char, flags: c_int, mode: c_uint) -> c_int;
    openat(dir: c_int, path: *const c_char, flags: c_int, mode: c_uint) -> c_int;
    openat64(dir: c_int, path: *const c_char, flags: c_int, mode: c_uint) -> c_int;
    pread(fd: c_int, buf: *mut c_void, n: usize, offset: libc::off_t) -> isize;
    pread64(fd: c_int, buf: *mut c_void, n: usize, offset: libc::off64_t) -> isize;
    pwrite(fd: c_int, buf: *const c_void, n: usize, offset: libc::off_t) -> isize;
    pwrite64(fd: c_int, buf: *const c_void, n: usize, offset: libc::off64_t) -> isize;
    fsync(fd: c_int) -> c_int;
    fdatasync(fd: c_int) -> c_int;
    flock(fd: c_int, op: c_int) -> c_int;
    __read_chk(fd: c_int, buf: *mut c_void, n: usize, buflen: usize) -> isize;
    __recv_chk(fd: c_int, buf: *mut c_void, n: usize, buflen: usize, flags: c_int) -> isize;
    __recvfrom_chk(fd: c_int, buf: *mut c_void, n: usize, buflen: usize, flags: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t) -> isize;
    __poll_chk(fds: *mut libc::pollfd, nfds: libc::nfds_t, timeout: c_int, fdslen: usize) -> c_int;
    pthread_mutex_lock(m: *mut libc::pthread_mutex_t) -> c_int;
    pthread_mutex_trylock(m: *mut libc::pthread_mutex_t) -> c_int;
    pthread_mutex_clocklock(m: *mut libc::pthread_mutex_t, clock: libc::clockid_t, abstime: *const libc::timespec) -> c_int;
    pthread_mutex_unlock(m: *mut libc::pthread_mutex_t) -> c_int;
    pthread_cond_wait(c: *mut libc::pthread_cond_t, m: *mut libc::pthread_mutex_t) -> c_int;
    pthread_cond_timedwait(c: *mut libc::pthread_cond_t, m: *mut libc::pthread_mutex_t, abstime: *const libc::timespec) -> c_int;
    pthread_cond_clockwait(c: *mut libc::pthread_cond_t, m: *mut libc::pthread_mutex_t, clock: libc::clockid_t, abstime: *const libc::timespec) -> c_int;
    pthread_cond_signal(c: *mut libc::pthread_cond_t) -> c_int;
    pthread_cond_broadcast(c: *mut libc::pthread_cond_t) -> c_int;
    pthread_rwlock_rdlock(rw: *mut libc::pthread_rwlock_t) -> c_int;
    pthread_rwlock_wrlock(rw: *mut libc::pthread_rwlock_t) -> c_int;
    pthread_rwlock_clockrdlock(rw: *mut libc::pthread_rwlock_t, clock: libc::clockid_t, abstime: *const libc::timespec) -> c_int;
    pthread_rwlock_clockwrlock(rw: *mut libc::pthread_rwlock_t, clock: libc::clockid_t, abstime: *const libc::timespec) -> c_int;
    pthread_rwlock_tryrdlock(rw: *mut libc::pthread_rwlock_t) -> c_int;
    pthread_rwlock_trywrlock(rw: *mut libc::pthread_rwlock_t) -> c_int;
    pthread_rwlock_unlock(rw: *mut libc::pthread_rwlock_t) -> c_int;
    sem_wait(s: *mut libc::sem_t) -> c_int;
    sem_trywait(s: *mut libc::sem_t) -> c_int;
    sem_clockwait(s: *mut libc::sem_t, clock: libc::clockid_t, abstime: *const libc::timespec) -> c_int;
    sem_post(s: *mut libc::sem_t) -> c_int;
    mmap(addr: *mut c_void, len: usize, prot: c_int, flags: c_int, fd: c_int, off: libc::off_t) -> *mut c_void;
    munmap(addr: *mut c_void, len: usize) -> c_int;
    mprotect(addr: *mut c_void, len: usize, prot: c_int) -> c_int;
    eventfd(initval: c_uint, flags: c_int) -> c_int;
    epoll_create1(flags: c_int) -> c_int;
    madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int;
    sigaction(sig: c_int, act: *const libc::sigaction, old: *mut libc::sigaction) -> c_int;
    __ppoll_chk(fds: *mut libc::pollfd, nfds: libc::nfds_t, timeout: *const libc::timespec, mask: *const libc::sigset_t, fdslen: usize) -> c_int;
}

static SYSCALL: AtomicUsize = AtomicUsize::new(0);

/// Calls libc's own `syscall` (variadic in C, so called through a variadic pointer; not marked
/// for the blocking detector, whose bookkeeping may itself contend on a lock and re-enter).
///
/// # Safety
/// The C contract of `syscall(2)` for `number`.
pub unsafe fn syscall(number: c_long, args: [c_long; 6]) -> c_long {
    let p = resolve(&SYSCALL, "syscall\0");
    if p == 0 {
        std::process::abort();
    }
    // SAFETY: libc's `syscall`, whose C signature is `long syscall(long, ...)`.
    let f: unsafe extern "C" fn(c_long, ...) -> c_long = unsafe { std::mem::transmute(p) };
    let [a1, a2, a3, a4, a5, a6] = args;
    // SAFETY: the caller upholds the C contract.
    unsafe { f(number, a1, a2, a3, a4, a5, a6) }
}

/// Resolves every real function before `main` runs.
#[used]
#[unsafe(link_section = ".init_array")]
static RESOLVE_AT_LOAD: extern "C" fn() = {
    extern "C" fn at_load() {
        resolve_all();
        resolve(&SYSCALL, "syscall\0");
        // Before any fork: hooks in a forked child must know they are there even if the
        // patch was never applied (close and dup2 are tracked unpatched too).
        super::pass::install_fork_handler();
        super::pass::note_pid();
    }
    at_load
};
