//! `Source<T>`: a stable, switchable stream. `source(stream)` builds one;
//! a tracked function's returned stream is wrapped in one.

use std::any::{Any, type_name};
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_core::Stream;

use super::graph::{Builder, Follower, Node, Shape, Ty, staged};
use super::sync::{self, AtomicU64, AtomicWaker, Ordering};
use crate::events::EntityKind;

type Inner<T> = Pin<Box<dyn Stream<Item = T> + Send>>;

/// The half of a switchable stream that a swap reaches.
pub(crate) struct Switch<T> {
    /// Bumped by every switch and by disposal; the receiver compares it
    /// with the last value it saw on every poll (its only cost per item).
    version: AtomicU64,
    /// The receiver's waker, registered when its inner stream is pending.
    waker: AtomicWaker,
    state: sync::Mutex<State<T>>,
}

struct State<T> {
    /// The inner stream waiting for the receiver to take it.
    pending: Option<Inner<T>>,
    /// A handle holds (or is about to take) the inner stream.
    received: bool,
    /// Handles waiting to become the receiver.
    waiting: Vec<Waker>,
    /// The track is gone: the stream ends.
    disposed: bool,
}

impl<T> Switch<T> {
    fn new(inner: Option<Inner<T>>) -> Switch<T> {
        Switch {
            version: AtomicU64::new(1),
            waker: AtomicWaker::new(),
            state: sync::Mutex::new(State {
                pending: inner,
                received: false,
                waiting: Vec::new(),
                disposed: false,
            }),
        }
    }

    /// Hand `inner` to the receiver; the one it had is dropped at its next
    /// poll, which this wakes. An inner stream no receiver took yet is
    /// dropped here.
    pub(crate) fn switch(&self, inner: Inner<T>) {
        let (replaced, waiting) = {
            let mut state = sync::lock(&self.state);
            if state.disposed {
                return;
            }
            let replaced = state.pending.replace(inner);
            self.version.fetch_add(1, Ordering::AcqRel);
            (replaced, std::mem::take(&mut state.waiting))
        };
        drop(replaced);
        self.waker.wake();
        waiting.into_iter().for_each(Waker::wake);
    }

