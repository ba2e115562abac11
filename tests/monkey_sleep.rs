//! The monkey patch's Sleep and Dns families: unmodified std code (`std::thread::sleep`,
//! `ToSocketAddrs`) on ONE worker becomes cooperative after `patch_all()`, plain threads are
//! unchanged, and kills and timeouts still end patched sleeps.

mod util;

use std::net::ToSocketAddrs;
use std::sync::Once;
use std::time::{Duration, Instant};

use greenshim::monkey::{self, Family};

fn patched() {
    static PATCH: Once = Once::new();
    util::workers(1);
    PATCH.call_once(|| monkey::patch_all().expect("patch before any spawn"));
    assert!(monkey::is_patched(Family::Sleep) && monkey::is_patched(Family::Dns));
}

#[test]
fn the_binary_exports_the_interposers() {
    patched();
    // The dynamic linker resolves `clock_nanosleep` for every library of the process to the
    // executable's definition: greenshim's.
    // SAFETY: dlsym with a NUL-terminated name.
    let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"clock_nanosleep".as_ptr()) };
    let ours = greenshim_shim::interpose::sleep::clock_nanosleep as *const ();
    assert_eq!(found as *const (), ours);
    // SAFETY: as above.
    let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"getaddrinfo".as_ptr()) };
    assert_eq!(
        found as *const (),
        greenshim_shim::interpose::dns::getaddrinfo as *const ()
    );
}

#[test]
fn std_sleeps_overlap_on_one_worker() {
    patched();
    let before = monkey::stats().family(Family::Sleep).cooperative;
    let start = Instant::now();
    // Plain std code, written as if greenshim did not exist.
    fn legacy(i: u64) -> u64 {
        std::thread::sleep(Duration::from_millis(200));
        i * 2
    }
    let gs: Vec<_> = (0..100)
        .map(|i| greenshim::spawn(move || legacy(i)))
        .collect();
    let sum: u64 = greenshim::joinall(gs).into_iter().map(Result::unwrap).sum();
    assert_eq!(sum, 99 * 100);
    // 100 sleeps of 200 ms on one worker: overlapped, far below the 20 s of blocking sleeps.
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    assert!(monkey::stats().family(Family::Sleep).cooperative - before >= 100);
}

#[test]
fn plain_threads_pass_straight_through() {
    patched();
    let before = monkey::stats().family(Family::Sleep);
    let start = Instant::now();
    std::thread::spawn(|| std::thread::sleep(Duration::from_millis(50)))
        .join()
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(50));
    let after = monkey::stats().family(Family::Sleep);
    assert!(after.passed_through > before.passed_through);
}

/// Calls `nanosleep` and `clock_nanosleep` with edge-case arguments; returns their results
/// and errno values.
fn edge_cases() -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    let errno = || std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    let bad = libc::timespec {
        tv_sec: 0,
        tv_nsec: 2_000_000_000,
    };
    let negative = libc::timespec {
        tv_sec: -1,
        tv_nsec: 0,
    };
    // SAFETY: valid pointers; libc reports bad values as errors.
    unsafe {
        let r = libc::nanosleep(&bad, std::ptr::null_mut());
        out.push((r, if r == -1 { errno() } else { 0 }));
        let r = libc::nanosleep(&negative, std::ptr::null_mut());
        out.push((r, if r == -1 { errno() } else { 0 }));
        out.push((
            libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &bad, std::ptr::null_mut()),
            0,
        ));
        // An absolute deadline in the past returns at once.
        let past = libc::timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        out.push((
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &past,
                std::ptr::null_mut(),
            ),
            0,
        ));
        out.push((libc::usleep(1000), 0));
        out.push((libc::sleep(0) as i32, 0));
    }
    out
}

#[test]
fn errors_match_libc_on_green_and_plain_threads() {
    patched();
    let plain = std::thread::spawn(edge_cases).join().unwrap();
    let green = greenshim::spawn(edge_cases).join().unwrap();
    assert_eq!(green, plain);
    assert_eq!(
        plain,
        [
            (-1, libc::EINVAL),
            (-1, libc::EINVAL),
            (libc::EINVAL, 0),
            (0, 0),
            (0, 0),
            (0, 0)
        ]
    );
}

#[test]
fn kill_and_timeout_end_a_patched_sleep() {
    patched();
    let sleeper = greenshim::spawn(|| std::thread::sleep(Duration::from_secs(3600)));
    greenshim::sleep(Duration::from_millis(20));
    let start = Instant::now();
    sleeper.kill();
    let Ok(r) = sleeper.join_timeout(Duration::from_secs(5)) else {
        panic!("the kill did not end the sleep");
    };
    assert!(r.unwrap_err().is_killed());
    assert!(start.elapsed() < Duration::from_secs(2));

    let timed = greenshim::spawn(|| {
        greenshim::Timeout::new(Duration::from_millis(30))
            .run(|| std::thread::sleep(Duration::from_secs(3600)))
    });
    assert!(
        timed.join().unwrap().is_err(),
        "the Timeout reports Elapsed"
    );
    // A Timeout that does not fire leaves the result alone.
    let fine = greenshim::spawn(|| {
        greenshim::Timeout::new(Duration::from_secs(5)).run(|| {
            std::thread::sleep(Duration::from_millis(5));
            7
        })
    });
    assert_eq!(fine.join().unwrap(), Ok(7));
}

#[test]
fn std_name_lookups_run_off_the_worker() {
    patched();
    let before = greenshim_shim::interpose::dns::offloaded_lookups();
    let dns_before = monkey::stats().family(Family::Dns).cooperative;
    let addrs = greenshim::spawn(|| {
        ("localhost", 80)
            .to_socket_addrs()
            .map(|a| a.count())
            .unwrap_or(0)
    })
    .join()
    .unwrap();
    assert!(addrs > 0);
    assert!(greenshim_shim::interpose::dns::offloaded_lookups() > before);
    assert!(monkey::stats().family(Family::Dns).cooperative > dns_before);
}

/// `getnameinfo` and `gethostbyname_r`, called as C code calls them.
fn reverse_and_forward() -> (String, i32, i32) {
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 80u16.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
        },
        sin_zero: [0; 8],
    };
    let mut host = [0 as libc::c_char; 64];
    // SAFETY: a valid sockaddr_in and a host buffer of the length given; no service asked.
    let r = unsafe {
        libc::getnameinfo(
            (&raw const sa).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NUMERICHOST,
        )
    };
    assert_eq!(r, 0);
    // SAFETY: getnameinfo wrote a NUL-terminated string.
    let text = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: an all-zero hostent is a valid out-parameter.
    let mut ent: libc::hostent = unsafe { std::mem::zeroed() };
    let mut buf = [0 as libc::c_char; 1024];
    let mut result = std::ptr::null_mut();
    let mut h_err = 0;
    // SAFETY: every pointer is to a live local of the size given.
    let r = unsafe {
        greenshim_shim::interpose::dns::gethostbyname_r(
            c"localhost".as_ptr(),
            &mut ent,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
            &mut h_err,
        )
    };
    (text, r, i32::from(!result.is_null()))
}

#[test]
fn getnameinfo_and_gethostbyname_r_run_off_the_worker() {
    patched();
    let plain = std::thread::spawn(reverse_and_forward).join().unwrap();
    assert_eq!(plain, ("127.0.0.1".to_owned(), 0, 1));
    let before = monkey::stats().family(Family::Dns).cooperative;
    let green = greenshim::spawn(reverse_and_forward).join().unwrap();
    assert_eq!(green, plain);
    assert!(monkey::stats().family(Family::Dns).cooperative - before >= 2);
}
