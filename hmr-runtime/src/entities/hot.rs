//! Hot operators: stream operators whose closure lives in a swappable slot.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use futures_core::future::BoxFuture;

use super::graph::{Builder, Node, Shape, Ty};
use super::source::short_type_name;
use super::sync::{self, AtomicU64, Mutex, Ordering, lock};
use crate::events::EntityKind;

/// Where a re-execution puts the new closure of a living operator.
struct Slot<F: ?Sized> {
    /// Bumped when a new closure is put in.
    version: AtomicU64,
    next: Mutex<Option<Box<F>>>,
}

/// An operator's closure: the one it calls, and the slot that replaces it.
pub(crate) struct Hot<F: ?Sized> {
    slot: sync::Arc<Slot<F>>,
    seen: u64,
    current: Option<Box<F>>,
}

impl<F: ?Sized> Hot<F> {
    /// The closure to call for this item: one atomic load and a compare,
    /// unless a swap happened. `None` once a re-execution's operator gave
    /// its closure away to the living one.
    #[inline]
    fn get(&mut self) -> Option<&mut F> {
        // Without the `enabled` feature nothing swaps: the plain operator.
        if cfg!(feature = "enabled") {
            let version = self.slot.version.load(Ordering::Acquire);
            if version != self.seen {
                self.refresh(version);
            }
        }
        self.current.as_deref_mut()
    }

    #[cold]
    #[inline(never)]
    fn refresh(&mut self, version: u64) {
        self.seen = version;
        let next = lock(&self.slot.next).take();
        if let Some(next) = next {
            // The old closure (and what it captured) is dropped here, with
            // the slot unlocked.
            self.current = Some(next);
        }
    }
}

struct HotNode<F: ?Sized>(sync::Arc<Slot<F>>);

impl<F: ?Sized + Send + 'static> Node for HotNode<F> {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn adopt(&self, new: &dyn Node) -> bool {
        let Some(new) = new.as_any().downcast_ref::<HotNode<F>>() else { return false };
        // A closure already taken (the new operator was polled) stays there.
        let Some(f) = lock(&new.0.next).take() else { return true };
        let old = lock(&self.0.next).replace(f);
        self.0.version.fetch_add(1, Ordering::AcqRel);
        drop(old);
        true
    }
    fn dispose(&self) {}
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Puts `f` in a new slot, records the operator in the current scope.
fn hot<F: ?Sized + Send + 'static>(
    op: &'static str,
    label: &str,
    shape: Shape,
    f: Box<F>,
) -> Hot<F> {
    if !cfg!(feature = "enabled") {
        let slot = sync::Arc::new(Slot { version: AtomicU64::new(1), next: Mutex::new(None) });
        return Hot { slot, seen: 1, current: Some(f) };
    }
    let slot = sync::Arc::new(Slot { version: AtomicU64::new(1), next: Mutex::new(Some(f)) });
    let builder = Builder::new();
    let name = builder.chain(label);
    builder.finish(EntityKind::OperatorFun, op, name, shape, Arc::new(HotNode(slot.clone())));
    Hot { slot, seen: 0, current: None }
}

fn types<A: 'static, B: 'static>() -> [Ty; 2] {
    [Ty::of::<A>(), Ty::of::<B>()]
}

macro_rules! debug_op {
    ($ty:ident < $($g:ident),* >) => {
        impl<$($g),*> fmt::Debug for $ty<$($g),*>
        where
            S: Stream,
        {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("item", &short_type_name::<S::Item>())
                    .finish_non_exhaustive()
            }
        }
    };
}

pin_project_lite::pin_project! {
    /// Stream for [`HmrStreamExt::hot_map`].
    #[must_use = "streams do nothing unless polled"]
    pub struct HotMap<S, B> where S: Stream {
        #[pin]
        stream: S,
        f: Hot<dyn FnMut(S::Item) -> B + Send>,
    }
}
debug_op!(HotMap<S, B>);

impl<S: Stream, B> Stream for HotMap<S, B> {
    type Item = B;
    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<B>> {
        let this = self.project();
        let Some(item) = ready!(this.stream.poll_next(cx)) else { return Poll::Ready(None) };
        Poll::Ready(this.f.get().map(|f| f(item)))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}

pin_project_lite::pin_project! {
    /// Stream for [`HmrStreamExt::hot_filter`].
    #[must_use = "streams do nothing unless polled"]
    pub struct HotFilter<S> where S: Stream {
        #[pin]
        stream: S,
        f: Hot<dyn FnMut(&S::Item) -> bool + Send>,
    }
}
debug_op!(HotFilter<S>);

impl<S: Stream> Stream for HotFilter<S> {
    type Item = S::Item;
    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let mut this = self.project();
        loop {
            let Some(item) = ready!(this.stream.as_mut().poll_next(cx)) else {
                return Poll::Ready(None);
            };
            let Some(f) = this.f.get() else { return Poll::Ready(None) };
            if f(&item) {
                return Poll::Ready(Some(item));
            }
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.stream.size_hint().1)
    }
}

