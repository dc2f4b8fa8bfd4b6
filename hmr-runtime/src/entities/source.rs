//! `Source<T>`: a stable, switchable stream. `source(stream)` builds one,
//! `input(deps, make)` one that stays connected across edits; a tracked
//! function's returned stream is wrapped in one; receivers of this crate's
//! channels are handles on one.

use std::any::{Any, type_name};
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_core::Stream;

use super::builder::{Builder, PartSpec};
use crate::events::{EntityKind, Name};
use crate::living::commit::{Boundary, Commit, Mail, Mailbox};
use crate::living::graph::{Arg, Follower, Node, Op, Shape, Ty, lock, staged};
use crate::living::sync;

pub(crate) type Inner<T> = Pin<Box<dyn Stream<Item = T> + Send>>;

/// The shared half of a switchable stream: what its handles share.
pub(crate) struct Switch<T> {
    /// Inner streams commits switch to, and the close of a disposal. Only
    /// the receiving handle reads it.
    mail: sync::Arc<Mailbox<Inner<T>>>,
    state: sync::Mutex<State<T>>,
    /// Its inner stream may hold parts that read commits (hot operators, a
    /// returned chain): a poll from outside any item boundary opens one, so
    /// that they all read the same epoch. An input's, a receiver's, a plain
    /// stream's inner has none, and saves the boundary's cost.
    bounded: bool,
}

struct State<T> {
    /// The inner stream no handle holds: one a dropped receiving handle
    /// handed back for a waiting handle to take.
    spare: Option<Inner<T>>,
    /// A handle holds the inner stream (is the receiver).
    received: bool,
    /// Handles alive. With none left the inner stream is dropped at once.
    handles: usize,
    /// Handles waiting to become the receiver.
    waiting: Vec<Waker>,
    /// What became of the inner stream.
    feed: Feed,
}

/// What became of a switch's inner stream.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Feed {
    /// It flows (or waits for its next item).
    Flowing,
    /// The receiving handle saw it end, and no switch came since.
    Ended,
    /// The last handle went away and took it down.
    TornDown,
    /// The track is gone: the stream ends.
    Disposed,
}

impl<T: 'static> Switch<T> {
    fn new(bounded: bool) -> Switch<T> {
        Switch {
            bounded,
            mail: sync::Arc::new(Mailbox::new(None)),
            state: sync::Mutex::new(State {
                spare: None,
                received: false,
                handles: 0,
                waiting: Vec::new(),
                feed: Feed::Flowing,
            }),
        }
    }

    /// Stages `inner` for the receiver: it drops the one it has and reads
    /// the new one from the first item of the commit's epoch on.
    pub(crate) fn stage(&self, commit: &mut Commit, inner: Inner<T>) {
        {
            let mut state = sync::lock(&self.state);
            if state.feed == Feed::Disposed || state.handles == 0 {
                // Nobody would consume it: it stays down.
                if state.feed != Feed::Disposed {
                    state.feed = Feed::TornDown;
                }
                drop(state);
                commit.discard(inner);
                return;
            }
            state.feed = Feed::Flowing;
            // Staged under the lock: the last handle's drop either comes
            // first (and the inner is discarded above) or finds it in the
            // mailbox when it tears down.
            commit.stage(&self.mail, inner);
        }
        // The receiver reads it once published. (A handle waits only while
        // another receives; that one's drop wakes it.)
    }

    /// Whether its inner stream ended (a finite feed, a closed connection).
    fn is_ended(&self) -> bool {
        sync::lock(&self.state).feed == Feed::Ended
    }

    /// Whether no inner stream is alive (every handle was dropped).
    pub(crate) fn is_torn(&self) -> bool {
        sync::lock(&self.state).feed == Feed::TornDown
    }

    pub(crate) fn dispose(&self) {
        let (spare, waiting) = {
            let mut state = sync::lock(&self.state);
            state.feed = Feed::Disposed;
            (state.spare.take(), std::mem::take(&mut state.waiting))
        };
        self.mail.close();
        drop(spare);
        waiting.into_iter().for_each(Waker::wake);
    }

    /// A handle's start.
    fn handle(switch: sync::Arc<Switch<T>>, inner: Option<Inner<T>>) -> Source<T> {
        {
            let mut state = sync::lock(&switch.state);
            state.handles += 1;
            if inner.is_some() {
                state.received = true;
            }
        }
        Source {
            receiver: inner.is_some(),
            inner,
            seen: 0,
            done: false,
            bounded: switch.bounded,
            mail: switch.mail.clone(),
            switch,
        }
    }
}

