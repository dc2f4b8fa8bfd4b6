//! `subscribe`: one living tokio task per track path; `spawn`: the fallback.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::task::AtomicWaker;
use tokio::runtime::Handle;
use tokio::task::AbortHandle;

use super::graph::{Builder, Follower, Node, Shape, Ty, lock, staged};
use crate::events::{EntityId, EntityKind, SubscriptionId};

type Pipeline<T> = Pin<Box<dyn Stream<Item = T> + Send>>;
type Handler<T> = Box<dyn FnMut(T) + Send>;

/// Items a task handles before it lets other tasks run.
const BUDGET: u32 = 128;

static NEXT_SUBSCRIPTION: AtomicU64 = AtomicU64::new(1);

/// What reaches a running subscription task from outside.
struct Ctl<T> {
    id: SubscriptionId,
    entity: Mutex<Option<EntityId>>,
    /// Bumped when `next` holds something new.
    version: AtomicU64,
    waker: AtomicWaker,
    next: Mutex<Next<T>>,
    stopped: AtomicBool,
    /// Only the track decides when it stops (see [`Subscription::detach`]).
    detached: AtomicBool,
    abort: Mutex<Option<AbortHandle>>,
}

struct Next<T> {
    pipeline: Option<Pipeline<T>>,
    handler: Option<Handler<T>>,
}

/// Stops a subscription, whatever its item type.
trait Stop: Send + Sync {
    fn stop(&self);
    fn is_stopped(&self) -> bool;
    fn detach(&self);
    fn is_detached(&self) -> bool;
    fn id(&self) -> SubscriptionId;
}

impl<T: 'static> Ctl<T> {
    fn swap(&self, pipeline: Option<Pipeline<T>>, handler: Option<Handler<T>>) {
        let replaced = {
            let mut next = lock(&self.next);
            if self.stopped.load(Ordering::Acquire) {
                // Unsubscribed meanwhile: nothing may keep the new pipeline.
                drop(next);
                drop((pipeline, handler));
                return;
            }
            let replaced = (
                pipeline.and_then(|p| next.pipeline.replace(p)),
                handler.and_then(|h| next.handler.replace(h)),
            );
            self.version.fetch_add(1, Ordering::AcqRel);
            replaced
        };
        drop(replaced);
        self.waker.wake();
    }
}

impl<T: 'static> Stop for Ctl<T> {
    fn stop(&self) {
        let pending = {
            let mut next = lock(&self.next);
            if self.stopped.swap(true, Ordering::AcqRel) {
                return;
            }
            std::mem::replace(&mut *next, Next { pipeline: None, handler: None })
        };
        drop(pending);
        if let Some(abort) = lock(&self.abort).take() {
            abort.abort();
        }
        self.waker.wake();
        if let Some(entity) = *lock(&self.entity) {
            crate::accumulator::dispatch::emit_if_enabled(crate::events::Event::Unsubscribe {
                subscription: self.id,
                entity,
            });
        }
    }
    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }
    fn detach(&self) {
        self.detached.store(true, Ordering::Release);
    }
    fn is_detached(&self) -> bool {
        self.detached.load(Ordering::Acquire)
    }
    fn id(&self) -> SubscriptionId {
        self.id
    }
}

/// The task of a subscription: polls the pipeline, hands each item to the
/// handler; takes a new handler or pipeline when a re-execution commits one.
struct Task<T> {
    ctl: Arc<Ctl<T>>,
    seen: u64,
    pipeline: Option<Pipeline<T>>,
    handler: Option<Handler<T>>,
}

impl<T> Unpin for Task<T> {}