pin_project_lite::pin_project! {
    /// Stream for [`HmrStreamExt::hot_filter_map`].
    #[must_use = "streams do nothing unless polled"]
    pub struct HotFilterMap<S, B> where S: Stream {
        #[pin]
        stream: S,
        f: Hot<dyn FnMut(S::Item) -> Option<B> + Send>,
    }
}
debug_op!(HotFilterMap<S, B>);

impl<S: Stream, B> Stream for HotFilterMap<S, B> {
    type Item = B;
    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<B>> {
        let mut this = self.project();
        loop {
            let Some(item) = ready!(this.stream.as_mut().poll_next(cx)) else {
                return Poll::Ready(None);
            };
            let Some(f) = this.f.get() else { return Poll::Ready(None) };
            if let Some(out) = f(item) {
                return Poll::Ready(Some(out));
            }
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, self.stream.size_hint().1)
    }
}

pin_project_lite::pin_project! {
    /// Stream for [`HmrStreamExt::hot_inspect`].
    #[must_use = "streams do nothing unless polled"]
    pub struct HotInspect<S> where S: Stream {
        #[pin]
        stream: S,
        f: Hot<dyn FnMut(&S::Item) + Send>,
    }
}
debug_op!(HotInspect<S>);

impl<S: Stream> Stream for HotInspect<S> {
    type Item = S::Item;
    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        let Some(item) = ready!(this.stream.poll_next(cx)) else { return Poll::Ready(None) };
        let Some(f) = this.f.get() else { return Poll::Ready(None) };
        f(&item);
        Poll::Ready(Some(item))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}

pin_project_lite::pin_project! {
    /// Stream for [`HmrStreamExt::hot_scan`].
    #[must_use = "streams do nothing unless polled"]
    pub struct HotScan<S, St, B> where S: Stream {
        #[pin]
        stream: S,
        state: Option<St>,
        f: Hot<dyn FnMut(&mut St, S::Item) -> Option<B> + Send>,
    }
}
debug_op!(HotScan<S, St, B>);

impl<S: Stream, St, B> Stream for HotScan<S, St, B> {
    type Item = B;
    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<B>> {
        let this = self.project();
        let Some(state) = this.state.as_mut() else { return Poll::Ready(None) };
        let Some(item) = ready!(this.stream.poll_next(cx)) else { return Poll::Ready(None) };
        let out = this.f.get().and_then(|f| f(state, item));
        if out.is_none() {
            *this.state = None;
        }
        Poll::Ready(out)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.state.is_none() { (0, Some(0)) } else { (0, self.stream.size_hint().1) }
    }
}

pin_project_lite::pin_project! {
    /// Stream for [`HmrStreamExt::hot_then`].
    #[must_use = "streams do nothing unless polled"]
    pub struct HotThen<S, B> where S: Stream {
        #[pin]
        stream: S,
        pending: Option<BoxFuture<'static, B>>,
        f: Hot<dyn FnMut(S::Item) -> BoxFuture<'static, B> + Send>,
    }
}
debug_op!(HotThen<S, B>);

impl<S: Stream, B> Stream for HotThen<S, B> {
    type Item = B;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<B>> {
        let mut this = self.project();
        loop {
            if let Some(fut) = this.pending.as_mut() {
                let out = ready!(fut.as_mut().poll(cx));
                *this.pending = None;
                return Poll::Ready(Some(out));
            }
            let Some(item) = ready!(this.stream.as_mut().poll_next(cx)) else {
                return Poll::Ready(None);
            };
            let Some(f) = this.f.get() else { return Poll::Ready(None) };
            *this.pending = Some(f(item));
        }
    }
}

