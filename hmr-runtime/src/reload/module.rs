//! Reload units: `module`, their locks and bookkeeping, `ReloadError`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::accumulator::dispatch::{Aftermath, emit, emit_deferring_disposal, horizon, listening};
use crate::accumulator::stack::STACK;
use crate::events::{CallReason, Event, ModuleVersion};
use crate::store::{ModuleRecord, store};
use crate::support::panic_message;

/// Why a reload unit did not commit.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReloadError {
    /// The module's code panicked. Nothing was committed: the previous
    /// version keeps running; the next call tries again.
    Panicked {
        /// The module.
        module: String,
        /// The panic message.
        message: String,
    },
    /// `module(name, …)` was called while `name` was already running on this
    /// thread. Give the inner unit another name.
    Reentrant {
        /// The module.
        module: String,
    },
    /// [`reload`](crate::reload()) was called on a thread of a current-thread tokio runtime
    /// and met an async root ([`root_async`](crate::root_async)), which it cannot wait for there
    /// without stopping the runtime. Call it from a plain thread
    /// (`std::thread::spawn(hmr_runtime::reload)`), or use a multi-thread
    /// runtime.
    Blocking {
        /// The async root's module.
        module: String,
    },
    /// A module was given the empty name, which reload errors raised outside
    /// any module carry. Name it (`module("app", …)`).
    EmptyName,
}

impl fmt::Display for ReloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadError::Panicked { module, message } => {
                write!(
                    f,
                    "module `{module}` panicked, the previous version keeps running: {message}"
                )
            }
            ReloadError::Reentrant { module } => write!(
                f,
                "module `{module}` was entered again while it runs; give the inner unit another name"
            ),
            ReloadError::Blocking { module } => write!(
                f,
                "module `{module}` is an async root, which `reload()` cannot wait for on a \
                 current-thread runtime's thread: call it from a plain thread \
                 (`std::thread::spawn(hmr_runtime::reload)`)"
            ),
            ReloadError::EmptyName => f.write_str(
                "a module's name is empty, the name of errors outside any module: name it \
                 (`module(\"app\", …)`)",
            ),
        }
    }
}

impl std::error::Error for ReloadError {}

static LOCKS: Mutex<BTreeMap<String, Arc<ModuleLock>>> = Mutex::new(BTreeMap::new());

/// One lock per module name: executions of one module never overlap, while
/// different modules may run at once (a module may wait for other threads
/// running other modules). As with any locks, two threads nesting the same
/// two modules in opposite orders can deadlock: nest modules in one order.
///
/// Locks nobody holds or waits for (the map's is the only handle) are swept
/// out whenever the map doubles, so names made up per job do not pile up.
pub(super) fn module_lock(name: &str) -> Arc<ModuleLock> {
    let mut locks = LOCKS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(lock) = locks.get(name) {
        return lock.clone();
    }
    if locks.len() >= 64 && locks.len().is_power_of_two() {
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
    }
    locks.entry(name.to_owned()).or_default().clone()
}

/// A module's lock, held by a sync [`module`] (blocking) or by a
/// [`module_async`](super::module_async::module_async) across its awaits.
#[derive(Debug, Default)]
pub(super) struct ModuleLock {
    state: Mutex<LockState>,
    /// Wakes blocked sync waiters.
    freed: Condvar,
}

#[derive(Debug, Default)]
struct LockState {
    held: bool,
    /// Async waiters, all woken when the lock is freed.
    waiting: Vec<Waker>,
}

/// Holds a [`ModuleLock`] until dropped.
#[derive(Debug)]
pub(super) struct ModuleGuard(Arc<ModuleLock>);

