//! Thread-locals of the OS thread, read and written so that a green thread that moves to
//! another worker never touches its old worker's copy.
//!
//! A green thread can park in the middle of a function and resume on another OS thread, and
//! LLVM computes a thread-local's address once per function: it treats the thread pointer as
//! constant, so after inlining it may reuse an address computed before a park for an access
//! after it (llvm/llvm-project#98479). The access then reads or writes the thread-local of the
//! worker the green thread left, racing with whatever runs there. By all the evidence this
//! happened here: with a helper that set greenshim's inside flag through a `&LocalKey`, the
//! release build kept the flag's address across the park in a mirror's retry loop, two
//! workers set and restored each other's flag, one was left set, and every hooked call on that
//! worker passed through to a blocking libc call (the release demo's monkey section hung on a
//! blocking `accept`).
//!
//! So every thread-local of this crate is an [`OsLocal`] (or an [`OsLocalRef`]), declared with
//! [`os_local!`](crate::os_local!), whose `thread_local!` key is hidden inside the declaration:
//! the only ways to it are accessor functions that are never inlined, so each computes the
//! address on the thread that runs it. A test (`tests/oslocal_rule.rs`) fails if
//! `thread_local!` appears anywhere else in the source. The cost is one direct call per access.
//!
//! Floor 1: imports std only.

use std::thread::LocalKey;

/// A `Copy` value per OS thread, reached only through functions that are never inlined (see
/// the module docs). Declare one with [`os_local!`](crate::os_local!), which writes the three
/// accessors for its own thread-local: a call through the static's constant function pointer
/// compiles to a direct call of a function that reads or writes the thread-local and returns.
pub struct OsLocal<T: 'static> {
    get: fn() -> T,
    set: fn(T),
    replace: fn(T) -> T,
}

impl<T: Copy + 'static> OsLocal<T> {
    /// Wraps the accessors of one thread-local. Used by [`os_local!`](crate::os_local!), which
    /// keeps the thread-local itself out of reach.
    #[doc(hidden)]
    pub const fn new(get: fn() -> T, set: fn(T), replace: fn(T) -> T) -> OsLocal<T> {
        OsLocal { get, set, replace }
    }

    /// The calling OS thread's value.
    #[inline]
    pub fn get(&self) -> T {
        (self.get)()
    }

    /// Sets the calling OS thread's value.
    #[inline]
    pub fn set(&self, value: T) {
        (self.set)(value);
    }

    /// Sets the calling OS thread's value and returns the one it replaces.
    #[inline]
    pub fn replace(&self, value: T) -> T {
        (self.replace)(value)
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
    /// Adds one to the calling OS thread's counter (a read and a write on the same thread:
    /// nothing between them parks).
    #[inline]
    pub fn increment(&self) {
        self.set(self.get().wrapping_add(1));
    }

    /// Takes one from the calling OS thread's counter (not below zero).
    #[inline]
    pub fn decrement(&self) {
        self.set(self.get().saturating_sub(1));
    }
}

/// Declares `static NAME: OsLocal<T>` with a per-OS-thread initial value (a constant
/// expression): its `thread_local!` and the three accessors, each a function that is never
/// inlined, private to the declaration.
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
            #[inline(never)]
            fn get() -> $t {
                KEY.get()
            }
            #[inline(never)]
            fn set(value: $t) {
                KEY.set(value)
            }
            #[inline(never)]
            fn replace(value: $t) -> $t {
                KEY.replace(value)
            }
            $crate::oslocal::OsLocal::new(get, set, replace)
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
    /// Wraps `key`. Used by [`os_local_ref!`](crate::os_local_ref!), which keeps the key out of
    /// reach.
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
