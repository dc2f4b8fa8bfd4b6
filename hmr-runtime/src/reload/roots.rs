//! Roots: the modules a reload (or a code patch) runs again, `root`,
//! `root_async` and `reload`.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use futures_core::future::BoxFuture;
use tokio::runtime::Handle;

use super::module::{ReloadError, check_name, innermost_running, module, run};
use super::module_async::module_async_because;
use crate::events::CallReason;

/// Serialises [`reload`] calls.
static RELOADING: Mutex<()> = Mutex::new(());

type RootFn = Arc<dyn Fn() + Send + Sync>;
type AsyncRootFn = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// What a root runs.
#[derive(Clone)]
enum Code {
    Sync(RootFn),
    Async(AsyncRootFn),
}

/// A registered root: its function, and the tokio runtime it was registered
/// in, entered again when a reload runs on a thread outside any runtime (the
/// patch engine's), so a new version may start subscriptions.
#[derive(Clone)]
struct Root {
    name: String,
    code: Code,
    runtime: Option<Handle>,
}

static ROOTS: Mutex<Vec<Root>> = Mutex::new(Vec::new());

/// Registers (or replaces) the root `name`.
fn register(name: &str, code: Code) {
    let runtime = Handle::try_current().ok();
    let mut roots = ROOTS.lock().unwrap_or_else(PoisonError::into_inner);
    match roots.iter_mut().find(|r| r.name == name) {
        Some(slot) => {
            slot.code = code;
            // Registered again outside a runtime: keep the one it had.
            if runtime.is_some() {
                slot.runtime = runtime;
            }
        }
        None => roots.push(Root { name: name.to_owned(), code, runtime }),
    }
}

/// Registers `f` as the root of module `name` and runs it (version 1, or the
/// next version if `name` ran before and still holds a track). [`reload`] runs every root again.
///
/// A later `root` with the same name replaces the registered function (a new
/// version of the code) and runs it. A root registered inside a tokio runtime
/// is re-run inside it by reloads from threads that have none.
///
/// With feature `subsecond` (or `subsecond-0-8`), `f` is called through
/// `subsecond::HotFn`, so a re-run after a code patch executes the newest
/// code, and the first `root` starts the patch engine: every patch posts a
/// reload (see the crate docs, "Live editing"). Fn items (`root("app", app)`)
/// and closures are patched; a function pointer (`app as fn()`) is called as
/// it is: pass the fn item.
///
/// # Errors
/// As [`module`].
pub fn root<F>(name: &str, f: F) -> Result<(), ReloadError>
where
    F: Fn() + Send + Sync + 'static,
{
    check_name(name)?;
    #[cfg(any(feature = "subsecond", feature = "subsecond-0-8"))]
    let f: RootFn = Arc::new(super::patch::hot(name, f, reload_because));
    #[cfg(not(any(feature = "subsecond", feature = "subsecond-0-8")))]
    let f: RootFn = Arc::new(f);
    register(name, Code::Sync(f.clone()));
    module(name, || f())
}