/// What a waiting handle found.
enum Take {
    /// Another handle receives.
    Wait,
    /// This one receives now.
    Receive,
    /// The track was disposed: the stream is over.
    Ended,
}

/// What the receiving handle found in the switch's mailbox.
enum Checked {
    /// No switch.
    Same,
    /// A switch: the inner stream is the new one (or none).
    Switched,
    /// A switch was published after this item began.
    Later,
    /// The track was disposed.
    Closed,
}

/// A stable, switchable stream (docs/design.md §5.6, §7.4).
///
/// Built by [`source`] and [`input`], by `#[hmr_track]` around a returned
/// stream, and behind the receivers of this crate's channels. A committed
/// re-execution of the track that built it *switches* its inner stream: the
/// old inner is dropped (never ended into the consumer), and the first item
/// of the commit's epoch comes from the new one (a consumer parked on the old
/// one is woken). Polling costs one atomic load and a compare on top of the
/// inner stream, no lock; a source over hot operators of its own scope (or a
/// returned chain) polled outside a subscription also opens the per-item
/// boundary that keeps its parts on one version (a thread-local read and two
/// writes).
///
/// Handles handed out by re-executions of the same track share the living
/// stream: the handle that holds the inner stream (the first one) receives;
/// the others stay pending until it is dropped, then the next one polled
/// takes over where it left off. When the last handle is dropped the inner
/// stream is dropped too (the upstream is torn down). The stream ends when
/// its inner stream ends, or when its track is disposed (an orphan).
#[must_use = "streams do nothing unless polled"]
pub struct Source<T> {
    switch: sync::Arc<Switch<T>>,
    /// Whether this handle receives (holds the inner stream).
    receiver: bool,
    inner: Option<Inner<T>>,
    /// The version of the switch's mailbox this handle last read.
    seen: u64,
    /// The track was disposed: the stream is over for good.
    done: bool,
    /// The switch's, copied here: the fast path reads them with no detour.
    bounded: bool,
    mail: sync::Arc<Mailbox<Inner<T>>>,
}

impl<T> fmt::Debug for Source<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("item", &type_name::<T>())
            .field("receiver", &self.receiver)
            .finish_non_exhaustive()
    }
}

impl<T> Unpin for Source<T> {}

impl<T: 'static> Source<T> {
    /// The first handle of a new switch: it receives from `inner`.
    /// `bounded`: see [`Switch::bounded`].
    pub(crate) fn first(inner: Inner<T>, bounded: bool) -> (Source<T>, sync::Arc<Switch<T>>) {
        let switch = sync::Arc::new(Switch::new(bounded));
        (Switch::handle(switch.clone(), Some(inner)), switch)
    }

    /// A handle that receives once no other handle does.
    pub(crate) fn waiting(switch: sync::Arc<Switch<T>>) -> Source<T> {
        Switch::handle(switch, None)
    }

    /// A waiting handle becomes the receiver if nobody holds the stream.
    #[cold]
    fn try_receive(&mut self, cx: &Context<'_>) -> Take {
        let mut state = sync::lock(&self.switch.state);
        if state.feed == Feed::Disposed {
            return Take::Ended;
        }
        if state.received {
            if !state.waiting.iter().any(|w| w.will_wake(cx.waker())) {
                state.waiting.push(cx.waker().clone());
            }
            return Take::Wait;
        }
        state.received = true;
        self.receiver = true;
        self.inner = state.spare.take();
        // Reads every letter visible now: a switch newer than the spare wins.
        self.seen = 0;
        Take::Receive
    }

    /// Reads the mailbox.
    #[cold]
    #[inline(never)]
    fn check(&mut self) -> Checked {
        match self.mail.take(&mut self.seen) {
            Mail::Nothing => Checked::Same,
            Mail::Later => Checked::Later,
            // The old inner is dropped here: exactly one stays alive.
            Mail::Letters(mut letters) => {
                self.inner = letters.pop();
                Checked::Switched
            }
            Mail::Closed => {
                self.inner = None;
                self.done = true;
                Boundary::note_input_disposed();
                Checked::Closed
            }
        }
    }
}

