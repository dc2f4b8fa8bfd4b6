//! The synchronization primitives of the swap protocol ([`commit`](super::commit))
//! and of the parts built on it: a source's switch, a hot operator's slot.
//!
//! Normally std's and futures' own. Under `RUSTFLAGS="--cfg loom"` they are
//! loom's models, so the model tests (`loom_tests` beside `commit.rs`,
//! `source.rs` and `hot.rs`) check every interleaving of the real code:
//! `RUSTFLAGS="--cfg loom" cargo test -p hmr-runtime --lib --release loom`.

pub(crate) use std::sync::atomic::Ordering;

#[cfg(not(loom))]
pub(crate) use futures_util::task::AtomicWaker;
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard, atomic::AtomicU64};

/// Locks std's `m`; a panic elsewhere does not poison what it guards.
pub(crate) fn std_lock<T: ?Sized>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(not(loom))]
pub(crate) use std_lock as lock;

#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard, atomic::AtomicU64};

/// `graph::lock` for loom's mutex: a panic elsewhere does not poison the protocol.
#[cfg(loom)]
pub(crate) fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// loom's `AtomicWaker` with the futures signature (`register` by reference).
#[cfg(loom)]
#[derive(Debug, Default)]
pub(crate) struct AtomicWaker(loom::future::AtomicWaker);

#[cfg(loom)]
impl AtomicWaker {
    pub(crate) fn new() -> AtomicWaker {
        AtomicWaker(loom::future::AtomicWaker::new())
    }

    pub(crate) fn register(&self, waker: &std::task::Waker) {
        self.0.register_by_ref(waker);
    }

    pub(crate) fn wake(&self) {
        self.0.wake();
    }
}

/// Checks `f` in every interleaving with at most `bound` preemptions (all of
/// them with `None`); `LOOM_MAX_PREEMPTIONS` overrides the bound.
#[cfg(all(test, loom))]
pub(crate) fn model(bound: Option<usize>, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = bound;
    }
    builder.check(f);
}

/// For the loom models: things (closures, inner streams) by tag 1 to 3, how
/// many were built and dropped. Std atomics: loom runs its threads one at a
/// time, so the counts are exact and add no interleavings.
#[cfg(all(test, loom))]
#[derive(Default)]
pub(crate) struct Probe {
    built: [std::sync::atomic::AtomicUsize; 4],
    dropped: [std::sync::atomic::AtomicUsize; 4],
}

#[cfg(all(test, loom))]
impl Probe {
    pub(crate) fn new() -> std::sync::Arc<Probe> {
        std::sync::Arc::default()
    }

    pub(crate) fn count_built(&self, tag: u32) {
        self.built[tag as usize].fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn count_dropped(&self, tag: u32) {
        self.dropped[tag as usize].fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn alive(&self, tag: u32) -> bool {
        let built = self.built[tag as usize].load(Ordering::SeqCst);
        let dropped = self.dropped[tag as usize].load(Ordering::SeqCst);
        assert!(dropped <= built, "{tag} dropped twice");
        built > dropped
    }

    pub(crate) fn live(&self) -> usize {
        (1..4).filter(|&tag| self.alive(tag)).count()
    }
}
