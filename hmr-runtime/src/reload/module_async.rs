//! `module_async`: a reload unit whose code is a future (an async setup).

use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::module::{Begun, ModuleGuard, ReloadError, Running, check_name, module_lock, open_here};
use crate::accumulator::stack::{Frame, STACK, Stack};
use crate::events::CallReason;
use crate::support::panic_message;

/// Runs the future `f` returns as the reload unit `name`: [`module`](crate::module)
/// for an async setup.
///
/// The module's scope is open on every poll of the future, so every tracked
/// call it makes, before and after its awaits, belongs to this version: a
/// second run re-executes them like `module` does (the same subscription
/// handed back, its closures swapped in place), and tracks it no longer
/// reaches are disposed when it completes. Two runs of one module never
/// overlap: a run waits, without blocking its thread, while another one
/// (sync or async) holds the module.
///
/// A panic while polling rolls the version back, as in `module`: nothing is
/// committed, `reload-error` is emitted and `Err` returned. So does dropping
/// the future before it completes (`error: "cancelled …"`).
///
/// ```
/// use hmr_runtime::{EntityKind, capture_entity, hmr_track, module_async, snapshot};
///
/// #[hmr_track(key = "docs::connect")]
/// async fn connect() {
///     tokio::task::yield_now().await; // say, a handshake
///     capture_entity(EntityKind::Factory, "feed");
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// module_async("docs-async", || async { connect().await }).await.unwrap();
/// module_async("docs-async", || async { connect().await }).await.unwrap();
/// let store = snapshot();
/// let track = store.tracks_with_key("docs::connect").next().unwrap();
/// assert_eq!(track.version, 2); // re-executed, not created again
/// # });
/// ```
///
/// A sync `module(name, …)` of the same name blocks its thread while this one
/// runs: on a current-thread runtime, call it from outside the runtime, or
/// use `module_async` for both.
///
/// # Errors
/// [`ReloadError::Panicked`] if polling panicked or the future was dropped
/// first, [`ReloadError::Reentrant`] if it runs inside a scope of `name`.
pub async fn module_async<F, Fut>(name: &str, f: F) -> Result<Fut::Output, ReloadError>
where
    F: FnOnce() -> Fut,
    Fut: Future,
{
    module_async_because(name, CallReason::Call, f).await
}

/// [`module_async`], telling listeners why it runs.
pub(crate) async fn module_async_because<F, Fut>(
    name: &str,
    reason: CallReason,
    f: F,
) -> Result<Fut::Output, ReloadError>
where
    F: FnOnce() -> Fut,
    Fut: Future,
{
    check_name(name)?;
    if open_here(name) {
        return Err(ReloadError::Reentrant { module: name.to_owned() });
    }
    let lock = module_lock(name);
    let guard = poll_fn(|cx| lock.poll_lock(cx)).await;
    let begun = Begun::new(name, reason);
    let frame = Stack::new_module_frame(begun.module.clone());
    let mut version = Version { begun: Some(begun), guard: Some(guard) };
    let result = InModule { frame: Some(frame), f: Some(f), fut: None }.await;
    version.end(result.as_ref().err().cloned());
    result.map_err(|message| ReloadError::Panicked { module: name.to_owned(), message })
}

/// A running version and its lock. Dropped before [`end`](Self::end) (the
/// module's future was dropped), it rolls the version back.
struct Version {
    begun: Option<Begun>,
    guard: Option<ModuleGuard>,
}

impl Version {
    /// Commits, or rolls back with `error`; then releases the lock and runs
    /// the disposers.
    fn end(&mut self, error: Option<String>) {
        let Some(begun) = self.begun.take() else { return };
        let name = begun.module.name.clone();
        let aftermath = begun.end(error);
        drop(self.guard.take());
        // Its disposers run as the module's, like a sync module's: one that
        // runs the module again gets `Reentrant`, not a deadlock.
        let _running = Running::enter(&name);
        aftermath.finish(&name);
    }
}

impl Drop for Version {
    fn drop(&mut self) {
        self.end(Some("cancelled: the module's future was dropped before it completed".into()));
    }
}

/// Polls the module's future with the module's scope open.
struct InModule<F, Fut> {
    frame: Option<Frame>,
    f: Option<F>,
    fut: Option<Pin<Box<Fut>>>,
}

impl<F, Fut> Unpin for InModule<F, Fut> {}

impl<F, Fut> Future for InModule<F, Fut>
where
    F: FnOnce() -> Fut,
    Fut: Future,
{
    type Output = Result<Fut::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        // Without its frame (a thread being torn down), the future runs untracked.
        let depth = this
            .frame
            .take()
            .and_then(|frame| STACK.try_with(|s| s.borrow_mut().enter_async(frame)).ok());
        let polled = catch_unwind(AssertUnwindSafe(|| {
            if let Some(f) = this.f.take() {
                this.fut = Some(Box::pin(f()));
            }
            match this.fut.as_mut() {
                Some(fut) => fut.as_mut().poll(cx),
                None => Poll::Pending,
            }
        }));
        if let Some(depth) = depth {
            this.frame = STACK.try_with(|s| s.borrow_mut().take_back(depth)).ok().flatten();
        }
        match polled {
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                // Never polled again; what it holds is dropped now.
                this.fut = None;
                Poll::Ready(Err(panic_message(&*payload)))
            }
        }
    }
}
