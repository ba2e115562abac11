//! Scoped green threads: `thread::scope`, borrowing from the caller's stack.
//!
//! Soundness rests on one rule: [`scope`] does not return (or unwind) until every green thread
//! spawned in it has finished, so nothing they borrow can be freed under them. The wait ignores
//! interrupts; a kill of the waiting thread is forwarded to the scoped threads instead.
//! "Finished" includes a green thread that died of a stack overflow: its frames are gone.

use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use greenshim_shim::park::context::{self, Interrupt, InterruptUnwind};

use super::{Result, Thread};
use crate::JoinError;
use crate::greenlet::{self, Greenlet};

struct ScopeData {
    children: Mutex<Vec<Greenlet<()>>>,
    a_thread_panicked: AtomicBool,
}

/// A scope to spawn scoped green threads in, as `std::thread::Scope`.
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// The result slot of one scoped thread; reports an unjoined panic to the scope when dropped.
struct Packet<T> {
    result: Mutex<Option<Result<T>>>,
    scope: Arc<ScopeData>,
}

impl<T> Drop for Packet<T> {
    fn drop(&mut self) {
        let result = self.result.get_mut().unwrap_or_else(|e| e.into_inner());
        if matches!(result, Some(Err(_))) {
            self.scope.a_thread_panicked.store(true, Ordering::Relaxed);
        }
    }
}

/// Owned permission to join a scoped green thread.
pub struct ScopedJoinHandle<'scope, T> {
    greenlet: Greenlet<()>,
    packet: Arc<Packet<T>>,
    thread: Thread,
    _scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the thread to finish; a panic's payload comes back as `Err`.
    ///
    /// # Errors
    /// The panic payload.
    pub fn join(self) -> Result<T> {
        let outcome = self.greenlet.join();
        let stored = self
            .packet
            .result
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match (stored, outcome) {
            (Some(r), _) => r,
            (None, Err(e)) => Err(e.into_panic()),
            (None, Ok(())) => Err(JoinError::Killed.into_panic()),
        }
    }

    /// The thread's handle.
    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Whether the thread has finished.
    pub fn is_finished(&self) -> bool {
        self.greenlet.is_finished()
    }
}

/// Creates a scope for spawning scoped green threads, as `std::thread::scope`. Every thread
/// spawned in it is joined before it returns.
///
/// # Panics
/// If `f` panicked, or if a scoped thread panicked and was not joined.
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        data: Arc::new(ScopeData {
            children: Mutex::new(Vec::new()),
            a_thread_panicked: AtomicBool::new(false),
        }),
        scope: PhantomData,
        env: PhantomData,
    };
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    scope.wait_all();
    // A kill (or timeout) that arrived while waiting is delivered now that nothing borrows
    // the scope any more; it explains any scoped thread that died of it.
    if let (Ok(_), Some(interrupt)) = (&outcome, context::current().pending()) {
        interrupt.raise();
    }
    match outcome {
        Err(payload) => panic::resume_unwind(payload),
        Ok(_) if scope.data.a_thread_panicked.load(Ordering::Relaxed) => {
            panic!("a scoped thread panicked")
        }
        Ok(value) => value,
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a scoped green thread, as `std::thread::Scope::spawn`.
    ///
    /// # Panics
    /// If the green thread cannot be created.
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        match self.spawn_with(greenlet::Builder::new(), f) {
            Ok(h) => h,
            Err(e) => panic!("{e}"),
        }
    }

    #[track_caller]
    pub(super) fn spawn_with<F, T>(
        &'scope self,
        builder: greenlet::Builder,
        f: F,
    ) -> std::io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let packet = Arc::new(Packet {
            result: Mutex::new(None),
            scope: self.data.clone(),
        });
        let theirs = packet.clone();
        let main = move || {
            let r = panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
                if InterruptUnwind::of(&*payload) == Some(Interrupt::Kill) {
                    JoinError::Killed.into_panic()
                } else {
                    payload
                }
            });
            *theirs.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        };
        let main: Box<dyn FnOnce() + Send + 'scope> = Box::new(main);
        // SAFETY: the closure borrows data that lives for 'scope. `scope()` waits for this green
        // thread to finish (`wait_all`, which no interrupt can cut short) before 'scope ends,
        // and a finished green thread has dropped the closure or (stack overflow) will never
        // touch it again, so extending the lifetime to 'static is never observable.
        let main: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(main) };
        let mut children = self.data.children.lock().unwrap_or_else(|e| e.into_inner());
        let greenlet = builder.spawn(main)?;
        let thread = Thread {
            ctx: greenlet.context().clone(),
        };
        let handle_greenlet = greenlet.clone_handle();
        children.push(greenlet);
        Ok(ScopedJoinHandle {
            greenlet: handle_greenlet,
            packet,
            thread,
            _scope: PhantomData,
        })
    }

    /// Waits for every scoped thread, including ones spawned while waiting.
    fn wait_all(&self) {
        let me = context::current();
        loop {
            let batch =
                std::mem::take(&mut *self.data.children.lock().unwrap_or_else(|e| e.into_inner()));
            if batch.is_empty() {
                return;
            }
            for child in &batch {
                child.wait_ignoring_interrupts(|c| {
                    if me.pending() == Some(Interrupt::Kill) {
                        c.kill();
                    }
                });
            }
        }
    }
}