impl<T: 'static> Stream for Source<T> {
    type Item = T;

    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if self.bounded {
            // Every part upstream reads the same epoch for this item.
            let _boundary = Boundary::enter();
            self.poll_item(cx)
        } else {
            self.poll_item(cx)
        }
    }
}

impl<T: 'static> Source<T> {
    #[inline]
    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // The fast path: this handle receives, no switch since the last
        // poll, and the inner stream has an item.
        if self.receiver
            && self.mail.unchanged(self.seen)
            && let Some(inner) = self.inner.as_mut()
        {
            return match inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => Poll::Ready(Some(item)),
                Poll::Ready(None) => self.ended(cx),
                Poll::Pending => self.park(cx),
            };
        }
        self.poll_slow(cx)
    }
}

impl<T: 'static> Source<T> {
    /// The inner stream is pending (or there is none): be woken by a switch.
    /// A switch between the poll and the registration must not be missed.
    #[inline(never)]
    fn park(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.mail.register(cx.waker());
        match self.check() {
            Checked::Same => Poll::Pending,
            Checked::Switched => self.poll_slow(cx),
            Checked::Closed => Poll::Ready(None),
            Checked::Later => {
                // Published after this item began: poll again in a new one.
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    /// The inner stream ended: the stream ends, unless a switch came in.
    /// The ended inner stream is not polled again; a later switch resumes.
    #[inline(never)]
    fn ended(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.inner = None;
        self.mail.register(cx.waker());
        match self.check() {
            Checked::Same => {
                // An input over it is made again by its next re-execution.
                let mut state = sync::lock(&self.switch.state);
                if state.feed == Feed::Flowing {
                    state.feed = Feed::Ended;
                }
                Poll::Ready(None)
            }
            Checked::Closed => Poll::Ready(None),
            Checked::Switched => self.poll_slow(cx),
            Checked::Later => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    /// Everything but the fast path: becoming the receiver, taking a
    /// switched-in inner stream, waiting for one.
    #[inline(never)]
    fn poll_slow(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if self.done {
            return Poll::Ready(None);
        }
        if !self.receiver {
            match self.try_receive(cx) {
                Take::Wait => return Poll::Pending,
                Take::Ended => {
                    self.done = true;
                    Boundary::note_input_disposed();
                    return Poll::Ready(None);
                }
                Take::Receive => {}
            }
        }
        if let Checked::Closed = self.check() {
            return Poll::Ready(None);
        }
        let Some(inner) = self.inner.as_mut() else {
            // Ended, or switched to nothing yet: wait for a switch.
            return self.park(cx);
        };
        match inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(item)) => Poll::Ready(Some(item)),
            Poll::Ready(None) => self.ended(cx),
            Poll::Pending => self.park(cx),
        }
    }
}

impl<T> Drop for Source<T> {
    fn drop(&mut self) {
        let (spare, waiting, teardown) = {
            let mut state = sync::lock(&self.switch.state);
            state.handles -= 1;
            if self.receiver {
                state.received = false;
                if state.handles > 0 && state.feed != Feed::Disposed {
                    // Hand the inner stream back, for a waiting handle.
                    state.spare = self.inner.take();
                }
            }
            let teardown = state.handles == 0;
            let spare = if teardown {
                // Nobody left to consume it: the upstream goes down now.
                if state.feed != Feed::Disposed {
                    state.feed = Feed::TornDown;
                }
                state.spare.take()
            } else {
                None
            };
            (spare, std::mem::take(&mut state.waiting), teardown)
        };
        let unread = if teardown { self.mail.take_all() } else { Vec::new() };
        drop((self.inner.take(), spare, unread));
        waiting.into_iter().for_each(Waker::wake);
    }
}

/// Makes `stream` a stable, switchable [`Source`] (docs/design.md §5.6).
///
/// Inside a tracked function, a re-execution that builds a source of the
/// same item type again hands back a handle on the *living* source and, at
/// its module's commit, switches the living source to the new inner stream:
/// its consumer receives from the new stream with no end in between, and
/// the old inner stream is dropped. The handle handed back stays pending
/// while the first one is alive. To keep an input connected across edits
/// (not rebuilt by every re-execution), use [`input`].
///
/// ```
/// use futures::{StreamExt, stream};
/// use hmr_runtime::source;
///
/// let items: Vec<u32> = futures::executor::block_on(source(stream::iter([1, 2, 3])).collect());
/// assert_eq!(items, [1, 2, 3]);
/// ```
pub fn source<S>(stream: S) -> Source<S::Item>
where
    S: Stream + Send + 'static,
    S::Item: 'static,
{
    switchable(Builder::new(), Op::Source, Op::Source.shared_name(), Box::pin(stream), true)
}

/// An input that stays connected across edits: `make` builds its stream
/// only when the track's input is first built, when `deps` differs (by
/// `PartialEq`) from the living input's, on `#[hmr_track(reset)]`, after the
/// input was torn down (every handle dropped), or after its stream ended (a
/// finite feed, a closed connection: the next version reconnects). Otherwise `make` is not
/// called and the living stream goes on: an interval keeps its count, a
/// generator does not replay, a connection is not reopened (docs/design.md §5.6).
///
/// When `make` runs again, the living [`Source`] switches to the new stream
/// at the module's commit, like [`source`]. Use `source(stream)` for a
/// stream that each version of the code should build anew; use `input` for
/// one whose identity is its `deps` (a URL, a symbol, a port).
///
/// ```
/// use futures::{StreamExt, stream};
/// use hmr_runtime::{hmr_track, input, module, Source};
///
/// #[hmr_track(key = "docs::feed")]
/// fn feed(url: &'static str) -> Source<u32> {
///     input(url, || {
///         println!("connecting to {url}");
///         stream::iter([1, 2, 3])
///     })
/// }
///
/// let first = module("docs-input", || feed("tcp://a")).unwrap();
/// // The same deps: no reconnect, the living input goes on.
/// let _same = module("docs-input", || feed("tcp://a")).unwrap();
/// let items: Vec<u32> = futures::executor::block_on(first.collect());
/// assert_eq!(items, [1, 2, 3]);
/// ```
pub fn input<D, S, F>(deps: D, make: F) -> Source<S::Item>
where
    D: PartialEq + Send + 'static,
    S: Stream + Send + 'static,
    S::Item: 'static,
    F: FnOnce() -> S,
{
    let builder = Builder::new().streams(type_name::<Source<S::Item>>());
    let shape = Shape::new(Op::Input, &[Ty::of::<S::Item>()]);
    let part = PartSpec {
        op: Op::Input,
        kind: Some(EntityKind::Factory),
        name: Op::Input.shared_name(),
        shape,
    };
    let (handle, _) = builder.reuse_or_build(part, |builder, living| {
        if let Some(living) = living {
            let living: Arc<SwitchNode<S::Item>> = living;
            // The handle first: with it counted, the input cannot be torn
            // down after the check below.
            let handle = Source::waiting(living.switch.clone());
            let keep = !builder.is_reset()
                && !living.switch.is_torn()
                && !living.switch.is_ended()
                && lock(&living.deps).as_ref().is_some_and(|d| d.same(&deps));
            let staged = if keep {
                Staged { inner: None, deps: None, switch_on_update: false }
            } else {
                let inner: Inner<S::Item> = Box::pin(make());
                Staged { inner: Some(inner), deps: Some(Box::new(deps)), switch_on_update: true }
            };
            (handle, Arc::new(Follower::new(living, staged)) as Arc<dyn Node>)
        } else {
            let (handle, switch) = Source::first(Box::pin(make()), false);
            let deps = std::sync::Mutex::new(Some(Box::new(deps) as Box<dyn Arg>));
            (handle, Arc::new(SwitchNode { switch, deps }))
        }
    });
    handle
}

/// Wraps a stream a tracked function returns into a stable [`Source`]: the
/// first handle receives from the newest version (docs/design.md §5.6).
pub(crate) fn stable<S>(stream: S) -> Source<S::Item>
where
    S: Stream + Send + 'static,
    S::Item: 'static,
{
    let builder = Builder::new();
    if !builder.no_stream_parts() {
        // Plain code at the end of the returned chain: rebuilt, not swapped.
        builder.plain_code_before(type_name::<S>());
    }
    let name = builder.previous_name().unwrap_or_else(|| Op::Stream.shared_name());
    switchable(builder, Op::Stream, name, Box::pin(stream), true)
}

fn switchable<T: 'static>(
    builder: Builder,
    op: Op,
    name: Name,
    inner: Inner<T>,
    capture: bool,
) -> Source<T> {
    let shape = Shape::new(op, &[Ty::of::<T>()]);
    let kind = if op == Op::Source { EntityKind::Factory } else { EntityKind::Pipe };
    let part = PartSpec { op, kind: capture.then_some(kind), name, shape };
    let builder = builder.streams(type_name::<Source<T>>());
    let (handle, _) = builder.reuse_or_build(part, |builder, living| {
        if let Some(target) = living {
            let target: Arc<SwitchNode<T>> = target;
            let switch = target.switch.clone();
            // A source switches to its new inner stream on every
            // re-execution. A returned stream keeps its living pipeline on
            // an update in place (the pipeline's parts took the new
            // closures), unless the scope built no stream part: a plain
            // pipeline has nothing to swap into.
            let switch_on_update = op == Op::Source || builder.no_stream_parts();
            let staged = Staged { inner: Some(inner), deps: None, switch_on_update };
            (Source::waiting(switch), Arc::new(Follower::new(target, staged)) as Arc<dyn Node>)
        } else {
            // A returned stream, or a source over parts built before it in
            // its scope.
            let bounded = op == Op::Stream || !builder.no_stream_parts();
            let (handle, switch) = Source::first(inner, bounded);
            (handle, Arc::new(SwitchNode { switch, deps: std::sync::Mutex::new(None) }))
        }
    });
    handle
}

/// The living switch of a `source(…)`, an `input(…)` or a returned stream.
pub(crate) struct SwitchNode<T> {
    pub(crate) switch: sync::Arc<Switch<T>>,
    /// An input's deps.
    deps: std::sync::Mutex<Option<Box<dyn Arg>>>,
}

/// What a re-execution records for a living switch it only hands back (a
/// channel's receiver): nothing to stage.
pub(crate) fn keep_living<T: 'static>(living: Arc<SwitchNode<T>>) -> Arc<dyn Node> {
    Arc::new(Follower::new(
        living,
        Staged::<T> { inner: None, deps: None, switch_on_update: false },
    ))
}

