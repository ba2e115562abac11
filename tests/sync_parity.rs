//! `greenshim::sync` against `std::sync`: one program, written once, compiled against both
//! modules, run with std on OS threads, with greenshim on OS threads and with greenshim on
//! green threads. Every run must report the same observations.

mod util;

/// How a program starts concurrent work: OS threads or green threads.
trait Spawner: Copy + Send + Sync + 'static {
    fn spawn<T: Send + 'static>(
        self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Box<dyn FnOnce() -> Result<T, ()>>;
}

#[derive(Clone, Copy)]
struct OsThreads;

impl Spawner for OsThreads {
    fn spawn<T: Send + 'static>(
        self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Box<dyn FnOnce() -> Result<T, ()>> {
        let h = std::thread::spawn(f);
        Box::new(move || h.join().map_err(|_| ()))
    }
}

#[derive(Clone, Copy)]
struct GreenThreads;

impl Spawner for GreenThreads {
    fn spawn<T: Send + 'static>(
        self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Box<dyn FnOnce() -> Result<T, ()>> {
        let g = greenshim::spawn(f);
        Box::new(move || g.join().map_err(|_| ()))
    }
}

/// The program. `$sync` is `std::sync` or `greenshim::sync`.
macro_rules! program {
    ($name:ident, $($sync:tt)+) => {
        mod $name {
            use super::Spawner;
            use $($sync)+::mpsc::{self, RecvTimeoutError, TryRecvError, TrySendError};
            use $($sync)+::{
                Arc, Barrier, Condvar, LazyLock, Mutex, Once, OnceLock, RwLock, TryLockError,
            };
            use std::panic::{catch_unwind, AssertUnwindSafe};
            use std::time::Duration;

            fn panic_message(r: std::thread::Result<()>) -> String {
                match r {
                    Ok(()) => "no panic".into(),
                    Err(p) => p
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_default(),
                }
            }

            pub fn run(sp: impl Spawner) -> Vec<String> {
                let mut out = Vec::new();
                mutex(sp, &mut out);
                rwlock(sp, &mut out);
                condvar(sp, &mut out);
                barrier(sp, &mut out);
                once(sp, &mut out);
                once_lock(sp, &mut out);
                lazy_lock(&mut out);
                channels(sp, &mut out);
                out
            }

            fn mutex(sp: impl Spawner, out: &mut Vec<String>) {
                let m = Arc::new(Mutex::new(0u64));
                let hs: Vec<_> = (0..8)
                    .map(|_| {
                        let m = m.clone();
                        sp.spawn(move || {
                            for _ in 0..1000 {
                                *m.lock().unwrap() += 1;
                            }
                        })
                    })
                    .collect();
                hs.into_iter().for_each(|h| h() .unwrap());
                out.push(format!("mutex total {}", *m.lock().unwrap()));
                {
                    let _held = m.lock().unwrap();
                    let m2 = m.clone();
                    let r = sp.spawn(move || matches!(m2.try_lock(), Err(TryLockError::WouldBlock)))().unwrap();
                    out.push(format!("try_lock while held would block: {r}"));
                }
                out.push(format!("{:?}", m));
                let m2 = m.clone();
                let panicked = sp.spawn(move || {
                    let mut g = m2.lock().unwrap();
                    *g += 1;
                    panic!("poison it");
                })().is_err();
                out.push(format!("holder panicked {panicked}, poisoned {}", m.is_poisoned()));
                match m.lock() {
                    Ok(_) => out.push("lock ok".into()),
                    Err(e) => out.push(format!("lock poisoned, value {}", *e.into_inner())),
                }
                out.push(format!("try_lock poisoned: {}", matches!(m.try_lock(), Err(TryLockError::Poisoned(_)))));
                out.push(format!("{:?}", m));
                m.clear_poison();
                out.push(format!("after clear {}", m.is_poisoned()));
                let mut owned = Mutex::new(vec![1, 2]);
                owned.get_mut().unwrap().push(3);
                out.push(format!("into_inner {:?}", owned.into_inner().unwrap()));
                out.push(format!("default {:?}, from {:?}", Mutex::<u8>::default(), Mutex::from(7)));
            }

            fn rwlock(sp: impl Spawner, out: &mut Vec<String>) {
                let l = Arc::new(RwLock::new(1u64));
                {
                    let r1 = l.read().unwrap();
                    let r2 = l.try_read().unwrap();
                    let l2 = l.clone();
                    let w = sp.spawn(move || matches!(l2.try_write(), Err(TryLockError::WouldBlock)))().unwrap();
                    out.push(format!("two readers {} {}, try_write blocked {w}", *r1, *r2));
                }
                {
                    let _w = l.write().unwrap();
                    let l2 = l.clone();
                    let r = sp.spawn(move || matches!(l2.try_read(), Err(TryLockError::WouldBlock)))().unwrap();
                    out.push(format!("writer held, try_read blocked {r}"));
                }
                let writers: Vec<_> = (0..4)
                    .map(|_| {
                        let l = l.clone();
                        sp.spawn(move || {
                            for _ in 0..500 {
                                *l.write().unwrap() += 1;
                                let v = *l.read().unwrap();
                                assert!(v > 1);
                            }
                        })
                    })
                    .collect();
                writers.into_iter().for_each(|h| h().unwrap());
                out.push(format!("rwlock total {}", *l.read().unwrap()));
                let l2 = l.clone();
                sp.spawn(move || {
                    let _r = l2.read().unwrap();
                    panic!("reader panics");
                })().unwrap_err();
                out.push(format!("after reader panic poisoned {}", l.is_poisoned()));
                let l2 = l.clone();
                sp.spawn(move || {
                    let _w = l2.write().unwrap();
                    panic!("writer panics");
                })().unwrap_err();
                out.push(format!("after writer panic poisoned {}", l.is_poisoned()));
                out.push(format!("{:?}", l));
                out.push(format!("read poisoned {}", l.read().is_err()));
            }

            fn condvar(sp: impl Spawner, out: &mut Vec<String>) {
                let pair = Arc::new((Mutex::new(Vec::<u32>::new()), Condvar::new()));
                let p = pair.clone();
                let producer = sp.spawn(move || {
                    for i in 0..100 {
                        p.0.lock().unwrap().push(i);
                        p.1.notify_one();
                    }
                });
                let mut got = 0;
                let mut sum = 0;
                while got < 100 {
                    let mut q = pair.1.wait_while(pair.0.lock().unwrap(), |q| q.is_empty()).unwrap();
                    for v in q.drain(..) {
                        sum += v;
                        got += 1;
                    }
                }
                producer().unwrap();
                out.push(format!("condvar got {got} sum {sum}"));
                let (g, r) = pair.1.wait_timeout(pair.0.lock().unwrap(), Duration::from_millis(20)).unwrap();
                out.push(format!("wait_timeout timed out {} len {}", r.timed_out(), g.len()));
                drop(g);
                let (g, r) = pair
                    .1
                    .wait_timeout_while(pair.0.lock().unwrap(), Duration::from_millis(20), |q| q.is_empty())
                    .unwrap();
                out.push(format!("wait_timeout_while timed out {} len {}", r.timed_out(), g.len()));
                drop(g);
                // notify_all releases every waiter.
                let state = Arc::new((Mutex::new((false, 0u32)), Condvar::new()));
                let waiters: Vec<_> = (0..10)
                    .map(|_| {
                        let s = state.clone();
                        sp.spawn(move || {
                            let mut g = s.0.lock().unwrap();
                            g.1 += 1;
                            s.1.notify_all();
                            let _g = s.1.wait_while(g, |(go, _)| !*go).unwrap();
                        })
                    })
                    .collect();
                {
                    let g = state.0.lock().unwrap();
                    let mut g = state.1.wait_while(g, |(_, n)| *n < 10).unwrap();
                    g.0 = true;
                }
                state.1.notify_all();
                waiters.into_iter().for_each(|h| h().unwrap());
                out.push(format!("notify_all released {}", state.0.lock().unwrap().1));
            }

            fn barrier(sp: impl Spawner, out: &mut Vec<String>) {
                let b = Arc::new(Barrier::new(5));
                let hs: Vec<_> = (0..5)
                    .map(|_| {
                        let b = b.clone();
                        sp.spawn(move || (0..3).filter(|_| b.wait().is_leader()).count())
                    })
                    .collect();
                let leaders: usize = hs.into_iter().map(|h| h().unwrap()).sum();
                out.push(format!("barrier leaders over 3 rounds {leaders}"));
                out.push(format!("barrier(0) leader {}", Barrier::new(0).wait().is_leader()));
            }

            fn once(sp: impl Spawner, out: &mut Vec<String>) {
                let once = Arc::new(Once::new());
                let runs = Arc::new(Mutex::new(0));
                let hs: Vec<_> = (0..8)
                    .map(|_| {
                        let (once, runs) = (once.clone(), runs.clone());
                        sp.spawn(move || once.call_once(|| *runs.lock().unwrap() += 1))
                    })
                    .collect();
                hs.into_iter().for_each(|h| h().unwrap());
                once.wait();
                out.push(format!("once ran {} completed {}", *runs.lock().unwrap(), once.is_completed()));
                let bad = Once::new();
                let r = catch_unwind(AssertUnwindSafe(|| bad.call_once(|| panic!("init fails"))));
                out.push(format!("init panic: {}", panic_message(r)));
                let r = catch_unwind(AssertUnwindSafe(|| bad.call_once(|| {})));
                out.push(format!("call_once on poisoned: {}", panic_message(r)));
                let mut seen = false;
                bad.call_once_force(|s| seen = s.is_poisoned());
                out.push(format!("force saw poisoned {seen}, completed {}", bad.is_completed()));
            }

            fn once_lock(sp: impl Spawner, out: &mut Vec<String>) {
                let cell = Arc::new(OnceLock::new());
                let inits = Arc::new(Mutex::new(0));
                let hs: Vec<_> = (0..8)
                    .map(|i| {
                        let (cell, inits) = (cell.clone(), inits.clone());
                        sp.spawn(move || {
                            *cell.get_or_init(|| {
                                *inits.lock().unwrap() += 1;
                                i * 0 + 42
                            })
                        })
                    })
                    .collect();
                let vals: Vec<u32> = hs.into_iter().map(|h| h().unwrap()).collect();
                out.push(format!("once_lock values {vals:?} inits {}", *inits.lock().unwrap()));
                out.push(format!("set again {:?}, wait {}", cell.set(1), cell.wait()));
                out.push(format!("{:?} {:?}", cell, OnceLock::<u8>::new()));
                let empty = OnceLock::<String>::new();
                let r = catch_unwind(AssertUnwindSafe(|| {
                    empty.get_or_init(|| panic!("no value"));
                }));
                out.push(format!("panicking init: {}, still empty {}", panic_message(r), empty.get().is_none()));
                out.push(format!("then set {:?}", empty.set("x".into())));
                let mut c = OnceLock::from(5);
                out.push(format!("take {:?} then {:?}, eq {}", c.take(), c.get(), OnceLock::from(1) == OnceLock::from(1)));
                out.push(format!("clone {:?} into_inner {:?}", OnceLock::from(3).clone(), OnceLock::from(4).into_inner()));
            }

            fn lazy_lock(out: &mut Vec<String>) {
                let lazy = LazyLock::new(|| 6 * 7);
                out.push(format!("{:?} before", lazy));
                out.push(format!("lazy {} {:?}", *lazy, lazy));
                let bad: LazyLock<u8> = LazyLock::new(|| panic!("lazy fails"));
                let r1 = catch_unwind(AssertUnwindSafe(|| *bad));
                let r2 = catch_unwind(AssertUnwindSafe(|| *bad));
                out.push(format!(
                    "lazy panics: {} / {}",
                    panic_message(r1.map(drop)),
                    panic_message(r2.map(drop))
                ));
            }

            fn channels(sp: impl Spawner, out: &mut Vec<String>) {
                let (tx, rx) = mpsc::channel();
                let senders: Vec<_> = (0..4u32)
                    .map(|s| {
                        let tx = tx.clone();
                        sp.spawn(move || {
                            for i in 0..250u32 {
                                tx.send((s, i)).unwrap();
                            }
                        })
                    })
                    .collect();
                drop(tx);
                let mut last = [None::<u32>; 4];
                let mut n = 0;
                for (s, i) in rx.iter() {
                    assert!(last[s as usize].is_none_or(|l| l + 1 == i), "per-sender order");
                    last[s as usize] = Some(i);
                    n += 1;
                }
                senders.into_iter().for_each(|h| h().unwrap());
                out.push(format!("received {n}, then {:?} {:?}", rx.recv(), rx.try_recv()));
                let (tx, rx) = mpsc::channel::<u8>();
                out.push(format!("{:?} {:?}", rx.try_recv(), rx.recv_timeout(Duration::from_millis(10))));
                tx.send(1).unwrap();
                drop(rx);
                out.push(format!("send after receiver drop {:?}", tx.send(2)));
                let (tx, rx) = mpsc::sync_channel(2);
                tx.try_send(1).unwrap();
                tx.send(2).unwrap();
                out.push(format!("full {:?}", tx.try_send(3)));
                let producer = sp.spawn(move || {
                    for i in 3..=20 {
                        tx.send(i).unwrap();
                    }
                });
                let got: Vec<i32> = rx.iter().collect();
                producer().unwrap();
                out.push(format!("bounded got {got:?}"));
                let (tx, rx) = mpsc::sync_channel::<u8>(0);
                out.push(format!("rendezvous try_send with nobody waiting {:?}", tx.try_send(1)));
                let producer = sp.spawn(move || {
                    for i in 0..5 {
                        tx.send(i).unwrap();
                    }
                    matches!(tx.try_send(9), Err(TrySendError::Disconnected(9)) | Err(TrySendError::Full(9)))
                });
                let got: Vec<u8> = (0..5).map(|_| rx.recv().unwrap()).collect();
                drop(rx);
                out.push(format!("rendezvous got {got:?}, last try_send failed {}", producer().unwrap()));
                let (tx, rx) = mpsc::channel();
                for i in 0..3 {
                    tx.send(i).unwrap();
                }
                out.push(format!("try_iter {:?}", rx.try_iter().collect::<Vec<_>>()));
                drop(tx);
                out.push(format!(
                    "disconnected {:?} {:?} {:?}",
                    rx.try_recv() == Err(TryRecvError::Disconnected),
                    rx.recv_timeout(Duration::from_millis(1)) == Err(RecvTimeoutError::Disconnected),
                    rx.into_iter().next()
                ));
            }
        }
    };
}

