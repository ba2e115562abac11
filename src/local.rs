//! Green-thread-local storage.
//!
//! `std::thread_local!` is not safe to rely on inside a green thread: the green thread can
//! resume on another OS thread after any park, so a thread-local read before a park and one
//! after it can see two different threads' values (and the compiler may even cache the address
//! of the first). [`green_local!`](crate::green_local) declares a value that belongs to the
//! green thread itself and follows it from worker to worker. On a plain OS thread the same key
//! falls back to ordinary thread-local storage.
//!
//! ```
//! use std::cell::Cell;
//! greenshim::green_local!(static COUNTER: Cell<u32> = Cell::new(0));
//!
//! let g = greenshim::spawn(|| {
//!     COUNTER.with(|c| c.set(c.get() + 1));
//!     greenshim::sleep(std::time::Duration::from_millis(1)); // may resume on another OS thread
//!     COUNTER.with(|c| c.get())
//! });
//! assert_eq!(g.join().unwrap(), 1);
//! ```
//!
//! Values are created on first access in each green thread and dropped when it ends.

pub use greenshim_shim::may::LocalKey;

/// Declares a green-thread-local static: `green_local!(static NAME: Type = init);`.
/// Access it with `NAME.with(|value| ...)`. See the [module docs](crate::local).
#[macro_export]
macro_rules! green_local {
    (static $name:ident : $t:ty = $init:expr) => {
        $crate::__may::coroutine_local!(static $name: $t = $init);
    };
}