impl<T: 'static> SwitchNode<T> {
    pub(crate) fn new(switch: sync::Arc<Switch<T>>) -> SwitchNode<T> {
        SwitchNode { switch, deps: std::sync::Mutex::new(None) }
    }
}

/// What a re-execution's source, input or returned stream stages.
struct Staged<T> {
    /// The new inner stream (an input whose deps are unchanged has none).
    inner: Option<Inner<T>>,
    /// An input's new deps.
    deps: Option<Box<dyn Arg>>,
    switch_on_update: bool,
}

impl<T: 'static> SwitchNode<T> {
    fn take(&self, staged: Staged<T>, switch: bool, commit: &mut Commit) {
        let Staged { inner, deps, switch_on_update } = staged;
        if let Some(deps) = deps {
            let old = lock(&self.deps).replace(deps);
            commit.discard(old);
        }
        let Some(inner) = inner else { return };
        if switch || switch_on_update || self.switch.is_torn() {
            self.switch.stage(commit, inner);
        } else {
            commit.discard(inner);
        }
    }
}

impl<T: 'static> Node for SwitchNode<T> {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn adopt(&self, follower: &dyn Node, commit: &mut Commit) -> bool {
        let Some(staged) = staged::<Self, Staged<T>>(follower) else { return false };
        if let Some(staged) = staged {
            self.take(staged, false, commit);
        }
        true
    }
    fn relink(&self, follower: &dyn Node, commit: &mut Commit) {
        if let Some(Some(staged)) = staged::<Self, Staged<T>>(follower) {
            self.take(staged, true, commit);
        }
    }
    fn dispose(&self) {
        self.switch.dispose();
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `alloc::string::String` → `String`, `core::option::Option<u32>` → `Option<u32>`.
pub(crate) fn short_type_name<T: ?Sized>() -> String {
    let full = type_name::<T>();
    let mut out = String::with_capacity(full.len());
    let mut segment = String::new();
    for c in full.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            segment.push(c);
        } else {
            out.push_str(segment.rsplit("::").next().unwrap_or(&segment));
            segment.clear();
            out.push(c);
        }
    }
    out.push_str(segment.rsplit("::").next().unwrap_or(&segment));
    out
}

