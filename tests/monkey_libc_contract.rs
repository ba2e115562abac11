//! The hooks keep libc's contract where a caller can observe it: a bad pointer is the kernel's
//! `EFAULT` (the hook must not read the caller's memory before libc would), and `errno` after
//! an offloaded resolver call is the one libc left. Each case runs the same calls on a plain
//! thread (every hook passes through to libc) and on a green thread after `patch_all()`.

mod util;

use std::ffi::CString;
use std::sync::{Mutex, Once};

use greenshim::monkey::{self, Family};

/// The tests run one at a time: one of them uses up every fd.
static SERIAL: Mutex<()> = Mutex::new(());

fn patched() {
    static PATCH: Once = Once::new();
    util::workers(1);
    PATCH.call_once(|| monkey::patch_all().expect("patch before any spawn"));
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// `writev` and `sendmsg` with pointers the kernel cannot read, on a pipe and a socket pair
/// created under the patch (managed by greenshim on a green thread) and on stderr (passed
/// through): `(result, errno)` of each call.
fn bad_pointer_writes() -> Vec<(isize, i32)> {
    let mut out = Vec::new();
    let mut pipe = [0; 2];
    let mut pair = [0; 2];
    // SAFETY: pipe and socketpair write two fds into live arrays.
    unsafe {
        assert_eq!(libc::pipe(pipe.as_mut_ptr()), 0);
        assert_eq!(
            libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, pair.as_mut_ptr()),
            0
        );
    }
    let bad_iov = 16usize as *const libc::iovec;
    let bad_msg = 16usize as *const libc::msghdr;
    for fd in [pipe[1], pair[0], 2] {
        // SAFETY: the pointers are invalid on purpose; libc's contract is an EFAULT result.
        let r = unsafe { libc::writev(fd, bad_iov, 1) };
        out.push((r, errno()));
        if fd == pair[0] {
            // SAFETY: as above.
            let r = unsafe { libc::sendmsg(fd, bad_msg, 0) };
            out.push((r, errno()));
        }
    }
    // A valid iovec pointing at a bad buffer: the kernel's EFAULT too.
    let iov = libc::iovec {
        iov_base: 16usize as *mut libc::c_void,
        iov_len: 8,
    };
    // SAFETY: as above.
    let r = unsafe { libc::writev(pair[0], &raw const iov, 1) };
    out.push((r, errno()));
    for fd in pipe.into_iter().chain(pair) {
        // SAFETY: fds this function opened.
        unsafe { libc::close(fd) };
    }
    out
}

#[test]
fn bad_pointers_in_vector_writes_are_efault_not_a_crash() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    patched();
    let plain = std::thread::spawn(bad_pointer_writes).join().unwrap();
    let before = monkey::stats().family(Family::Sockets).cooperative;
    let green = greenshim::spawn(bad_pointer_writes).join().unwrap();
    assert!(
        plain.iter().all(|&(r, e)| r == -1 && e == libc::EFAULT),
        "libc's own result: {plain:?}"
    );
    assert_eq!(green, plain, "green thread vs plain thread");
    assert!(
        monkey::stats().family(Family::Sockets).cooperative > before,
        "the managed fds took the cooperative path"
    );
}

/// `getaddrinfo` with every fd in use: `(result, errno)` as the caller sees them. glibc fails
/// the lookup and leaves `EMFILE` in `errno`, which callers read for `EAI_SYSTEM`.
fn lookup_without_fds() -> (i32, i32) {
    let node = CString::new("localhost").unwrap();
    let service = CString::new("80").unwrap();
    let hog = util::use_up_fds();
    // SAFETY: __errno_location is the calling thread's errno slot.
    unsafe { *libc::__errno_location() = 0 };
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid C strings, null hints, a live out-pointer.
    let r = unsafe {
        libc::getaddrinfo(
            node.as_ptr(),
            service.as_ptr(),
            std::ptr::null(),
            &raw mut res,
        )
    };
    let e = errno();
    drop(hog);
    if r == 0 {
        // SAFETY: a successful lookup's list.
        unsafe { libc::freeaddrinfo(res) };
    }
    (r, e)
}

#[test]
fn getaddrinfo_on_a_green_thread_leaves_libcs_errno() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    patched();
    let old = util::set_fd_limit(200);
    let plain = std::thread::spawn(lookup_without_fds).join().unwrap();
    let before = monkey::stats().family(Family::Dns).cooperative;
    let green = greenshim::spawn(lookup_without_fds).join().unwrap();
    let after = monkey::stats().family(Family::Dns).cooperative;
    util::set_fd_limit(old);
    assert_ne!(plain.1, 0, "libc set errno: {plain:?}");
    assert_eq!(green, plain, "green thread vs plain thread");
    assert!(after > before, "the lookup was offloaded");
}
