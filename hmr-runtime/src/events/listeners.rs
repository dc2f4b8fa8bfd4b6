//! Listeners: the captures and sinks that events are published to, numbered
//! as they are installed, so that a scope's call and its return reach the
//! same ones.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// Active captures plus installed sinks: with none, no event is built.
pub(crate) static LISTENERS: AtomicUsize = AtomicUsize::new(0);

/// Every listener (capture or sink) gets the next number when installed. A
/// scope records the highest number at its `track-call` (its *horizon*) and
/// both its call and its return go only to listeners at or below it: a
/// listener installed mid-call sees neither half, never just one.
static LISTENER_SEQ: AtomicU64 = AtomicU64::new(0);
static INSTALLING: Mutex<()> = Mutex::new(());

/// Publish to every listener.
pub(crate) const EVERYONE: u64 = u64::MAX;

/// Installs a listener: `insert` puts it where `publish` finds it, under its
/// number, before the number becomes visible to scopes.
pub(crate) fn install_listener(insert: impl FnOnce(u64)) -> u64 {
    let _installing = INSTALLING.lock().unwrap_or_else(PoisonError::into_inner);
    let seq = LISTENER_SEQ.load(Ordering::Relaxed) + 1;
    insert(seq);
    LISTENERS.fetch_add(1, Ordering::SeqCst);
    LISTENER_SEQ.store(seq, Ordering::Release);
    seq
}

/// The horizon of a scope announced now.
#[inline]
pub(crate) fn horizon() -> u64 {
    LISTENER_SEQ.load(Ordering::Acquire)
}

/// Whether any listener is installed (else no event needs building).
#[inline]
pub(crate) fn listening() -> bool {
    LISTENERS.load(Ordering::Relaxed) != 0
}
