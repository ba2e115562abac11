//! [`OnceLock`] and [`LazyLock`], mirroring [`std::sync::OnceLock`] and
//! [`std::sync::LazyLock`], built on greenshim's [`Once`].

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::panic::{RefUnwindSafe, UnwindSafe};

use super::Once;

/// A cell written once; mirrors [`std::sync::OnceLock`]. While one thread initializes it,
/// others wait (parked, if they are green threads).
///
/// # Differences from std
/// A kill or [`Timeout`](crate::Timeout) reaches a green thread waiting for another's
/// initializer and unwinds it. One that unwinds the initializer leaves the cell empty, as a
/// panic does.
///
/// ```
/// use greenshim::sync::OnceLock;
/// static CONFIG: OnceLock<String> = OnceLock::new();
/// let v = CONFIG.get_or_init(|| "ready".to_string());
/// assert_eq!(v, "ready");
/// assert_eq!(CONFIG.set("again".to_string()), Err("again".to_string()));
/// ```
pub struct OnceLock<T> {
    once: Once,
    /// `Some` exactly when `once` is completed. An `Option` rather than a `MaybeUninit` plus a
    /// `Drop` impl: its drop glue drops the value, and a cell without its own `Drop` impl may
    /// hold references that die before it does, as std's (`#[may_dangle]`) may.
    value: UnsafeCell<Option<T>>,
}

// SAFETY: `&OnceLock<T>` gives `&T` to every thread (`T: Sync`) and lets any thread store the
// value that others then drop or take (`T: Send`), as for std's.
unsafe impl<T: Sync + Send> Sync for OnceLock<T> {}
impl<T: RefUnwindSafe + UnwindSafe> RefUnwindSafe for OnceLock<T> {}
impl<T: UnwindSafe> UnwindSafe for OnceLock<T> {}

