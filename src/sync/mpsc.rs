//! A mirror of [`std::sync::mpsc`]: multi-producer, single-consumer channels whose blocking
//! operations park green threads (and block plain threads). Green and plain threads can use
//! the two ends of one channel.
//!
//! The error types are std's own, re-exported.
//!
//! # Differences from std
//! - A kill or [`Timeout`](crate::Timeout) reaches a green thread blocked in `recv` or in a
//!   bounded `send` and unwinds it (the value it was sending is dropped with its stack).
//! - Senders blocked on a full [`sync_channel`] are served in arrival order.
//!
//! ```
//! use greenshim::sync::mpsc;
//!
//! let (tx, rx) = mpsc::sync_channel(0); // rendezvous
//! let g = greenshim::spawn(move || {
//!     for i in 0..3 {
//!         tx.send(i).unwrap(); // parks until the receiver takes it
//!     }
//! });
//! assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2]);
//! g.join().unwrap();
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use super::chan::{Chan, GetFailed, Patience, PutFailed};

struct Shared<T> {
    chan: Chan<T, VecDeque<T>>,
    senders: AtomicUsize,
}

/// Creates an unbounded channel; mirrors [`std::sync::mpsc::channel`].
#[must_use]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = new_shared(None);
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver::new(shared),
    )
}

/// Creates a channel that buffers at most `bound` values (0: every send waits for a receive);
/// mirrors [`std::sync::mpsc::sync_channel`].
#[must_use]
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let shared = new_shared(Some(bound));
    (
        SyncSender {
            shared: shared.clone(),
        },
        Receiver::new(shared),
    )
}

fn new_shared<T>(cap: Option<usize>) -> Arc<Shared<T>> {
    Arc::new(Shared {
        chan: Chan::new(cap),
        senders: AtomicUsize::new(1),
    })
}

impl<T> Shared<T> {
    fn add_sender(self: &Arc<Self>) -> Arc<Self> {
        self.senders.fetch_add(1, Ordering::Relaxed);
        self.clone()
    }

    fn drop_sender(&self) {
        if self.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.close(false);
        }
    }

    fn send(&self, t: T, patience: Patience) -> Result<(), PutFailed<T>> {
        self.chan.put(t, patience)
    }
}

/// The sending half of [`channel`]; mirrors [`std::sync::mpsc::Sender`]. Never waits.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends a value; mirrors [`std::sync::mpsc::Sender::send`].
    ///
    /// # Errors
    /// [`SendError`] with the value if the receiver is gone.
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        match self.shared.send(t, Patience::None) {
            Ok(()) => Ok(()),
            Err(PutFailed::Closed(t) | PutFailed::Full(t)) => Err(SendError(t)),
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            shared: self.shared.add_sender(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.drop_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// The sending half of [`sync_channel`]; mirrors [`std::sync::mpsc::SyncSender`].
pub struct SyncSender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> SyncSender<T> {
    /// Sends a value, parking while the buffer is full (with bound 0, until a receiver takes
    /// it); mirrors [`std::sync::mpsc::SyncSender::send`].
    ///
    /// # Errors
    /// [`SendError`] with the value if the receiver is gone (also while waiting).
    ///
    /// # Panics
    /// Unwinds with the kill or timeout that reaches a green thread while it waits.
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        match self.shared.send(t, Patience::Until(None)) {
            Ok(()) => Ok(()),
            Err(PutFailed::Closed(t) | PutFailed::Full(t)) => Err(SendError(t)),
        }
    }

    /// Sends a value if there is room (with bound 0, if a receiver is waiting); mirrors
    /// [`std::sync::mpsc::SyncSender::try_send`].
    ///
    /// # Errors
    /// [`TrySendError::Full`] or [`TrySendError::Disconnected`], with the value.
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        match self.shared.send(t, Patience::None) {
            Ok(()) => Ok(()),
            Err(PutFailed::Full(t)) => Err(TrySendError::Full(t)),
            Err(PutFailed::Closed(t)) => Err(TrySendError::Disconnected(t)),
        }
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        SyncSender {
            shared: self.shared.add_sender(),
        }
    }
}

impl<T> Drop for SyncSender<T> {
    fn drop(&mut self) {
        self.shared.drop_sender();
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncSender").finish_non_exhaustive()
    }
}

/// The receiving half of a channel; mirrors [`std::sync::mpsc::Receiver`].
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// `Send` but not `Sync`, like std's receiver.
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl<T> Receiver<T> {
    fn new(shared: Arc<Shared<T>>) -> Self {
        Receiver {
            shared,
            _not_sync: PhantomData,
        }
    }

    /// Takes a value if one is ready; mirrors [`std::sync::mpsc::Receiver::try_recv`].
    ///
    /// # Errors
    /// [`TryRecvError::Empty`], or [`TryRecvError::Disconnected`] once every sender is gone
    /// and the buffer is drained.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.shared.chan.get(Patience::None).map_err(|e| match e {
            GetFailed::Empty => TryRecvError::Empty,
            GetFailed::Closed => TryRecvError::Disconnected,
        })
    }

    /// Waits for a value, parking a green thread; mirrors
    /// [`std::sync::mpsc::Receiver::recv`].
    ///
    /// # Errors
    /// [`RecvError`] once every sender is gone and the buffer is drained.
    ///
    /// # Panics
    /// Unwinds with the kill or timeout that reaches a green thread while it waits.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.shared
            .chan
            .get(Patience::Until(None))
            .map_err(|_| RecvError)
    }

    /// Waits at most `timeout` for a value; mirrors
    /// [`std::sync::mpsc::Receiver::recv_timeout`].
    ///
    /// # Errors
    /// [`RecvTimeoutError::Timeout`] or [`RecvTimeoutError::Disconnected`].
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let deadline = Instant::now().checked_add(timeout);
        self.shared
            .chan
            .get(Patience::Until(deadline))
            .map_err(|e| match e {
                GetFailed::Empty => RecvTimeoutError::Timeout,
                GetFailed::Closed => RecvTimeoutError::Disconnected,
            })
    }

    /// An iterator that waits for values until every sender is gone; mirrors
    /// [`std::sync::mpsc::Receiver::iter`].
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the values ready now; mirrors
    /// [`std::sync::mpsc::Receiver::try_iter`].
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // Buffered values are dropped here, outside the channel's lock.
        drop(self.shared.chan.close(true));
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

/// Blocking iterator over a [`Receiver`]; mirrors [`std::sync::mpsc::Iter`].
#[derive(Debug)]
pub struct Iter<'a, T: 'a> {
    rx: &'a Receiver<T>,
}

/// Non-blocking iterator over a [`Receiver`]; mirrors [`std::sync::mpsc::TryIter`].
#[derive(Debug)]
pub struct TryIter<'a, T: 'a> {
    rx: &'a Receiver<T>,
}

/// Owning blocking iterator over a [`Receiver`]; mirrors [`std::sync::mpsc::IntoIter`].
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}
