//! Test fixture: legacy blocking C code (built with `-O2 -D_FORTIFY_SOURCE=2`) for greenshim's
//! monkey-patch tests.

use std::ffi::{c_char, c_int, c_uint};
use std::io;

unsafe extern "C" {
    fn legacy_exchange(
        port: u16,
        part: usize,
        nfds: c_uint,
        out: *mut c_char,
        out_len: usize,
    ) -> c_int;
}

/// Runs the C client against `127.0.0.1:port`: connect, a 20 ms `nanosleep`, send `ping`,
/// `select`, `read(part)`, `poll(nfds)`, `recv(part)`. Returns what it read.
///
/// # Errors
/// The errno the C code failed with.
pub fn exchange(port: u16, part: usize, nfds: u32) -> io::Result<Vec<u8>> {
    let mut out = vec![0u8; 256];
    // SAFETY: `out` is writable for its length, which is passed along.
    let n = unsafe { legacy_exchange(port, part, nfds, out.as_mut_ptr().cast(), out.len()) };
    if n < 0 {
        return Err(io::Error::from_raw_os_error(-n));
    }
    out.truncate(n as usize);
    Ok(out)
}

/// Legacy C code that synchronises with pthreads (`c/locks.c`): every function returns 0 or
/// the error code of the first pthread or semaphore call that failed.
pub mod locks {
    use std::ffi::{c_int, c_long, c_uint};

    unsafe extern "C" {
        fn locks_store_put(fd: c_int, hold_ms: c_int) -> c_int;
        fn locks_store_counter() -> c_long;
        fn locks_store_violations() -> c_long;
        fn locks_queue_put(v: c_long) -> c_int;
        fn locks_queue_get(out: *mut c_long, timeout_ms: c_int) -> c_int;
        fn locks_recursive(hold_ms: c_int) -> c_int;
        fn locks_recursive_violations() -> c_long;
        fn locks_errorcheck_lock() -> c_int;
        fn locks_errorcheck_unlock() -> c_int;
        fn locks_rw(write: c_int, hold_ms: c_int) -> c_int;
        fn locks_rw_violations() -> c_long;
        fn locks_rw_max_readers() -> c_long;
        fn locks_sem_init(units: c_uint) -> c_int;
        fn locks_sem_use(hold_ms: c_int) -> c_int;
        fn locks_sem_max() -> c_long;
    }

    /// The store: locks its one global `pthread_mutex_t`, reads the counter, sleeps `hold_ms`
    /// (`nanosleep`), writes one byte to `fd` (if `fd >= 0`), stores counter + 1, unlocks.
    pub fn store_put(fd: i32, hold_ms: i32) -> i32 {
        // SAFETY: plain C function; `fd` is only written to.
        unsafe { locks_store_put(fd, hold_ms) }
    }

    /// The store's counter and how many times two callers were inside its lock at once.
    pub fn store_state() -> (i64, i64) {
        // SAFETY: plain C functions.
        unsafe { (locks_store_counter(), locks_store_violations()) }
    }

    /// Puts into the bounded queue (capacity 4), waiting on `pthread_cond_wait` while full.
    pub fn queue_put(v: i64) -> i32 {
        // SAFETY: plain C function.
        unsafe { locks_queue_put(v) }
    }

    /// Takes from the bounded queue, waiting at most `timeout_ms` on `pthread_cond_timedwait`.
    ///
    /// # Errors
    /// The error code (`ETIMEDOUT`).
    pub fn queue_get(timeout_ms: i32) -> Result<i64, i32> {
        let mut v = 0;
        // SAFETY: `v` is writable.
        match unsafe { locks_queue_get(&mut v, timeout_ms) } {
            0 => Ok(v),
            e => Err(e),
        }
    }

    /// Locks a recursive mutex twice, sleeps `hold_ms` inside, unlocks twice.
    pub fn recursive(hold_ms: i32) -> i32 {
        // SAFETY: plain C function.
        unsafe { locks_recursive(hold_ms) }
    }

    /// How many times two callers were inside the recursive mutex at once.
    pub fn recursive_violations() -> i64 {
        // SAFETY: plain C function.
        unsafe { locks_recursive_violations() }
    }

    /// `pthread_mutex_lock` of a global error-checking mutex.
    pub fn errorcheck_lock() -> i32 {
        // SAFETY: plain C function.
        unsafe { locks_errorcheck_lock() }
    }

    /// `pthread_mutex_unlock` of the global error-checking mutex.
    pub fn errorcheck_unlock() -> i32 {
        // SAFETY: plain C function.
        unsafe { locks_errorcheck_unlock() }
    }

    /// Takes a global rwlock for reading or writing and holds it `hold_ms`.
    pub fn rw(write: bool, hold_ms: i32) -> i32 {
        // SAFETY: plain C function.
        unsafe { locks_rw(c_int::from(write), hold_ms) }
    }

    /// The rwlock's exclusion violations and the most readers seen inside at once.
    pub fn rw_state() -> (i64, i64) {
        // SAFETY: plain C functions.
        unsafe { (locks_rw_violations(), locks_rw_max_readers()) }
    }

    /// Initialises the global semaphore with `units`.
    pub fn sem_init(units: u32) -> i32 {
        // SAFETY: plain C function.
        unsafe { locks_sem_init(units) }
    }

    /// `sem_wait`, hold `hold_ms`, `sem_post`.
    pub fn sem_use(hold_ms: i32) -> i32 {
        // SAFETY: plain C function.
        unsafe { locks_sem_use(hold_ms) }
    }

    /// The most holders of the semaphore seen at once.
    pub fn sem_max() -> i64 {
        // SAFETY: plain C function.
        unsafe { locks_sem_max() }
    }
}