impl<T> OnceLock<T> {
    /// An empty cell; mirrors [`std::sync::OnceLock::new`].
    #[must_use]
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            once: Once::new(),
            value: UnsafeCell::new(None),
        }
    }

    /// The value, if set; mirrors [`std::sync::OnceLock::get`].
    pub fn get(&self) -> Option<&T> {
        if self.once.is_completed() {
            // SAFETY: completed, so the value is initialized, and never written again while
            // shared.
            Some(unsafe { self.get_unchecked() })
        } else {
            // Spinning on `get` until another green thread publishes must let it run.
            greenshim_shim::park::spend();
            None
        }
    }

    /// The value through a unique borrow, if set; mirrors [`std::sync::OnceLock::get_mut`].
    pub fn get_mut(&mut self) -> Option<&mut T> {
        if self.once.is_completed() {
            self.value.get_mut().as_mut()
        } else {
            None
        }
    }

    /// Waits until the cell is set and returns the value; mirrors
    /// [`std::sync::OnceLock::wait`].
    pub fn wait(&self) -> &T {
        self.once.wait_force();
        // SAFETY: `wait_force` returns only once completed.
        unsafe { self.get_unchecked() }
    }

    /// Sets the value if the cell is empty; mirrors [`std::sync::OnceLock::set`].
    ///
    /// # Errors
    /// `Err(value)` if the cell was already set.
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("the initializer runs once"));
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The value, initializing it with `f` if the cell is empty; mirrors
    /// [`std::sync::OnceLock::get_or_init`].
    ///
    /// # Panics
    /// If `f` panics; the panic propagates and the cell stays empty.
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        self.once.call_once_force(|_| {
            let value = f();
            // SAFETY: we run inside the `Once`, so nobody else reads or writes the slot (the
            // `Once` completes only after this write).
            unsafe { *self.value.get() = Some(value) };
        });
        // SAFETY: `call_once_force` returned normally, so the `Once` is completed.
        unsafe { self.get_unchecked() }
    }

    /// Takes the value out, leaving the cell empty; mirrors [`std::sync::OnceLock::into_inner`].
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }

    /// Takes the value out, leaving the cell empty; mirrors [`std::sync::OnceLock::take`].
    pub fn take(&mut self) -> Option<T> {
        if self.once.is_completed() {
            self.once = Once::new();
            self.value.get_mut().take()
        } else {
            None
        }
    }

    /// # Safety
    /// The `Once` must be completed.
    unsafe fn get_unchecked(&self) -> &T {
        // SAFETY: the caller guarantees completion, so the slot is `Some`, and it is never
        // written again while shared.
        unsafe { (*self.value.get()).as_ref().unwrap_unchecked() }
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> Self {
        OnceLock::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("OnceLock");
        match self.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}

impl<T: Clone> Clone for OnceLock<T> {
    fn clone(&self) -> Self {
        match self.get() {
            Some(v) => OnceLock::from(v.clone()),
            None => OnceLock::new(),
        }
    }
}

impl<T> From<T> for OnceLock<T> {
    fn from(value: T) -> Self {
        let cell = OnceLock::new();
        // A new cell is empty, so this cannot fail.
        let _ = cell.set(value);
        cell
    }
}

impl<T: PartialEq> PartialEq for OnceLock<T> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceLock<T> {}

/// A value computed on first access; mirrors [`std::sync::LazyLock`]. Threads that arrive
/// during the computation wait (parked, if they are green threads).
///
/// # Differences from std
/// As [`OnceLock`]. If the initializer panics or is unwound by a kill, the `LazyLock` is
/// poisoned and every later access panics, as with std.
///
/// ```
/// use greenshim::sync::LazyLock;
/// static SQUARES: LazyLock<Vec<u64>> = LazyLock::new(|| (0..10).map(|i| i * i).collect());
/// assert_eq!(SQUARES[3], 9);
/// ```
pub struct LazyLock<T, F = fn() -> T> {
    cell: OnceLock<T>,
    /// Taken by the one initializer that runs (inside the cell's `Once`); touched otherwise
    /// only through `&mut self`.
    init: UnsafeCell<Option<F>>,
}

// SAFETY: `&LazyLock` gives `&T` to every thread (`T: Sync`), and the initializer `F` is taken
// and run by whichever thread gets there first (`F: Send`), with the result dropped by
// another (`T: Send`); only one thread ever touches `init`, inside the `Once`.
unsafe impl<T: Sync + Send, F: Send> Sync for LazyLock<T, F> {}
impl<T: RefUnwindSafe + UnwindSafe, F: UnwindSafe> RefUnwindSafe for LazyLock<T, F> {}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// A lazy value computed by `f`; mirrors [`std::sync::LazyLock::new`].
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock {
            cell: OnceLock::new(),
            init: UnsafeCell::new(Some(f)),
        }
    }

    /// Computes the value if needed and returns it; mirrors [`std::sync::LazyLock::force`].
    ///
    /// # Panics
    /// If the initializer panics, or panicked before (poisoned).
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.cell.get_or_init(|| {
            // SAFETY: we run inside the cell's `Once`, the only shared access to `init`.
            match unsafe { (*this.init.get()).take() } {
                Some(f) => f(),
                None => lazy_poisoned(),
            }
        })
    }

    /// Computes the value if needed and returns it mutably; mirrors
    /// [`std::sync::LazyLock::force_mut`].
    ///
    /// # Panics
    /// As [`force`](Self::force).
    pub fn force_mut(this: &mut LazyLock<T, F>) -> &mut T {
        if this.cell.get().is_none() {
            let value = match this.init.get_mut().take() {
                Some(f) => f(),
                None => lazy_poisoned(),
            };
            // The cell is empty and we hold it uniquely.
            let _ = this.cell.set(value);
        }
        this.cell.get_mut().expect("just initialized")
    }
}

impl<T, F> LazyLock<T, F> {
    /// The value, if computed; mirrors [`std::sync::LazyLock::get`].
    pub fn get(this: &LazyLock<T, F>) -> Option<&T> {
        this.cell.get()
    }

    /// The value mutably, if computed; mirrors [`std::sync::LazyLock::get_mut`].
    pub fn get_mut(this: &mut LazyLock<T, F>) -> Option<&mut T> {
        this.cell.get_mut()
    }
}

#[cold]
fn lazy_poisoned() -> ! {
    panic!("LazyLock instance has previously been poisoned")
}

impl<T, F: FnOnce() -> T> Deref for LazyLock<T, F> {
    type Target = T;

    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T, F: FnOnce() -> T> DerefMut for LazyLock<T, F> {
    fn deref_mut(&mut self) -> &mut T {
        LazyLock::force_mut(self)
    }
}

impl<T: Default> Default for LazyLock<T> {
    fn default() -> Self {
        LazyLock::new(T::default)
    }
}

impl<T: fmt::Debug, F> fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("LazyLock");
        match self.cell.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}
