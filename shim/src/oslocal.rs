//! Thread-locals of the OS thread, read and written so that a green thread that moves to
//! another worker never touches its old worker's copy.
//!
//! A green thread can park in the middle of a function and resume on another OS thread, and
//! LLVM computes a thread-local's address once per function: it treats the thread pointer as
//! constant, so after inlining it may reuse an address computed before a park for an access
//! after it (llvm/llvm-project#98479). The access then reads or writes the thread-local of the
//! worker the green thread left, racing with whatever runs there. This happened here: with a
//! helper that set greenshim's inside flag through a `&LocalKey`, the release build kept the
//! flag's address across the park in a mirror's retry loop, two workers set and restored each
//! other's flag, one was left set, and every hooked call on that worker passed through to a
//! blocking libc call (the release demo's monkey section hung on a blocking `accept`).
//!
//! So every thread-local of this crate is an [`OsLocal`], declared with [`os_local!`](crate::os_local!), whose
//! `thread_local!` key is hidden inside the declaration: the only ways to it are the methods
//! below, each a function of its own that is never inlined, so each computes the address on the
//! thread that runs it. A test (`tests/oslocal_rule.rs`) fails if `thread_local!` appears
//! anywhere else in the source. The cost is one call per access (a few nanoseconds).
//!
//! Floor 1: imports std only.

use std::cell::Cell;
use std::thread::LocalKey;

/// A `Copy` value per OS thread, reached only through calls that are never inlined (see the
/// module docs). Declare one with [`os_local!`](crate::os_local!).
pub struct OsLocal<T: 'static> {
    key: &'static LocalKey<Cell<T>>,
}

impl<T: Copy + 'static> OsLocal<T> {
    /// Wraps `key`. Used by [`os_local!`](crate::os_local!), which keeps the key out of reach.
    #[doc(hidden)]
    pub const fn new(key: &'static LocalKey<Cell<T>>) -> OsLocal<T> {
        OsLocal { key }
    }

    /// The calling OS thread's value.
    #[inline(never)]
    pub fn get(&self) -> T {
        self.key.with(Cell::get)
    }

    /// Sets the calling OS thread's value.
    #[inline(never)]
    pub fn set(&self, value: T) {
        self.key.with(|c| c.set(value));
    }

    /// Sets the calling OS thread's value and returns the one it replaces.
    #[inline(never)]
    pub fn replace(&self, value: T) -> T {
        self.key.with(|c| c.replace(value))
    }
}

impl OsLocal<bool> {
    /// Runs `f` with the calling OS thread's flag set, then puts back the value it had (also
    /// when `f` unwinds). `f` must not park: the flag belongs to the OS thread, and another green
    /// thread would run on this worker with it set.
    #[inline]
    pub fn scoped<R>(&'static self, f: impl FnOnce() -> R) -> R {
        struct Restore(&'static OsLocal<bool>, bool);
        impl Drop for Restore {
            fn drop(&mut self) {
                self.0.set(self.1);
            }
        }
        let _restore = Restore(self, self.replace(true));
        f()
    }
}

impl OsLocal<u32> {
    /// Adds one to the calling OS thread's counter.
    #[inline(never)]
    pub fn increment(&self) {
        self.key.with(|c| c.set(c.get().wrapping_add(1)));
    }

    /// Takes one from the calling OS thread's counter (not below zero).
    #[inline(never)]
    pub fn decrement(&self) {
        self.key.with(|c| c.set(c.get().saturating_sub(1)));
    }
}

/// Declares `static NAME: OsLocal<T>` with a per-OS-thread initial value (a constant
/// expression), its `thread_local!` key private to the declaration.
///
/// ```
/// greenshim_shim::os_local! {
///     /// How deep the calling OS thread is in something.
///     static DEPTH: u32 = 0;
/// }
/// DEPTH.increment();
/// assert_eq!(DEPTH.get(), 1);
/// ```
#[macro_export]
macro_rules! os_local {
    ($($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr;)+) => {$(
        $(#[$attr])*
        $vis static $name: $crate::oslocal::OsLocal<$t> = {
            ::std::thread_local! {
                static KEY: ::std::cell::Cell<$t> = const { ::std::cell::Cell::new($init) };
            }
            $crate::oslocal::OsLocal::new(&KEY)
        };
    )+};
}

/// A value per OS thread that is not `Copy` (an `Arc` built on the thread's first use), reached
/// only through [`OsLocalRef::with`], a call that is never inlined. Declare one with
/// [`os_local_ref!`](crate::os_local_ref!).
pub struct OsLocalRef<T: 'static> {
    key: &'static LocalKey<T>,
}

impl<T: 'static> OsLocalRef<T> {
    /// Wraps `key`. Used by [`os_local_ref!`](crate::os_local_ref!), which keeps the key out of reach.
    #[doc(hidden)]
    pub const fn new(key: &'static LocalKey<T>) -> OsLocalRef<T> {
        OsLocalRef { key }
    }

    /// Runs `f` with the calling OS thread's value (built on first use). `f` must not park.
    #[inline(never)]
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        self.key.with(f)
    }
}

/// Declares `static NAME: OsLocalRef<T>` whose value each OS thread builds on first use from
/// `init`, its `thread_local!` key private to the declaration.
#[macro_export]
macro_rules! os_local_ref {
    ($($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr;)+) => {$(
        $(#[$attr])*
        $vis static $name: $crate::oslocal::OsLocalRef<$t> = {
            ::std::thread_local! {
                static KEY: $t = $init;
            }
            $crate::oslocal::OsLocalRef::new(&KEY)
        };
    )+};
}