impl ModuleLock {
    fn state(&self) -> MutexGuard<'_, LockState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits, blocking the thread, until the lock is free, and takes it.
    fn lock_blocking(self: &Arc<Self>) -> ModuleGuard {
        let mut state = self.state();
        while state.held {
            state = self.freed.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        state.held = true;
        ModuleGuard(self.clone())
    }

    /// Takes the lock if it is free; else wakes `cx` when it is freed.
    pub(super) fn poll_lock(self: &Arc<Self>, cx: &mut Context<'_>) -> Poll<ModuleGuard> {
        let mut state = self.state();
        if !state.held {
            state.held = true;
            return Poll::Ready(ModuleGuard(self.clone()));
        }
        if !state.waiting.iter().any(|w| w.will_wake(cx.waker())) {
            state.waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for ModuleGuard {
    fn drop(&mut self) {
        let waiting = {
            let mut state = self.0.state();
            state.held = false;
            std::mem::take(&mut state.waiting)
        };
        self.0.freed.notify_all();
        for waker in waiting {
            waker.wake();
        }
    }
}

/// A module version that has begun: its `hmr-module-call` is out.
pub(super) struct Begun {
    pub(super) module: ModuleVersion,
    /// The listeners its call went to; its return goes to the same.
    pair: u64,
}

impl Begun {
    /// Begins the next version of `name`. Call with its lock held.
    pub(super) fn new(name: &str, reason: CallReason) -> Begun {
        let version = store().modules.get(name).map_or(1, ModuleRecord::next_version);
        // The module's call and return go to the same listeners, like a scope's.
        let pair = if listening() { horizon() } else { 0 };
        let call = Event::HmrModuleCall { module: name.into(), version, reason };
        emit_deferring_disposal(call, pair).finish(name);
        Begun { module: ModuleVersion { name: name.into(), version }, pair }
    }

    /// Ends the version: committed, or rolled back with `error`. Committed
    /// swaps land now, before the next version may start; what the returned
    /// aftermath holds (disposers) runs after the lock is released.
    pub(super) fn end(self, error: Option<String>) -> Aftermath {
        let name = self.module.name;
        let end = Event::HmrModuleCallReturn {
            module: name.clone(),
            committed: error.is_none(),
            error: error.clone(),
        };
        let mut aftermath = emit_deferring_disposal(end, self.pair);
        aftermath.apply();
        if let Some(message) = error {
            emit(Event::ReloadError { module: name, message, path: None });
        }
        aftermath
    }
}

/// Whether a scope of module `name` is open on this thread: its code, or a
/// future polled inside it, is calling it again.
pub(super) fn open_here(name: &str) -> bool {
    let running = RUNNING.try_with(|r| r.borrow().iter().any(|n| n == name)).unwrap_or(false);
    running || STACK.try_with(|s| s.borrow().runs_module(name)).unwrap_or(false)
}

thread_local! {
    /// The modules this thread is executing, from `module()`'s entry to its
    /// end (commit and disposers included).
    static RUNNING: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Marks `name` as running on this thread until dropped.
pub(super) struct Running;

impl Running {
    pub(super) fn enter(name: &str) -> Option<Running> {
        RUNNING
            .try_with(|r| {
                let mut running = r.borrow_mut();
                if running.iter().any(|n| n == name) {
                    return None;
                }
                running.push(name.to_owned());
                Some(Running)
            })
            .ok()
            .flatten()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = RUNNING.try_with(|r| r.borrow_mut().pop());
    }
}

/// Runs `f` as the reload unit `name` (the Rust analog of evaluating a JS module).
///
/// The first call is version 1 (again after a version that left the module
/// holding nothing, which forgets it); each later call is a *re-execution*: tracked
/// calls inside are matched to the living tracks by structural path, tracks
/// that are reached again are updated (`track-update`), and tracks of this
/// module that the new version did not reach are disposed (`track-dispose`).
///
/// A panic inside `f` is caught: nothing is committed (the store is as it was
/// before the call), `reload-error` is emitted and `Err` returned.
///
/// ```
/// use hmr_runtime::{EntityKind, capture_entity, hmr_track, module, snapshot};
///
/// #[hmr_track(key = "docs::feed")]
/// fn feed() {
///     capture_entity(EntityKind::Factory, "source");
/// }
///
/// module("docs-module", feed).unwrap();
/// module("docs-module", feed).unwrap(); // re-execution: same track, version 2
/// let store = snapshot();
/// let track = store.tracks_with_key("docs::feed").next().unwrap();
/// assert_eq!(track.version, 2);
/// ```
///
/// Executions of one module are serialised; different modules may run at
/// once. Disposers of orphaned or rolled-back entities run after the module's
/// bookkeeping is done and outside its lock; a disposer that panics is
/// reported as a `reload-error` and the others still run.
///
/// # Errors
/// [`ReloadError::Panicked`] if `f` panicked, [`ReloadError::Reentrant`] if
/// `name` is already running on this thread (also from one of its disposers).
pub fn module<R>(name: &str, f: impl FnOnce() -> R) -> Result<R, ReloadError> {
    run(name, CallReason::Call, f)
}

/// The module this thread is inside, innermost, if any: one it executes,
/// or one whose future it polls.
pub(super) fn innermost_running() -> Option<String> {
    let running = RUNNING.try_with(|r| r.borrow().last().cloned()).ok().flatten();
    running.or_else(|| STACK.try_with(|s| s.borrow().innermost_module()).ok().flatten())
}

/// Refuses the empty module name (see [`ReloadError::EmptyName`]).
pub(super) fn check_name(name: &str) -> Result<(), ReloadError> {
    if name.is_empty() { Err(ReloadError::EmptyName) } else { Ok(()) }
}

/// [`module`], telling listeners why it runs.
pub(super) fn run<R>(
    name: &str,
    reason: CallReason,
    f: impl FnOnce() -> R,
) -> Result<R, ReloadError> {
    check_name(name)?;
    if open_here(name) {
        return Err(ReloadError::Reentrant { module: name.to_owned() });
    }
    let Some(_running) = Running::enter(name) else {
        return Err(ReloadError::Reentrant { module: name.to_owned() });
    };
    let lock = module_lock(name);
    let (result, aftermath) = {
        let _serial = lock.lock_blocking();
        let begun = Begun::new(name, reason);
        let depth = STACK.try_with(|s| s.borrow_mut().push_module(begun.module.clone()));
        let result = catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message(&*p));
        let _ = STACK.try_with(|s| s.borrow_mut().pop(depth.unwrap_or(0)));
        let aftermath = begun.end(result.as_ref().err().cloned());
        (result, aftermath)
    };
    aftermath.finish(name);
    result.map_err(|message| ReloadError::Panicked { module: name.to_owned(), message })
}

#[cfg(test)]
mod tests {
    use super::{LOCKS, module_lock};

    /// Module names made up per job leave no lock behind for long: idle
    /// locks are swept as the map grows, held ones stay.
    #[test]
    fn idle_module_locks_are_swept() {
        let held = module_lock("locks-held");
        for job in 0..10_000 {
            drop(module_lock(&format!("locks-job-{job}")));
        }
        let locks = LOCKS.lock().unwrap();
        let jobs = locks.keys().filter(|name| name.starts_with("locks-job-")).count();
        assert!(jobs < 4096, "{jobs} idle locks kept of 10 000");
        assert!(locks.len() < 10_000, "swept: {} left", locks.len());
        assert!(locks.contains_key("locks-held"), "a held lock stays");
        drop(locks);
        assert!(std::sync::Arc::ptr_eq(&held, &module_lock("locks-held")));
    }
}