impl<T: 'static> Future for Task<T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        this.ctl.waker.register(cx.waker());
        let mut budget = BUDGET;
        loop {
            if this.ctl.stopped.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
            let version = this.ctl.version.load(Ordering::Acquire);
            if version != this.seen {
                this.seen = version;
                let next = {
                    let mut next = lock(&this.ctl.next);
                    (next.pipeline.take(), next.handler.take())
                };
                if let Some(pipeline) = next.0 {
                    // The old pipeline is dropped: its state restarts (a rebuild).
                    this.pipeline = Some(pipeline);
                }
                if let Some(handler) = next.1 {
                    this.handler = Some(handler);
                }
            }
            // An ended pipeline waits for a rebuild to give it a new one.
            let Some(pipeline) = this.pipeline.as_mut() else { return Poll::Pending };
            // A hot closure that panics loses its item, not the task: the
            // fixed closure a reload swaps in must find the task alive.
            let polled = catch_unwind(AssertUnwindSafe(|| pipeline.as_mut().poll_next(cx)));
            let Ok(polled) = polled else {
                pipeline_panicked(this.ctl.id);
                // Let other tasks run before the pipeline is polled again.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            };
            match polled {
                Poll::Ready(Some(item)) => {
                    if let Some(handler) = this.handler.as_mut()
                        && let Err(payload) = catch_unwind(AssertUnwindSafe(|| handler(item)))
                    {
                        handler_panicked(this.ctl.id, &*payload);
                    }
                    budget -= 1;
                    if budget == 0 {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
                Poll::Ready(None) => this.pipeline = None,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cold]
fn pipeline_panicked(id: SubscriptionId) {
    let message = format!(
        "the pipeline of subscription {} panicked (a hot closure?); the item was lost and the \
         subscription goes on: reload a fix",
        id.0
    );
    crate::accumulator::dispatch::emit_if_enabled(crate::events::Event::ReloadError {
        module: String::new(),
        message,
    });
}

#[cold]
fn handler_panicked(id: SubscriptionId, payload: &(dyn Any + Send)) {
    let message = format!(
        "the handler of subscription {} panicked; the item was dropped and the subscription goes on: {}",
        id.0,
        crate::reload::module::panic_message(payload)
    );
    crate::accumulator::dispatch::emit_if_enabled(crate::events::Event::ReloadError {
        module: String::new(),
        message,
    });
}

/// A handle to a living subscription (DESIGN §7).
///
/// Handles are shared: a re-execution of the track hands back a handle to
/// the *same* task. The task stops on [`unsubscribe`](Subscription::unsubscribe),
/// when its track is disposed (an orphan), or when its last handle is
/// dropped, unless it was [`detach`](Subscription::detach)ed.
#[derive(Clone)]
#[must_use = "dropping the last handle stops the subscription; `detach()` leaves it to its track"]
pub struct Subscription {
    guard: Arc<Guard>,
}

struct Guard {
    ctl: Arc<dyn Stop>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.ctl.is_detached() {
            self.ctl.stop();
        }
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.guard.ctl.id())
            .field("active", &self.is_active())
            .finish()
    }
}

impl Subscription {
    /// Stops the task now (every handle sees it stopped).
    pub fn unsubscribe(&self) {
        self.guard.ctl.stop();
    }

    /// Whether the task still runs (it was not stopped).
    #[must_use]
    pub fn is_active(&self) -> bool {
        !self.guard.ctl.is_stopped()
    }

    /// Its id, as in the `subscribe` / `unsubscribe` events.
    #[must_use]
    pub fn id(&self) -> SubscriptionId {
        self.guard.ctl.id()
    }

    /// Drops this handle without stopping the task when it is the last: the
    /// task then runs until [`unsubscribe`](Subscription::unsubscribe) on a
    /// handle a re-execution hands back, or until its track is disposed.
    /// For code that cannot keep the handle (a [`root`](crate::root)).
    pub fn detach(self) {
        self.guard.ctl.detach();
    }
}

/// The living subscription of a track.
struct SubNode<T> {
    ctl: Arc<Ctl<T>>,
    handles: Mutex<Weak<Guard>>,
    /// Where its task runs: a re-execution that finds it stopped starts a
    /// new one there, from any thread.
    runtime: Handle,
}

impl<T: 'static> SubNode<T> {
    fn handle(&self) -> Subscription {
        let mut handles = lock(&self.handles);
        if let Some(guard) = handles.upgrade() {
            return Subscription { guard };
        }
        let guard = Arc::new(Guard { ctl: self.ctl.clone() });
        *handles = Arc::downgrade(&guard);
        Subscription { guard }
    }
}

/// What a re-execution's `subscribe` stages for the living task.
struct SubStaged<T> {
    next: Next<T>,
    /// The pipeline was built from no stream part of this scope (a plain
    /// stream): an update takes it too, or the edit would never run.
    plain: bool,
}

impl<T: 'static> Node for SubNode<T> {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn adopt(&self, follower: &dyn Node) -> bool {
        // Same shape: the living pipeline took the new closures; the new
        // pipeline is dropped unpolled, the handler swapped. A plain
        // pipeline has nothing to swap into: it is taken over.
        let Some(staged) = staged::<Self, SubStaged<T>>(follower) else { return false };
        if let Some(SubStaged { next, plain }) = staged {
            if plain {
                self.ctl.swap(next.pipeline, next.handler);
            } else {
                self.ctl.swap(None, next.handler);
                drop(next.pipeline);
            }
        }
        true
    }
    fn relink(&self, follower: &dyn Node) {
        if let Some(Some(SubStaged { next, .. })) = staged::<Self, SubStaged<T>>(follower) {
            self.ctl.swap(next.pipeline, next.handler);
        }
    }
    fn dispose(&self) {
        self.ctl.stop();
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Runs `stream` on a tokio task, calling `handler` with each item
/// (DESIGN §7).
///
/// Inside a tracked function, a re-execution reaches the *same* task: the
/// pipeline it built is dropped unpolled (its closures were swapped into the
/// living pipeline) and the new handler is swapped in, so the next item goes
/// through the new code with every operator's state kept. A pipeline with no
/// stream part built in the same scope (a plain stream such as a channel's
/// receiver, or a stable stream another tracked fn returned) has nothing to
/// swap into: the task takes the new one. If the pipeline's
/// shape changed, the task takes the new pipeline instead (its operators
/// start afresh) and never sees an end in between. A handler that panics
/// loses that item; the subscription goes on and a `reload-error` is emitted.
///
/// A pipeline that ends leaves the task waiting for a rebuild.
///
/// # Panics
/// On a first execution outside a tokio runtime (there is nothing to spawn
/// the task on). Re-executions run anywhere: they spawn nothing.
///
/// ```
/// use futures::stream;
/// use hmr_runtime::subscribe;
/// use std::sync::{Arc, Mutex};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// let subscription = subscribe(stream::iter([1, 2, 3]), move |x| sink.lock().unwrap().push(x));
/// while seen.lock().unwrap().len() < 3 {
///     tokio::task::yield_now().await;
/// }
/// assert_eq!(*seen.lock().unwrap(), [1, 2, 3]);
/// subscription.unsubscribe();
/// # });
/// ```
pub fn subscribe<S, F>(stream: S, handler: F) -> Subscription
where
    S: Stream + Send + 'static,
    S::Item: 'static,
    F: FnMut(S::Item) + Send + 'static,
{
    let pipeline: Pipeline<S::Item> = Box::pin(stream);
    let handler: Handler<S::Item> = Box::new(handler);
    let builder = Builder::new();
    let shape = Shape::new("subscribe", &[Ty::of::<S::Item>()]);
    let name = match builder.previous_name() {
        Some(prev) => format!("subscribe({prev})"),
        None => "subscribe(stream)".to_owned(),
    };
    let living = builder.living::<SubNode<S::Item>>("subscribe", &shape);
    let stopped_runtime = living.as_ref().map(|node| node.runtime.clone());
    if let Some(target) = living.filter(|node| !node.ctl.is_stopped()) {
        let handle = target.handle();
        let staged = SubStaged {
            next: Next { pipeline: Some(pipeline), handler: Some(handler) },
            plain: builder.no_stream_parts(),
        };
        let follower = Follower::new(target, staged);
        builder.finish(EntityKind::Constructor, "subscribe", name, shape, Arc::new(follower));
        return handle;
    }
    // A re-execution that finds its subscription stopped (unsubscribed)
    // starts it again where it ran.
    let runtime = Handle::try_current().ok().or(stopped_runtime).unwrap_or_else(|| {
        panic!(
            "hmr_runtime::subscribe was first called outside a tokio runtime: \
             call it inside one (#[tokio::main], Runtime::block_on or a task); \
             re-executions may run anywhere"
        )
    });
    let ctl = Arc::new(Ctl {
        id: SubscriptionId(NEXT_SUBSCRIPTION.fetch_add(1, Ordering::Relaxed)),
        entity: Mutex::new(None),
        version: AtomicU64::new(0),
        waker: AtomicWaker::new(),
        next: Mutex::new(Next { pipeline: None, handler: None }),
        stopped: AtomicBool::new(false),
        detached: AtomicBool::new(false),
        abort: Mutex::new(None),
    });
    let node = Arc::new(SubNode {
        ctl: ctl.clone(),
        handles: Mutex::new(Weak::new()),
        runtime: runtime.clone(),
    });
    let handle = node.handle();
    let entity = builder.finish(EntityKind::Constructor, "subscribe", name, shape, node);
    *lock(&ctl.entity) = Some(entity);
    crate::accumulator::dispatch::emit_if_enabled(crate::events::Event::Subscribe {
        subscription: ctl.id,
        entity,
    });
    let task = Task { ctl: ctl.clone(), seen: 0, pipeline: Some(pipeline), handler: Some(handler) };
    let join = runtime.spawn(task);
    *lock(&ctl.abort) = Some(join.abort_handle());
    // Stopped while spawning (a racing `unsubscribe`): the task must not outlive it.
    if ctl.is_stopped() {
        join.abort();
    }
    handle
}

/// The living task of a `spawn(…)`.
struct SpawnNode {
    runtime: Handle,
    task: Mutex<Option<AbortHandle>>,
    stopped: AtomicBool,
}

type Spawned = Pin<Box<dyn Future<Output = ()> + Send>>;

impl Node for SpawnNode {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn adopt(&self, follower: &dyn Node) -> bool {
        let Some(staged) = staged::<Self, Spawned>(follower) else { return false };
        if let Some(future) = staged {
            let mut task = lock(&self.task);
            if let Some(old) = task.take() {
                old.abort();
            }
            if !self.stopped.load(Ordering::Acquire) {
                *task = Some(self.runtime.spawn(future).abort_handle());
            }
        }
        true
    }
    fn dispose(&self) {
        self.stopped.store(true, Ordering::Release);
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Spawns `future` on the tokio runtime; the fallback entity for work that
/// is not a stream (DESIGN §7). A re-execution of the track aborts the old
/// task and spawns the new future (at its module's commit); disposal of the
/// track aborts it. Prefer [`subscribe`], which keeps state.
///
/// # Panics
/// On a first execution outside a tokio runtime.
pub fn spawn<F>(future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let builder = Builder::new();
    let shape = Shape::new("spawn", &[]);
    let name = builder.chain("spawn(future)");
    if let Some(target) = builder.living::<SpawnNode>("spawn", &shape) {
        let follower = Follower::new(target, Box::pin(future) as Spawned);
        builder.finish(EntityKind::Constructor, "spawn", name, shape, Arc::new(follower));
        return;
    }
    let runtime = Handle::try_current().unwrap_or_else(|_| {
        panic!(
            "hmr_runtime::spawn was first called outside a tokio runtime: \
             call it inside one; re-executions may run anywhere"
        )
    });
    let task = runtime.spawn(future).abort_handle();
    let node = SpawnNode { runtime, task: Mutex::new(Some(task)), stopped: AtomicBool::new(false) };
    builder.finish(EntityKind::Constructor, "spawn", name, shape, Arc::new(node));
}
