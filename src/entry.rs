//! What `#[greenshim::main]` and `#[greenshim::test]` expand to call (not a public API).
//!
//! Misuse is a compile error naming the problem:
//! ```compile_fail
//! #[greenshim::main]
//! async fn main() {} // "a greenshim entry point cannot be `async`"
//! ```
//! ```compile_fail
//! #[greenshim::main]
//! fn main(_args: Vec<String>) {} // "takes no arguments"
//! ```
//! ```compile_fail
//! #[greenshim::main]
//! fn main<T>() {} // "cannot be generic"
//! ```
//! ```compile_fail
//! #[greenshim::main(threads = 2)] // "expected `patch = true|false`, `workers = N` or …"
//! fn main() {}
//! ```
//! ```
//! #[greenshim::main(patch = false, workers = 1, stack_size = 131072)]
//! fn main() {
//!     assert_eq!(greenshim::thread::current().name(), Some("main"));
//! }
//! ```

use crate::{JoinError, monkey, runtime};

/// The attribute's arguments.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct __EntrySettings {
    /// Apply `monkey::patch_all()` first.
    pub patch: bool,
    /// `runtime::Config::workers`.
    pub workers: Option<usize>,
    /// `runtime::Config::stack_size`.
    pub stack_size: Option<usize>,
}

/// Configures the runtime, patches, runs `body` on a green thread and returns its value, or
/// re-raises its panic here (the green thread's panic hook already printed the message).
#[doc(hidden)]
#[track_caller]
pub fn __entry<T: Send + 'static>(settings: __EntrySettings, body: fn() -> T) -> T {
    configure(settings);
    if settings.patch
        && !monkey::Family::ALL.iter().all(|&f| monkey::is_patched(f))
        && let Err(e) = monkey::patch_all()
    {
        panic!("#[greenshim::main]/#[greenshim::test]: {e}");
    }
    match crate::Builder::new().name("main").spawn(body) {
        Ok(g) => match g.join() {
            Ok(v) => v,
            Err(JoinError::Panicked(payload)) => std::panic::resume_unwind(payload),
            Err(e) => panic!("{e}"),
        },
        Err(e) => panic!("greenshim: cannot start the entry point's green thread: {e}"),
    }
}

/// Applies the settings, or checks that a runtime already running (an earlier
/// `#[greenshim::test]` of the same binary) has them.
#[track_caller]
fn configure(s: __EntrySettings) {
    if s.workers.is_none() && s.stack_size.is_none() {
        return;
    }
    let mut config = runtime::Config::new();
    if let Some(n) = s.workers {
        config = config.workers(n);
    }
    if let Some(bytes) = s.stack_size {
        config = config.stack_size(bytes);
    }
    if let Err(e) = config.apply() {
        let running = runtime::settings();
        let same = s.workers.is_none_or(|n| n == running.workers)
            && s.stack_size
                .is_none_or(|b| b.div_ceil(4096) * 4096 == running.stack_size);
        assert!(same, "{e}");
    }
}