    fn dispose(&self) {
        let (pending, waiting) = {
            let mut state = sync::lock(&self.state);
            state.disposed = true;
            self.version.fetch_add(1, Ordering::AcqRel);
            (state.pending.take(), std::mem::take(&mut state.waiting))
        };
        drop(pending);
        self.waker.wake();
        waiting.into_iter().for_each(Waker::wake);
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

/// A stable, switchable stream (DESIGN §7).
///
/// Built by [`source`], and by `#[hmr_track]` around a returned stream. A
/// re-execution of the track that built it *switches* its inner stream: the
/// old inner is dropped (never ended into the consumer), the next item comes
/// from the new one, and a consumer parked on the old one is woken. Polling
/// costs one atomic load and a compare on top of the inner stream; no lock.
///
/// Handles handed out by re-executions of the same track share the living
/// stream: the handle that holds the inner stream (the first one) receives;
/// the others stay pending until it is dropped, then the next one polled
/// takes over. The stream ends when its inner stream ends, or when its track
/// is disposed (an orphan).
#[must_use = "streams do nothing unless polled"]
pub struct Source<T> {
    switch: sync::Arc<Switch<T>>,
    /// Whether this handle receives (holds, or is to take, the inner stream).
    receiver: bool,
    inner: Option<Inner<T>>,
    seen: u64,
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

impl<T> Source<T> {
    fn receiving(switch: sync::Arc<Switch<T>>) -> Source<T> {
        sync::lock(&switch.state).received = true;
        Source { switch, receiver: true, inner: None, seen: 0 }
    }

    pub(crate) fn waiting(switch: sync::Arc<Switch<T>>) -> Source<T> {
        Source { switch, receiver: false, inner: None, seen: 0 }
    }

    /// Take what a switch left; `false` if the stream is over.
    #[cold]
    fn refresh(&mut self, version: u64) -> bool {
        self.seen = version;
        let (new, disposed) = {
            let mut state = sync::lock(&self.switch.state);
            (state.pending.take(), state.disposed)
        };
        if disposed {
            self.inner = None;
            return false;
        }
        if let Some(new) = new {
            // The old inner is dropped here: exactly one stays alive.
            self.inner = Some(new);
        }
        true
    }

    /// A waiting handle becomes the receiver if nobody holds the stream.
    #[cold]
    fn try_receive(&mut self, cx: &Context<'_>) -> Take {
        let mut state = sync::lock(&self.switch.state);
        if state.disposed {
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
        self.seen = 0;
        Take::Receive
    }
}

impl<T> Stream for Source<T> {
    type Item = T;

    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = &mut *self;
        // The fast path: this handle receives, no switch since the last
        // poll, and the inner stream has an item.
        if this.receiver
            && this.switch.version.load(Ordering::Acquire) == this.seen
            && let Some(inner) = this.inner.as_mut()
        {
            return match inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => Poll::Ready(Some(item)),
                // An inner stream that ends after a switch was made (a
                // rebuild disposed its source) is replaced, not the end.
                Poll::Ready(None) => this.ended(cx),
                Poll::Pending => this.park(cx),
            };
        }
        this.poll_slow(cx)
    }
}

impl<T> Source<T> {
    /// The inner stream is pending: be woken by a switch too. A switch
    /// between the poll and the registration must not be missed.
    #[inline(never)]
    fn park(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.switch.waker.register(cx.waker());
        if self.switch.version.load(Ordering::Acquire) == self.seen {
            Poll::Pending
        } else {
            self.poll_slow(cx)
        }
    }

    /// The inner stream ended: the stream ends, unless a switch came in.
    /// The ended inner stream is not polled again.
    #[inline(never)]
    fn ended(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if self.switch.version.load(Ordering::Acquire) != self.seen {
            return self.poll_slow(cx);
        }
        self.inner = None;
        Poll::Ready(None)
    }

    /// Everything but the fast path: becoming the receiver, taking a
    /// switched-in inner stream, parking.
    #[inline(never)]
    fn poll_slow(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if !self.receiver {
            match self.try_receive(cx) {
                Take::Wait => return Poll::Pending,
                Take::Ended => return Poll::Ready(None),
                Take::Receive => {}
            }
        }
        loop {
            let version = self.switch.version.load(Ordering::Acquire);
            if version != self.seen && !self.refresh(version) {
                return Poll::Ready(None);
            }
            let Some(inner) = self.inner.as_mut() else {
                // Switched away before its first item: wait for the next switch.
                self.switch.waker.register(cx.waker());
                if self.switch.version.load(Ordering::Acquire) != self.seen {
                    continue;
                }
                return Poll::Pending;
            };
            match inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => return Poll::Ready(Some(item)),
                Poll::Ready(None) => {
                    if self.switch.version.load(Ordering::Acquire) != self.seen {
                        continue;
                    }
                    // Ended; a later poll still takes a switched-in stream.
                    self.inner = None;
                    return Poll::Ready(None);
                }
                Poll::Pending => {
                    self.switch.waker.register(cx.waker());
                    if self.switch.version.load(Ordering::Acquire) != self.seen {
                        continue;
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<T> Drop for Source<T> {
    fn drop(&mut self) {
        if !self.receiver {
            return;
        }
        // Hand the inner stream back, for a waiting handle to take over.
        let (dropped, waiting) = {
            let mut state = sync::lock(&self.switch.state);
            state.received = false;
            let dropped = if state.pending.is_none() && !state.disposed {
                state.pending = self.inner.take();
                None
            } else {
                self.inner.take()
            };
            (dropped, std::mem::take(&mut state.waiting))
        };
        drop(dropped);
        waiting.into_iter().for_each(Waker::wake);
    }
}

/// Makes `stream` a stable, switchable [`Source`] (DESIGN §7).
///
/// Inside a tracked function, a re-execution that builds a source of the
/// same item type again hands back a handle on the *living* source and, at
/// its module's commit, switches the living source to the new inner stream:
/// its consumer receives from the new stream with no end in between, and
/// the old inner stream is dropped. The handle handed back stays pending
/// while the first one is alive.
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
    switchable(Builder::new(), "source", "source".to_owned(), Box::pin(stream), true)
}

/// Wraps a stream a tracked function returns into a stable [`Source`]: the
/// first handle receives from the newest version (DESIGN §7).
pub(crate) fn stable<S>(stream: S) -> Source<S::Item>
where
    S: Stream + Send + 'static,
    S::Item: 'static,
{
    let builder = Builder::new();
    let name = builder.previous_name().unwrap_or_else(|| "stream".to_owned());
    switchable(builder, "stream", name, Box::pin(stream), true)
}

fn switchable<T: 'static>(
    builder: Builder,
    op: &'static str,
    name: String,
    inner: Inner<T>,
    capture: bool,
) -> Source<T> {
    let shape = Shape::new(op, &[Ty::of::<T>()]);
    let kind = if op == "source" { EntityKind::Factory } else { EntityKind::Pipe };
    if let Some(target) = builder.living::<SwitchNode<T>>(op, &shape) {
        let switch = target.switch.clone();
        // A source switches to its new inner stream on every re-execution.
        // A returned stream keeps its living pipeline on an update in place
        // (the pipeline's parts took the new closures), unless the scope
        // built no stream part: a plain pipeline has nothing to swap into.
        let switch_on_update = op == "source" || builder.no_stream_parts();
        let follower = Arc::new(Follower::new(target, Staged { inner, switch_on_update }));
        if capture {
            builder.finish(kind, op, name, shape, follower);
        } else {
            builder.finish_silently(op, name, shape, follower);
        }
        return Source::waiting(switch);
    }
    let switch = sync::Arc::new(Switch::new(Some(inner)));
    let node = Arc::new(SwitchNode { switch: switch.clone() });
    if capture {
        builder.finish(kind, op, name, shape, node);
    } else {
        builder.finish_silently(op, name, shape, node);
    }
    Source::receiving(switch)
}

/// The living switch of a `source(…)` or a returned stream.
struct SwitchNode<T> {
    switch: sync::Arc<Switch<T>>,
}

/// What a re-execution's source or returned stream stages.
struct Staged<T> {
    inner: Inner<T>,
    switch_on_update: bool,
}

impl<T: 'static> Node for SwitchNode<T> {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn adopt(&self, follower: &dyn Node) -> bool {
        let Some(staged) = staged::<Self, Staged<T>>(follower) else { return false };
        if let Some(Staged { inner, switch_on_update }) = staged {
            if switch_on_update {
                self.switch.switch(inner);
            } else {
                drop(inner);
            }
        }
        true
    }
    fn relink(&self, follower: &dyn Node) {
        if let Some(Some(Staged { inner, .. })) = staged::<Self, Staged<T>>(follower) {
            self.switch.switch(inner);
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
    let name = builder.previous_name().unwrap_or_else(|| "stream".to_owned());
    switchable(builder, "stream", name, Box::pin(source), false)
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