/// How `#[hmr_track]` makes a returned stream stable, picked by method
/// resolution on `(&&&Returned::new(value)).__hmr_returned()`: a [`Source`]
/// is already stable and passes; a `Send + 'static` stream is wrapped by
/// [`stable`]; anything else passes unchanged.
#[doc(hidden)]
pub struct Returned<S>(std::cell::Cell<Option<S>>);

impl<S> Returned<S> {
    #[doc(hidden)]
    pub fn new(value: S) -> Returned<S> {
        Returned(std::cell::Cell::new(Some(value)))
    }

    fn take(&self) -> S {
        self.0.take().expect("a returned value is taken once")
    }
}

#[doc(hidden)]
pub trait ReturnedSource {
    type Out;
    fn __hmr_returned(&self) -> Self::Out;
}

impl<T: 'static> ReturnedSource for &&Returned<Source<T>> {
    type Out = Source<T>;
    fn __hmr_returned(&self) -> Source<T> {
        returned_source(self.take())
    }
}

/// A `Source` a tracked fn returns is stable already, but the track still
/// needs a connection of its own: a later version may return a chain built
/// on it (or the reverse), and the first holder must follow. Inside a
/// module it is wrapped in one, recorded without an event.
fn returned_source<T: 'static>(source: Source<T>) -> Source<T> {
    let builder = Builder::new();
    if !builder.in_module() {
        return source;
    }
    let name = builder.previous_name().unwrap_or_else(|| Op::Stream.shared_name());
    switchable(builder, Op::Stream, name, Box::pin(source), false)
}

#[doc(hidden)]
pub trait ReturnedStream {
    type Out;
    fn __hmr_returned(&self) -> Self::Out;
}

impl<S> ReturnedStream for &Returned<S>
where
    S: Stream + Send + 'static,
    S::Item: 'static,
{
    type Out = Source<S::Item>;
    fn __hmr_returned(&self) -> Source<S::Item> {
        stable(self.take())
    }
}

#[doc(hidden)]
pub trait ReturnedOther {
    type Out;
    fn __hmr_returned(&self) -> Self::Out;
}

impl<S> ReturnedOther for Returned<S> {
    type Out = S;
    fn __hmr_returned(&self) -> S {
        self.take()
    }
}

#[cfg(all(test, loom))]
mod loom_tests;

#[cfg(test)]
mod tests {
    #[test]
    fn the_builder_knows_source_as_a_stable_stream() {
        let name = std::any::type_name::<super::Source<u8>>();
        let path = crate::entities::builder::STABLE[0];
        assert!(name.strip_prefix(path).is_some_and(|rest| rest.starts_with('<')), "{name}");
    }
}
