//! Other runtimes' thread-local state that greenshim must respect.
//!
//! Some libraries keep state of their OS thread while a call of theirs is in progress: tokio's
//! `block_on` records "runtime entered" and the current handle in thread-locals until it
//! returns. A green thread must not park inside such a call: the next green thread on its
//! worker would find that state ("Cannot start a runtime from within a runtime"), and the
//! parked one could resume on another worker without it. The interposers ask a probe before
//! they let a green thread's libc call park; while it says the OS thread is inside such state,
//! the call waits as a plain thread's would, blocking the worker. Event loops nobody
//! registered a probe for are recognised by their `epoll_wait` instead (see the `monkey`
//! docs).

/// Registers the probes (once; called before the first green thread is spawned).
pub(crate) fn register_probes() {
    #[cfg(feature = "tokio")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| greenshim_shim::park::which::set_foreign_state_probe(inside_tokio));
    }
}

/// Whether the calling OS thread is inside a tokio runtime's context: `Runtime::block_on` and
/// `Handle::block_on` of either flavour, or an `EnterGuard`, have set its current handle.
/// Costs a thread-local read when it is not.
#[cfg(feature = "tokio")]
fn inside_tokio() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}
