//! [`Once`], mirroring [`std::sync::Once`].

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex as StdMutex, PoisonError};

use greenshim_shim::park::context;
use greenshim_shim::park::waitqueue::{self, Wait, WaitQueue};

const INCOMPLETE: u8 = 0;
const POISONED: u8 = 1;
const RUNNING: u8 = 2;
const COMPLETE: u8 = 3;

/// Runs a one-time initialization; mirrors [`std::sync::Once`]. Threads that arrive while
/// another runs it wait, parked if they are green threads; the initializer itself may park
/// (do network I/O, take locks) without stalling a worker.
///
/// # Differences from std
/// A kill or [`Timeout`](crate::Timeout) reaches a green thread waiting for another's
/// initialization and unwinds it. One that unwinds the initializer itself poisons the `Once`,
/// as a panic does.
///
/// ```
/// use greenshim::sync::Once;
/// static INIT: Once = Once::new();
/// let mut runs = 0;
/// INIT.call_once(|| runs += 1);
/// INIT.call_once(|| runs += 1);
/// assert_eq!(runs, 1);
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    state: AtomicU8,
    waiters: StdMutex<WaitQueue>,
}

/// The state handed to [`Once::call_once_force`]'s closure; mirrors [`std::sync::OnceState`].
pub struct OnceState {
    poisoned: bool,
}

impl OnceState {
    /// Whether an earlier initializer panicked.
    #[must_use]
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }
}

/// Publishes the outcome of a run (poisoned unless the initializer returned) and wakes the
/// waiters, even when the initializer unwinds.
struct Completion<'a> {
    once: &'a Once,
    outcome: u8,
}

impl Drop for Completion<'_> {
    fn drop(&mut self) {
        self.once.state.store(self.outcome, Ordering::Release);
        self.once.queue().notify_all();
    }
}

impl Once {
    /// A new `Once`; mirrors [`std::sync::Once::new`].
    #[must_use]
    pub const fn new() -> Once {
        Once {
            state: AtomicU8::new(INCOMPLETE),
            waiters: StdMutex::new(WaitQueue::new()),
        }
    }

    /// Runs `f` if no initializer has completed yet; mirrors [`std::sync::Once::call_once`].
    ///
    /// # Panics
    /// If an earlier initializer panicked (the `Once` is poisoned), or if `f` panics.
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if self.is_completed() {
            return;
        }
        let mut f = Some(f);
        self.run(false, &mut |_| {
            if let Some(f) = f.take() {
                f();
            }
        });
    }

    /// Like [`call_once`](Self::call_once), but runs even if the `Once` is poisoned; mirrors
    /// [`std::sync::Once::call_once_force`].
    pub fn call_once_force<F: FnOnce(&OnceState)>(&self, f: F) {
        if self.is_completed() {
            return;
        }
        let mut f = Some(f);
        self.run(true, &mut |state| {
            if let Some(f) = f.take() {
                f(state);
            }
        });
    }

    /// Whether an initializer has completed; mirrors [`std::sync::Once::is_completed`].
    #[inline]
    pub fn is_completed(&self) -> bool {
        self.state.load(Ordering::Acquire) == COMPLETE
    }

    /// Waits until an initializer has completed; mirrors [`std::sync::Once::wait`].
    ///
    /// # Panics
    /// If the `Once` is or becomes poisoned.
    pub fn wait(&self) {
        self.wait_for_completion(false);
    }

    /// Waits until an initializer has completed, ignoring poisoning; mirrors
    /// [`std::sync::Once::wait_force`].
    pub fn wait_force(&self) {
        self.wait_for_completion(true);
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, WaitQueue> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run(&self, ignore_poison: bool, f: &mut dyn FnMut(&OnceState)) {
        loop {
            let state = self.state.load(Ordering::Acquire);
            match state {
                COMPLETE => return,
                POISONED if !ignore_poison => poisoned(),
                INCOMPLETE | POISONED => {
                    if self
                        .state
                        .compare_exchange(state, RUNNING, Ordering::Acquire, Ordering::Acquire)
                        .is_err()
                    {
                        continue;
                    }
                    let mut completion = Completion {
                        once: self,
                        outcome: POISONED,
                    };
                    f(&OnceState {
                        poisoned: state == POISONED,
                    });
                    completion.outcome = COMPLETE;
                    return;
                }
                _ => self.wait_until_changed(),
            }
        }
    }

    fn wait_for_completion(&self, ignore_poison: bool) {
        loop {
            match self.state.load(Ordering::Acquire) {
                COMPLETE => return,
                POISONED if !ignore_poison => poisoned(),
                _ => self.wait_until_changed(),
            }
        }
    }

    /// Parks until the state may have changed.
    fn wait_until_changed(&self) {
        let seen = self.state.load(Ordering::Acquire);
        let ctx = context::current();
        let mut how = Wait::new(&ctx).on("Once");
        while let Err(i) = waitqueue::wait_until(
            &self.waiters,
            |q| q,
            how,
            |_| self.state.load(Ordering::Acquire) != seen,
        ) {
            i.raise();
            // Already unwinding: the caller may need the value, so wait regardless.
            how = how.uninterruptible();
        }
    }
}

#[cold]
fn poisoned() -> ! {
    panic!("Once instance has previously been poisoned");
}

impl Default for Once {
    fn default() -> Self {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once").finish_non_exhaustive()
    }
}

impl fmt::Debug for OnceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceState")
            .field("poisoned", &self.poisoned)
            .finish()
    }
}

impl std::panic::UnwindSafe for Once {}
impl std::panic::RefUnwindSafe for Once {}
