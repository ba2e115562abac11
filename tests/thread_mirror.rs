//! `greenshim::thread` gives the same results as `std::thread` on the same programs, run from a
//! plain thread and from inside a green thread.

mod util;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// One program, written once against a `thread` module, returning everything observable.
macro_rules! program {
    ($thread:ident) => {{
        use $thread as thread;
        let mut out: Vec<String> = Vec::new();
        // spawn + join value
        out.push(format!("value={}", thread::spawn(|| 6 * 7).join().unwrap()));
        // a panic's payload comes back through join
        let seven = std::hint::black_box(7);
        let err = thread::spawn(move || -> u8 { panic!("bad {seven}") })
            .join()
            .unwrap_err();
        out.push(format!("panic={:?}", err.downcast_ref::<String>()));
        // names through Builder and current()
        let named = thread::Builder::new()
            .name("named-one".to_string())
            .stack_size(256 * 1024)
            .spawn(|| thread::current().name().map(str::to_owned))
            .unwrap();
        out.push(format!("name={:?}", named.join().unwrap()));
        // ids differ between threads and match the handle's
        let h = thread::spawn(|| thread::current().id());
        let handle_id = h.thread().id();
        let inner_id = h.join().unwrap();
        out.push(format!(
            "ids_match={} differs_from_caller={}",
            handle_id == inner_id,
            inner_id != thread::current().id()
        ));
        // is_finished turns true
        let h = thread::spawn(|| ());
        while !h.is_finished() {
            thread::sleep(Duration::from_millis(1));
        }
        out.push("finished=true".into());
        // park / unpark handshake (token semantics: unpark before park is kept)
        let flag = Arc::new(AtomicUsize::new(0));
        let f2 = flag.clone();
        let parker = thread::spawn(move || {
            while f2.load(Ordering::SeqCst) == 0 {
                thread::park();
            }
            "unparked"
        });
        flag.store(1, Ordering::SeqCst);
        parker.thread().unpark();
        out.push(format!("park={}", parker.join().unwrap()));
        // park_timeout returns without a token
        let t = std::time::Instant::now();
        thread::park_timeout(Duration::from_millis(20));
        out.push(format!(
            "park_timeout_waited={}",
            t.elapsed() >= Duration::from_millis(1)
        ));
        // scope: borrow the caller's data, several threads, results in order
        let data = vec![1u32, 2, 3, 4];
        let total = AtomicUsize::new(0);
        let doubled: Vec<u32> = thread::scope(|s| {
            let hs: Vec<_> = data
                .iter()
                .map(|v| {
                    let total = &total;
                    s.spawn(move || {
                        total.fetch_add(*v as usize, Ordering::SeqCst);
                        thread::sleep(Duration::from_millis(u64::from(*v)));
                        v * 2
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        out.push(format!(
            "scope={doubled:?} total={}",
            total.load(Ordering::SeqCst)
        ));
        // a scope whose thread panicked without being joined panics itself
        let r = std::panic::catch_unwind(|| {
            thread::scope(|s| {
                s.spawn(|| panic!("scoped"));
            })
        });
        out.push(format!("scope_panics={}", r.is_err()));
        // yield_now and available_parallelism exist and behave
        thread::yield_now();
        out.push(format!(
            "parallelism_ok={}",
            thread::available_parallelism()
                .map(|n| n.get() >= 1)
                .unwrap_or(false)
        ));
        out
    }};
}

fn std_run() -> Vec<String> {
    program!(std_thread)
}
use std::thread as std_thread;

fn green_run() -> Vec<String> {
    program!(green_thread)
}
use greenshim::thread as green_thread;

#[test]
fn same_results_as_std_from_a_plain_thread() {
    util::workers(2);
    assert_eq!(green_run(), std_run());
}

#[test]
fn same_results_as_std_from_inside_a_green_thread() {
    util::workers(2);
    let expected = std_run();
    let got = greenshim::spawn(green_run).join().unwrap();
    assert_eq!(got, expected);
}

#[test]
fn spawned_threads_are_green() {
    util::workers(2);
    let on_green = greenshim::thread::spawn(greenshim_is_green).join().unwrap();
    assert!(on_green);
}

fn greenshim_is_green() -> bool {
    // A green thread's id is a greenlet id: the same as `current_id()`.
    greenshim::thread::current().id().as_u64() == greenshim::current_id()
        && greenshim::live_count() > 0
}

#[test]
fn a_killed_scope_owner_kills_its_threads_and_still_waits_for_them() {
    util::workers(2);
    let finished = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let (f, st) = (finished.clone(), started.clone());
    let owner = greenshim::spawn(move || {
        greenshim::thread::scope(|s| {
            for _ in 0..3 {
                let (f, st) = (f.clone(), st.clone());
                s.spawn(move || {
                    struct Count(Arc<AtomicUsize>);
                    impl Drop for Count {
                        fn drop(&mut self) {
                            self.0.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    let _c = Count(f);
                    st.fetch_add(1, Ordering::SeqCst);
                    greenshim::sleep(Duration::from_secs(3600));
                });
            }
        });
    });
    // (A scoped thread killed before it starts never runs, so wait until all three run.)
    for _ in 0..1000 {
        if started.load(Ordering::SeqCst) == 3 {
            break;
        }
        greenshim::sleep(Duration::from_millis(5));
    }
    owner.kill();
    assert!(owner.join().unwrap_err().is_killed());
    // All three scoped threads were killed and unwound before the scope let the owner go.
    assert_eq!(finished.load(Ordering::SeqCst), 3);
}

/// The panic message of `f`, if it panics.
fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> Option<String> {
    let payload = std::panic::catch_unwind(f).err()?;
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
}

#[test]
fn a_name_with_a_nul_byte_panics_at_spawn_as_std_does() {
    let std_msg = panic_message(|| {
        let _ = std::thread::Builder::new().name("a\0b".into()).spawn(|| ());
    });
    let green_msg = panic_message(|| {
        let _ = greenshim::thread::Builder::new()
            .name("a\0b".into())
            .spawn(|| ());
    });
    assert!(std_msg.is_some(), "std no longer panics");
    assert_eq!(green_msg, std_msg);
    // A plain name still spawns.
    let h = greenshim::thread::Builder::new()
        .name("ok".into())
        .spawn(|| greenshim::thread::current().name().map(str::to_owned))
        .unwrap();
    assert_eq!(h.join().unwrap().as_deref(), Some("ok"));
}

#[test]
fn option_of_thread_id_is_as_small_as_std() {
    assert_eq!(
        std::mem::size_of::<Option<greenshim::thread::ThreadId>>(),
        std::mem::size_of::<Option<std::thread::ThreadId>>()
    );
    let id = greenshim::thread::spawn(|| greenshim::thread::current().id())
        .join()
        .unwrap();
    assert_ne!(id, greenshim::thread::current().id());
    assert!(id.as_u64() > 0);
}