/// [`root`] for an async setup: registers `f` as the root of module `name`
/// and runs the future it returns as [`module_async`](crate::module_async)
/// does. [`reload`] and code patches run it again, each run a new version.
///
/// A reload runs an async root on the tokio runtime it was registered in
/// and waits for it: from a plain thread (the patch engine's), or from a
/// task or blocking thread of a multi-thread runtime (the worker hands its
/// other tasks over while it waits, as in `block_in_place`). On a
/// current-thread runtime's thread it cannot wait without stopping the
/// runtime, and returns [`ReloadError::Blocking`] for the root instead: call
/// it from a plain thread there. The root's runtime must be running for a
/// reload to finish: a current-thread runtime only while its `block_on`
/// runs (the program's `main`, typically), or the reload waits for it.
/// Called from inside the root's own run, `reload` returns
/// [`ReloadError::Reentrant`].
///
/// ```
/// use hmr_runtime::{hmr_track, root_async, reload};
///
/// #[hmr_track(key = "docs::connect_root")]
/// async fn connect() {
///     tokio::task::yield_now().await; // say, a handshake
/// }
///
/// let runtime = tokio::runtime::Builder::new_multi_thread().build().unwrap();
/// runtime.block_on(root_async("docs-async-root", || async { connect().await })).unwrap();
/// reload().unwrap(); // from outside the runtime: it runs there, and waits
/// ```
///
/// # Errors
/// As [`module_async`](crate::module_async).
pub async fn root_async<F, Fut>(name: &str, f: F) -> Result<(), ReloadError>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    check_name(name)?;
    let boxed = move || -> BoxFuture<'static, ()> { Box::pin(f()) };
    #[cfg(any(feature = "subsecond", feature = "subsecond-0-8"))]
    let f: AsyncRootFn = Arc::new(super::patch::hot(name, boxed, reload_because));
    #[cfg(not(any(feature = "subsecond", feature = "subsecond-0-8")))]
    let f: AsyncRootFn = Arc::new(boxed);
    register(name, Code::Async(f.clone()));
    module_async_because(name, CallReason::Call, || f()).await
}

/// Runs an async root for a reload, waiting for it (see [`root_async`]).
fn run_async_root(root: &Root, f: &AsyncRootFn, reason: CallReason) -> Result<(), ReloadError> {
    // On a runtime's thread, waiting is safe only where the worker can hand
    // its other tasks over: a multi-thread runtime. A current-thread one
    // (maybe the root's own) would stop.
    let in_tokio = match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => true,
        Ok(_) => return Err(ReloadError::Blocking { module: root.name.clone() }),
        Err(_) => false,
    };
    let (name, f) = (root.name.clone(), f.clone());
    let run = async move { module_async_because(&name, reason, || f()).await };
    match root.runtime.as_ref().or(Handle::try_current().ok().as_ref()) {
        Some(runtime) => {
            // On its runtime, where its tasks and timers live.
            let (tx, rx) = std::sync::mpsc::channel();
            runtime.spawn(async move {
                let _ = tx.send(run.await);
            });
            let wait = || rx.recv();
            let done = if in_tokio { tokio::task::block_in_place(wait) } else { wait() };
            done.unwrap_or_else(|_| {
                Err(ReloadError::Panicked {
                    module: root.name.clone(),
                    message: "the root's tokio runtime is shut down: it cannot run".to_owned(),
                })
            })
        }
        // Registered outside tokio: polled here.
        None => block_here(run),
    }
}

/// Polls `fut` to completion on this thread, parking between polls.
fn block_here<T>(fut: impl Future<Output = T>) -> T {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// Re-runs every registered root, in registration order, each as a new
/// version of its module. Concurrent calls are serialised. Every root runs
/// even if one fails.
///
/// # Errors
/// The first root's error, if any failed. Called from inside a module (a root
/// reloading itself), [`ReloadError::Reentrant`] for that module.
pub fn reload() -> Result<(), ReloadError> {
    reload_because(CallReason::Reload)
}

/// [`reload`], telling listeners why.
pub(crate) fn reload_because(reason: CallReason) -> Result<(), ReloadError> {
    // Inside a module (its code, a future polled inside it, its disposers):
    // a root's re-run would wait for that module to end.
    if let Some(module) = innermost_running() {
        return Err(ReloadError::Reentrant { module });
    }
    let _serial = RELOADING.lock().unwrap_or_else(PoisonError::into_inner);
    let roots = ROOTS.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let mut first_error = None;
    for root in roots {
        let result = match &root.code {
            Code::Sync(f) => {
                let _entered = match (&root.runtime, Handle::try_current()) {
                    (Some(runtime), Err(_)) => Some(runtime.enter()),
                    _ => None,
                };
                run(&root.name, reason, || f())
            }
            Code::Async(f) => run_async_root(&root, f, reason),
        };
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}