/// Hot operators on every [`Stream`] (DESIGN §7).
///
/// Each keeps its closure in a swappable slot. Inside a tracked function, a
/// re-execution that builds the same chain (same operators, same seeds,
/// same item types: the same *shape*) swaps the new closures into the living
/// operators: their state (a `hot_scan` accumulator, a `hot_then` future in
/// flight) is kept and the next item goes through the new code. Each item
/// costs one atomic load and a compare more than the plain operator, plus
/// the call through a `Box<dyn FnMut>`.
///
/// Closures must be `Send + 'static`. State a closure captures (a counter
/// moved into it) is *not* carried across a swap: put it in `hot_scan`'s
/// state or a [`watch`](crate::watch).
///
/// A chain that a re-execution built and whose closures were swapped into
/// the living chain is spent: polled anyway, it ends.
///
/// ```
/// use futures::{StreamExt, stream};
/// use hmr_runtime::HmrStreamExt;
///
/// let out: Vec<usize> = futures::executor::block_on(
///     stream::iter(["a", "bb", "ccc"])
///         .hot_map(|s| s.len())
///         .hot_filter(|n| *n > 1)
///         .hot_scan(0, |total, n| {
///             *total += n;
///             Some(*total)
///         })
///         .collect(),
/// );
/// assert_eq!(out, [2, 5]);
/// ```
pub trait HmrStreamExt: Stream {
    /// Maps each item through `f`.
    fn hot_map<B, F>(self, f: F) -> HotMap<Self, B>
    where
        Self: Sized,
        Self::Item: 'static,
        B: 'static,
        F: FnMut(Self::Item) -> B + Send + 'static,
    {
        let shape = Shape::new("hot_map", &types::<Self::Item, B>());
        HotMap { stream: self, f: hot("hot_map", "hot_map(fn)", shape, Box::new(f)) }
    }

    /// Keeps the items for which `f` returns `true`.
    fn hot_filter<F>(self, f: F) -> HotFilter<Self>
    where
        Self: Sized,
        Self::Item: 'static,
        F: FnMut(&Self::Item) -> bool + Send + 'static,
    {
        let shape = Shape::new("hot_filter", &types::<Self::Item, ()>());
        HotFilter { stream: self, f: hot("hot_filter", "hot_filter(fn)", shape, Box::new(f)) }
    }

    /// Maps each item through `f`, keeping the `Some`s.
    fn hot_filter_map<B, F>(self, f: F) -> HotFilterMap<Self, B>
    where
        Self: Sized,
        Self::Item: 'static,
        B: 'static,
        F: FnMut(Self::Item) -> Option<B> + Send + 'static,
    {
        let shape = Shape::new("hot_filter_map", &types::<Self::Item, B>());
        HotFilterMap {
            stream: self,
            f: hot("hot_filter_map", "hot_filter_map(fn)", shape, Box::new(f)),
        }
    }

    /// Calls `f` with a reference to each item, passing the item on.
    fn hot_inspect<F>(self, f: F) -> HotInspect<Self>
    where
        Self: Sized,
        Self::Item: 'static,
        F: FnMut(&Self::Item) + Send + 'static,
    {
        let shape = Shape::new("hot_inspect", &types::<Self::Item, ()>());
        HotInspect { stream: self, f: hot("hot_inspect", "hot_inspect(fn)", shape, Box::new(f)) }
    }

    /// Folds the items into a state that survives swaps, yielding what `f`
    /// returns; the stream ends at the first `None` (like
    /// [`Iterator::scan`]).
    ///
    /// `init` is part of the shape: a re-execution with a different seed
    /// (compared with `PartialEq`) rebuilds the operator, with the new seed
    /// (React: a changed initial state resets). It is kept (hence `Clone`)
    /// for that comparison and shown with `Debug` in the entity's name.
    fn hot_scan<St, B, F>(self, init: St, f: F) -> HotScan<Self, St, B>
    where
        Self: Sized,
        Self::Item: 'static,
        St: Clone + PartialEq + fmt::Debug + Send + 'static,
        B: 'static,
        F: FnMut(&mut St, Self::Item) -> Option<B> + Send + 'static,
    {
        let label = format!("hot_scan({init:?},fn)");
        let shape =
            Shape::new("hot_scan", &[Ty::of::<Self::Item>(), Ty::of::<St>(), Ty::of::<B>()])
                .with_arg(init.clone());
        HotScan { stream: self, state: Some(init), f: hot("hot_scan", &label, shape, Box::new(f)) }
    }

    /// Runs the future `f` returns for each item, one at a time, yielding
    /// its output. The future is boxed.
    fn hot_then<Fut, F>(self, mut f: F) -> HotThen<Self, Fut::Output>
    where
        Self: Sized,
        Self::Item: 'static,
        Fut: Future + Send + 'static,
        Fut::Output: 'static,
        F: FnMut(Self::Item) -> Fut + Send + 'static,
    {
        let shape = Shape::new("hot_then", &types::<Self::Item, Fut::Output>());
        let boxed: Box<dyn FnMut(Self::Item) -> BoxFuture<'static, Fut::Output> + Send> =
            Box::new(move |item| Box::pin(f(item)));
        HotThen { stream: self, pending: None, f: hot("hot_then", "hot_then(fn)", shape, boxed) }
    }
}

impl<S: Stream + ?Sized> HmrStreamExt for S {}

#[cfg(all(test, loom))]
mod loom_tests;