program!(with_std, std::sync);
program!(with_greenshim, greenshim::sync);

#[test]
fn greenshim_sync_matches_std_on_os_and_green_threads() {
    util::workers(2);
    let expected = with_std::run(OsThreads);
    let on_os_threads = with_greenshim::run(OsThreads);
    assert_eq!(on_os_threads, expected);
    let on_green_threads = greenshim::spawn(|| with_greenshim::run(GreenThreads))
        .join()
        .unwrap();
    assert_eq!(on_green_threads, expected);
    // The observations are the ones std gives, not an empty or trivial trace.
    assert!(expected.len() > 40, "{expected:#?}");
    assert!(expected.contains(&"mutex total 8000".to_string()));
}

/// std's `OnceLock` `dropck` test: a cell may hold a reference that dies before the cell does
/// (std's `Drop` is `#[may_dangle]`). A compile error here is the failure.
#[test]
fn once_lock_may_outlive_what_it_borrows_as_std() {
    let cell = greenshim::sync::OnceLock::new();
    {
        let s = String::from("short-lived");
        cell.set(&s).unwrap();
        assert_eq!(cell.get().map(|s| s.len()), Some(11));
    }
    let std_cell = std::sync::OnceLock::new();
    {
        let s = String::new();
        std_cell.set(&s).unwrap();
    }
}

/// std's read guard is covariant in `T`: a guard of a longer-lived type is usable as a guard of
/// a shorter-lived one. A compile error here is the failure.
#[test]
fn rwlock_read_guard_is_covariant_as_std() {
    fn shorten<'a>(
        g: greenshim::sync::RwLockReadGuard<'a, &'static str>,
    ) -> greenshim::sync::RwLockReadGuard<'a, &'a str> {
        g
    }
    fn shorten_std<'a>(
        g: std::sync::RwLockReadGuard<'a, &'static str>,
    ) -> std::sync::RwLockReadGuard<'a, &'a str> {
        g
    }
    let lock = greenshim::sync::RwLock::new("static");
    let std_lock = std::sync::RwLock::new("static");
    assert_eq!(
        *shorten(lock.read().unwrap()),
        *shorten_std(std_lock.read().unwrap())
    );
    // The guard still releases: a writer gets in afterwards.
    *lock.write().unwrap() = "written";
    assert_eq!(*lock.read().unwrap(), "written");
}
