//! `subscribe`: one living tokio task per track path; `spawn`: the fallback.

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::runtime::Handle;
use tokio::task::AbortHandle;

use crate::accumulator::stack::ItemScope;

use super::builder::{Builder, PartSpec};
use crate::events::{EntityId, EntityKind, Event, SubscriptionId, TrackId};
use crate::living::commit::{Boundary, Commit, Letter, Mail, Mailbox};
use crate::living::graph::{Follower, Node, Op, Shape, Ty, lock, staged};
use crate::living::sync;

type Pipeline<T> = Pin<Box<dyn Stream<Item = T> + Send>>;
type Handler<T> = Box<dyn FnMut(T) + Send>;

/// Items a task handles before it lets other tasks run.
const BUDGET: u32 = 128;

static NEXT_SUBSCRIPTION: AtomicU64 = AtomicU64::new(1);

/// `Ctl::state`: stopped (for good).
const STOPPED: u8 = 1;
/// `Ctl::state`: the task is calling the handler.
const CALLING: u8 = 2;

std::thread_local! {
    /// This thread runs a subscription's handler: `unsubscribe` from inside
    /// one does not wait for handler calls to end (it would wait for itself,
    /// or for a handler waiting for it).
    static IN_HANDLER: Cell<bool> = const { Cell::new(false) };
}

/// What reaches a running subscription task from outside.
struct Ctl<T> {
    id: SubscriptionId,
    entity: Mutex<Option<EntityId>>,
    /// The track that built it: named when its code panics, and the scope
    /// its handler runs in.
    track: Option<TrackId>,
    /// That track runs inside a module.
    in_module: bool,
    /// New pipelines and handlers, read at item boundaries; closed by a stop.
    mail: sync::Arc<Mailbox<Next<T>>>,
    /// [`STOPPED`] and [`CALLING`].
    state: AtomicU8,
    /// A stop waits here for a handler call in progress to end.
    idle: Mutex<()>,
    idle_changed: Condvar,
    /// Only the track decides when it stops (see [`Subscription::detach`]).
    detached: AtomicBool,
    abort: Mutex<Option<AbortHandle>>,
    /// Its pipeline ended or was dropped: it waits for a rebuild (what a
    /// console shows).
    waiting: AtomicBool,
}

#[cfg(feature = "console")]
impl<T: 'static> super::tap::TaskSource for Ctl<T> {
    fn id(&self) -> u64 {
        self.id.0
    }
    fn track(&self) -> Option<TrackId> {
        self.track
    }
    fn status(&self) -> super::tap::TaskStatus {
        use super::tap::TaskStatus;
        if self.state.load(Ordering::Acquire) & STOPPED != 0 {
            TaskStatus::Stopped
        } else if self.waiting.load(Ordering::Acquire) {
            TaskStatus::Waiting
        } else {
            TaskStatus::Running
        }
    }
}

struct Next<T> {
    pipeline: Option<Pipeline<T>>,
    handler: Option<Handler<T>>,
}

