//! A greenlet's shared state: the result slot, the listeners to tell at completion, and the
//! exit guard that completes it when the green thread dies without unwinding.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use greenshim_shim::monitor::{self, PanicReport};
use greenshim_shim::park::Waker;
use greenshim_shim::park::context::{Context, OnExit};

use super::{JoinError, LIVE, UNFINISHED};

/// Someone to tell when a greenlet completes.
pub(crate) enum Listener {
    Wake(Waker),
    Queue(Arc<DoneQueue>, usize),
    Call(Box<dyn FnOnce() + Send>),
}

/// Completion order for [`iwait`](crate::iwait): indices of completed greenlets, and the waker
/// of whoever iterates.
pub(crate) struct DoneQueue {
    state: Mutex<(VecDeque<usize>, Option<Waker>)>,
}

impl DoneQueue {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(DoneQueue {
            state: Mutex::new((VecDeque::new(), None)),
        })
    }

    pub(crate) fn push(&self, index: usize) {
        let waker = {
            let mut s = lock(&self.state);
            s.0.push_back(index);
            s.1.clone()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Pops the next completed index, or records the caller's waker for the next push.
    pub(crate) fn pop_or_register(&self) -> Option<usize> {
        let mut s = lock(&self.state);
        let next = s.0.pop_front();
        if next.is_none() {
            s.1 = Some(Waker::current());
        }
        next
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) struct State<T> {
    pub(super) result: Option<Result<T, JoinError>>,
    pub(super) done: bool,
    pub(super) listeners: Vec<Listener>,
}

pub(crate) struct Shared<T> {
    pub(super) ctx: Arc<Context>,
    pub(super) done: AtomicBool,
    pub(super) state: Mutex<State<T>>,
}

impl<T> Shared<T> {
    /// Stores the outcome (first call wins) and notifies every listener.
    pub(super) fn complete(&self, result: Result<T, JoinError>) {
        let listeners = {
            let mut s = lock(&self.state);
            if s.done {
                return;
            }
            s.result = Some(result);
            s.done = true;
            std::mem::take(&mut s.listeners)
        };
        UNFINISHED.fetch_sub(1, Ordering::AcqRel);
        self.done.store(true, Ordering::Release);
        for l in listeners {
            match l {
                Listener::Wake(w) => w.wake(),
                Listener::Queue(q, i) => q.push(i),
                Listener::Call(f) => f(),
            }
        }
    }

    /// Registers `l`, or returns it if the greenlet is already done.
    pub(crate) fn listen(&self, l: Listener) -> Option<Listener> {
        let mut s = lock(&self.state);
        if s.done {
            return Some(l);
        }
        s.listeners.push(l);
        None
    }

    pub(super) fn take_result(&self) -> Option<Result<T, JoinError>> {
        lock(&self.state).result.take()
    }
}

impl<T> Drop for Shared<T> {
    /// The last handle and the green thread itself are gone: a panic nobody took is reported.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(Err(e @ JoinError::Panicked(_))) = &state.result {
            monitor::report(monitor::Report::UnjoinedPanic(PanicReport {
                id: self.ctx.id(),
                name: self.ctx.name().map(str::to_owned),
                spawn_site: self.ctx.spawn_site(),
                message: e.panic_message().map(str::to_owned),
            }));
        }
    }
}

/// Told (through the green thread's local storage) when may releases the stack: a green thread
/// that died without completing (its stack overflowed) completes as `StackOverflow`.
impl<T: Send> OnExit for Shared<T> {
    fn on_exit(&self) {
        self.complete(Err(JoinError::StackOverflow));
        LIVE.fetch_sub(1, Ordering::Release);
    }
}