impl<T: 'static> Letter for Next<T> {
    /// A newer letter with only a handler keeps the older one's pipeline.
    fn absorb(&mut self, mut older: Next<T>) -> Next<T> {
        if self.pipeline.is_none() {
            self.pipeline = older.pipeline.take();
        }
        if self.handler.is_none() {
            self.handler = older.handler.take();
        }
        older
    }
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
    /// Stages what a re-execution built for the task's next item boundary.
    fn stage(&self, commit: &mut Commit, next: Next<T>) {
        // Unsubscribed meanwhile: the closed mailbox refuses it.
        commit.stage(&self.mail, next);
    }

    /// Stops the task. `wait`: a handler call in progress on another
    /// thread ends before this returns, so no handler call starts after it.
    fn stop_with(&self, wait: bool) {
        let before = self.state.fetch_or(STOPPED, Ordering::AcqRel);
        if before & STOPPED != 0 {
            return;
        }
        self.mail.close();
        if let Some(abort) = lock(&self.abort).take() {
            abort.abort();
        }
        if let Some(entity) = *lock(&self.entity) {
            crate::accumulator::dispatch::emit_if_enabled(Event::Unsubscribe {
                subscription: self.id,
                entity,
            });
        }
        if wait && before & CALLING != 0 && !IN_HANDLER.with(Cell::get) {
            let mut idle = lock(&self.idle);
            while self.state.load(Ordering::Acquire) & CALLING != 0 {
                idle =
                    self.idle_changed.wait(idle).unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        }
    }

    /// Whether the task may call the handler now; if so it is marked as
    /// calling until [`Ctl::called`].
    #[inline]
    fn calling(&self) -> bool {
        self.state.compare_exchange(0, CALLING, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    #[inline]
    fn called(&self) {
        let before = self.state.fetch_and(!CALLING, Ordering::AcqRel);
        if before & STOPPED != 0 {
            // A stop waits for this call to end.
            let _idle = lock(&self.idle);
            self.idle_changed.notify_all();
        }
    }
}

impl<T: 'static> Stop for Ctl<T> {
    fn stop(&self) {
        self.stop_with(true);
    }
    fn is_stopped(&self) -> bool {
        self.state.load(Ordering::Acquire) & STOPPED != 0
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
/// handler; takes a new handler or pipeline at an item boundary when a
/// re-execution commits one (docs/design.md §7.3).
struct Task<T: 'static> {
    ctl: Arc<Ctl<T>>,
    seen: u64,
    pipeline: Option<Pipeline<T>>,
    handler: Option<Handler<T>>,
}

impl<T: 'static> Unpin for Task<T> {}

impl<T: 'static> Task<T> {
    /// Takes what commits visible at this item's epoch sent; `false` once stopped.
    fn receive(&mut self, later: &mut bool) -> bool {
        match self.ctl.mail.take(&mut self.seen) {
            Mail::Nothing => {}
            Mail::Later => *later = true,
            Mail::Closed => return false,
            Mail::Letters(letters) => {
                for next in letters {
                    if let Some(pipeline) = next.pipeline {
                        // The old pipeline is dropped: its stateful operators
                        // leave their state to their twins in the new one.
                        self.pipeline = Some(pipeline);
                        self.ctl.waiting.store(false, Ordering::Release);
                    }
                    if let Some(handler) = next.handler {
                        self.handler = Some(handler);
                    }
                }
            }
        }
        true
    }

    /// Hands `item` to the handler, unless the subscription was stopped.
    fn handle(&mut self, item: T) -> bool {
        if !self.ctl.calling() {
            return false;
        }
        if let Some(handler) = self.handler.as_mut() {
            IN_HANDLER.with(|h| h.set(true));
            // Tracked calls the handler makes are children of its track.
            let scope = ItemScope::enter(self.ctl.track, self.ctl.in_module);
            let result = catch_unwind(AssertUnwindSafe(|| handler(item)));
            drop(scope);
            IN_HANDLER.with(|h| h.set(false));
            self.ctl.called();
            if let Err(payload) = result {
                runtime_panic(self.ctl.track, "the handler", self.ctl.id, &*payload);
            }
        } else {
            self.ctl.called();
        }
        true
    }
}

impl<T: 'static> Future for Task<T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        this.ctl.mail.register(cx.waker());
        let mut budget = BUDGET;
        loop {
            // One epoch for this item: every part of the pipeline and the
            // handler read what was published when it began.
            let _boundary = Boundary::enter();
            let mut later = false;
            if !this.receive(&mut later) {
                return Poll::Ready(());
            }
            // An ended pipeline waits for a rebuild to give it a new one.
            let Some(pipeline) = this.pipeline.as_mut() else {
                if later {
                    cx.waker().wake_by_ref();
                }
                return Poll::Pending;
            };
            let _ = Boundary::take_input_disposed();
            // A hot closure that panics loses its item, not the task: the
            // fixed closure a reload swaps in must find the task alive.
            // The item is handled in the subscription's track's scope: its
            // operators built there need not enter it again.
            let _scope = ItemScope::enter(this.ctl.track, this.ctl.in_module);
            let polled = catch_unwind(AssertUnwindSafe(|| pipeline.as_mut().poll_next(cx)));
            let polled = match polled {
                Ok(polled) => polled,
                Err(payload) => {
                    let Some(track) = super::hot::panicked_in(&*payload) else {
                        // Not a hot closure (a plain adapter, the input): the
                        // pipeline's state is unknown, polling it again would
                        // panic again. It is dropped; a rebuild gives another.
                        this.pipeline = None;
                        this.ctl.waiting.store(true, Ordering::Release);
                        runtime_panic(
                            this.ctl.track,
                            "the pipeline (outside any hot closure; \
                            dropped until a reload rebuilds it)",
                            this.ctl.id,
                            &*payload,
                        );
                        return Poll::Pending;
                    };
                    let track = track.or(this.ctl.track);
                    runtime_panic(track, "a hot closure", this.ctl.id, &*payload);
                    // Let other tasks run before the pipeline is polled again.
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            };
            match polled {
                Poll::Ready(Some(item)) => {
                    if !this.handle(item) {
                        return Poll::Ready(());
                    }
                    budget -= 1;
                    if budget == 0 {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
                Poll::Ready(None) => {
                    this.pipeline = None;
                    this.ctl.waiting.store(true, Ordering::Release);
                    // Its input's track is gone: no rebuild can come, unless
                    // one is staged already (the input was replaced by a
                    // rebuild whose commit this item began before).
                    if Boundary::take_input_disposed()
                        && !this.ctl.mail.any(|next| next.pipeline.is_some())
                    {
                        this.ctl.stop_with(false);
                        return Poll::Ready(());
                    }
                }
                Poll::Pending => {
                    if later {
                        cx.waker().wake_by_ref();
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<T: 'static> Drop for Task<T> {
    fn drop(&mut self) {
        // Dropped without a stop: its runtime shut down. The subscription is
        // over; a re-execution in a live runtime starts it again.
        if !self.ctl.is_stopped() {
            self.ctl.stop_with(false);
        }
    }
}

/// A run-time panic in a living graph: a `reload-error` naming the module,
/// the track's path and the panic's message.
#[cold]
fn runtime_panic(
    track: Option<TrackId>,
    what: &str,
    id: SubscriptionId,
    payload: &(dyn Any + Send),
) {
    if !cfg!(feature = "enabled") {
        return;
    }
    let (module, path) = track
        .and_then(|track| {
            let store = crate::store::store();
            let record = store.tracks.get(&track)?;
            let module = record.module.as_ref().map(|m| m.name.clone()).unwrap_or_default();
            Some((module, Some(record.path.clone())))
        })
        .unwrap_or_default();
    let message = format!(
        "{what} of subscription {} panicked at run time, the item was lost and the subscription \
         goes on (reload a fix): {}",
        id.0,
        crate::support::panic_message(payload)
    );
    crate::accumulator::dispatch::emit(Event::ReloadError { module, message, path });
}

/// A handle to a living subscription (docs/design.md §5.6).
///
/// Handles are shared: a re-execution of the track hands back a handle to
/// the *same* task. The task stops on [`unsubscribe`](Subscription::unsubscribe),
/// when its track is disposed (an orphan), when its input's track is
/// disposed, when its tokio runtime shuts down, or when its last handle is
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
    /// Stops the task now (every handle sees it stopped). When it returns,
    /// no handler call is running or will start: it waits for a handler
    /// call in progress on another thread to end (unless it is called from
    /// inside a handler, which it does not wait for). Dropping the last
    /// handle of a subscription that is not detached does the same.
    pub fn unsubscribe(&self) {
        self.guard.ctl.stop();
    }

    /// Whether the task still runs: it was not stopped, its input's track
    /// was not disposed, and its runtime is alive.
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
    /// new one there when it runs outside any runtime.
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
    fn adopt(&self, follower: &dyn Node, commit: &mut Commit) -> bool {
        // Same shape: the living pipeline took the new closures; the new
        // pipeline is dropped unpolled, the handler swapped. A plain
        // pipeline has nothing to swap into: it is taken over.
        let Some(staged) = staged::<Self, SubStaged<T>>(follower) else { return false };
        if let Some(SubStaged { next, plain }) = staged {
            if plain {
                self.ctl.stage(commit, next);
            } else {
                commit.discard(next.pipeline);
                self.ctl.stage(commit, Next { pipeline: None, handler: next.handler });
            }
        }
        true
    }
    fn relink(&self, follower: &dyn Node, commit: &mut Commit) {
        if let Some(Some(SubStaged { next, .. })) = staged::<Self, SubStaged<T>>(follower) {
            self.ctl.stage(commit, next);
        }
    }
    fn dispose(&self) {
        // A reload must not wait for a handler (which may wait for the
        // reload: a handler that runs a module).
        self.ctl.stop_with(false);
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Runs `stream` on a tokio task, calling `handler` with each item
/// (docs/design.md §5.6, §7.3).
///
/// Inside a tracked function, a re-execution reaches the *same* task: the
/// pipeline it built is dropped unpolled (its closures were swapped into the
/// living pipeline) and the new handler is swapped in, so the next item goes
/// through the new code with every operator's state kept. A pipeline with no
/// stream part built in the same scope (a plain stream such as a channel's
/// receiver, or a stable stream another tracked fn returned) has nothing to
/// swap into: the task takes the new one. If the pipeline's
/// shape changed, the task takes the new pipeline instead and never sees an
/// end in between; each stateful operator in it whose own definition (kind,
/// state type, seed) is unchanged keeps the living one's state (a
/// `hot_scan`'s accumulator, a `hot_then` item in flight), matched by
/// position among the operators of its kind. A handler that panics
/// loses that item; the subscription goes on and a `reload-error` is emitted.
///
/// A commit reaches the task between two items: an item the pipeline yields
/// within one poll goes through one version's code from its input to the
/// handler. An item that waits inside an async stage (`hot_then`, a plain
/// buffering adapter) across a commit finishes that stage in the version
/// that started it and goes on downstream in the newer one.
///
/// A pipeline that ends leaves the task waiting for a rebuild, unless it
/// ended because its input's track was disposed: then the subscription
/// stops. A subscription whose tokio runtime shut down is stopped too; a
/// re-execution inside a live runtime starts it again there (`structural`).
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
    let shape = Shape::new(Op::Subscribe, &[Ty::of::<S::Item>()]);
    let name = match builder.previous_name() {
        Some(prev) => format!("subscribe({prev})"),
        None => "subscribe(stream)".to_owned(),
    };
    let input = builder.consumed_entity();
    if !builder.no_stream_parts() {
        // Plain code at the end of the chain: rebuilt, not swapped.
        builder.plain_code_before(std::any::type_name::<S>());
    }
    let part = PartSpec {
        op: Op::Subscribe,
        kind: Some(EntityKind::Constructor),
        name: name.into(),
        shape,
    };
    let (made, entity) = builder.reuse_or_build(part, |builder, living| {
        let living: Option<Arc<SubNode<S::Item>>> = living;
        let stopped_runtime = living.as_ref().map(|node| node.runtime.clone());
        if let Some(target) = living.filter(|node| !node.ctl.is_stopped()) {
            let handle = target.handle();
            let staged = SubStaged {
                next: Next { pipeline: Some(pipeline), handler: Some(handler) },
                plain: builder.no_stream_parts(),
            };
            return (Err(handle), Arc::new(Follower::new(target, staged)) as Arc<dyn Node>);
        }
        if stopped_runtime.is_some() {
            // Its task is gone (unsubscribed, its input disposed, its
            // runtime shut down): a new subscription starts, and the track
            // says so.
            builder.diverge();
        }
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
            track: builder.track(),
            in_module: builder.in_module(),
            mail: sync::Arc::new(Mailbox::new(None)),
            state: AtomicU8::new(0),
            idle: Mutex::new(()),
            idle_changed: Condvar::new(),
            detached: AtomicBool::new(false),
            abort: Mutex::new(None),
            waiting: AtomicBool::new(false),
        });
        #[cfg(feature = "console")]
        super::tap::task(&ctl);
        let node = Arc::new(SubNode {
            ctl: ctl.clone(),
            handles: Mutex::new(Weak::new()),
            runtime: runtime.clone(),
        });
        let handle = node.handle();
        (Ok((handle, ctl, runtime, pipeline, handler)), node)
    });
    // A living subscription took the new pipeline: nothing starts.
    let (handle, ctl, runtime, pipeline, handler) = match made {
        Ok(new) => new,
        Err(living) => return living,
    };
    *lock(&ctl.entity) = Some(entity);
    crate::accumulator::dispatch::emit_if_enabled(Event::Subscribe {
        subscription: ctl.id,
        entity,
        input,
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

/// [`subscribe`] with an async handler: the future `handler` returns for an
/// item runs to its end before the next item is handled (one at a time).
///
/// The handler is hot like a `hot_then` closure: a re-execution swaps it in
/// place, and an item whose future is running when a version commits
/// finishes in the version that started it. (It is a `hot_then` in front of
/// the subscription, and shows as one in the entity's name.)
///
/// ```
/// use futures::stream;
/// use hmr_runtime::subscribe_async;
/// use std::sync::{Arc, Mutex};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// let subscription = subscribe_async(stream::iter([1, 2, 3]), move |x| {
///     let sink = sink.clone();
///     async move {
///         tokio::task::yield_now().await; // say, a write to a database
///         sink.lock().unwrap().push(x);
///     }
/// });
/// while seen.lock().unwrap().len() < 3 {
///     tokio::task::yield_now().await;
/// }
/// assert_eq!(*seen.lock().unwrap(), [1, 2, 3]);
/// subscription.unsubscribe();
/// # });
/// ```
///
/// # Panics
/// As [`subscribe`].
pub fn subscribe_async<S, F, Fut>(stream: S, handler: F) -> Subscription
where
    S: Stream + Send + 'static,
    S::Item: 'static,
    F: FnMut(S::Item) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    use super::ext::HmrStreamExt;
    subscribe(stream.hot_then(handler), |()| {})
}

pin_project_lite::pin_project! {
    /// A spawned future, polled in the scope it was spawned from (a per-item
    /// scope of that track, as a subscription's handler is): the tracked
    /// calls and futures of the task are the track's children.
    struct InScope<F> {
        track: Option<TrackId>,
        in_module: bool,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for InScope<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _scope = ItemScope::enter(*this.track, *this.in_module);
        this.future.poll(cx)
    }
}

/// The living task of a `spawn(…)`.
struct SpawnNode {
    runtime: Handle,
    task: Mutex<Option<AbortHandle>>,
    stopped: AtomicBool,
}

type Spawned = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What a re-execution's `spawn` stages: the new future, and the runtime
/// the re-execution ran in.
struct Respawn {
    future: Spawned,
    runtime: Option<Handle>,
}

impl Node for SpawnNode {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn adopt(&self, follower: &dyn Node, commit: &mut Commit) -> bool {
        let Some(staged) = staged::<Self, Respawn>(follower) else { return false };
        if let Some(Respawn { future, runtime }) = staged {
            let mut task = lock(&self.task);
            if let Some(old) = task.take() {
                old.abort();
            }
            if self.stopped.load(Ordering::Acquire) {
                commit.discard(future);
            } else {
                // The runtime the re-execution ran in, if any: the one the
                // task first ran in may have shut down since.
                let runtime = runtime.as_ref().unwrap_or(&self.runtime);
                *task = Some(runtime.spawn(future).abort_handle());
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
/// is not a stream (docs/design.md §5.6). A re-execution of the track aborts the old
/// task and spawns the new future (at its module's commit); disposal of the
/// track aborts it. Prefer [`subscribe`], which keeps state.
///
/// The task runs in the spawning track's scope, as a subscription's handler
/// does: a tracked function or `async fn` it calls is a child of that track
/// (and is disposed with it).
///
/// # Panics
/// On a first execution outside a tokio runtime.
pub fn spawn<F>(future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let builder = Builder::new();
    let shape = Shape::new(Op::Spawn, &[]);
    let name = builder.chain("spawn(future)");
    // The task runs in the spawning scope: what it calls is that track's.
    let future = InScope { track: builder.track(), in_module: builder.in_module(), future };
    let part = PartSpec { op: Op::Spawn, kind: Some(EntityKind::Constructor), name, shape };
    builder.reuse_or_build(part, |_, living| {
        let living: Option<Arc<SpawnNode>> = living;
        if let Some(target) = living {
            let runtime = Handle::try_current().ok();
            let respawn = Respawn { future: Box::pin(future) as Spawned, runtime };
            return ((), Arc::new(Follower::new(target, respawn)) as Arc<dyn Node>);
        }
        let runtime = Handle::try_current().unwrap_or_else(|_| {
            panic!(
                "hmr_runtime::spawn was first called outside a tokio runtime: \
                 call it inside one; re-executions may run anywhere"
            )
        });
        let task = runtime.spawn(future).abort_handle();
        let stopped = AtomicBool::new(false);
        ((), Arc::new(SpawnNode { runtime, task: Mutex::new(Some(task)), stopped }))
    });
}
