//! The hot operators' extension trait, [`HmrStreamExt`], and the simple
//! operators (`hot_map`, `hot_filter`, `hot_filter_map`, `hot_inspect`,
//! `hot_scan`, `hot_then`). The swappable closure slot they share is in
//! [`hot`](super::hot); the operators with more machinery (`hot_take_while`,
//! `hot_flat_map`, the concurrent maps, debounce and throttle) are in
//! [`ops`](super::ops).

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_core::Stream;
use futures_core::future::BoxFuture;
use futures_util::stream::{FuturesOrdered, FuturesUnordered};

use super::hot::{Handoff, Hot, debug_op, hot, hot_stateful, io, types, unwind_from};
use super::ops::{HotConcurrent, HotDebounce, HotFlatMap, HotTakeWhile, HotThrottle};
use super::tap::Tap;
use crate::living::graph::{Op, Shape, Ty};

pin_project_lite::pin_project! {
    /// Stream for [`HmrStreamExt::hot_map`].
    #[must_use = "streams do nothing unless polled"]
    pub struct HotMap<S, B> where S: Stream {
        #[pin]
        stream: S,
        f: Hot<dyn FnMut(S::Item) -> B + Send>,
        tap: Tap<B>,
    }
}
debug_op!(HotMap<S, B>);

impl<S: Stream, B> Stream for HotMap<S, B> {
    type Item = B;
    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<B>> {
        let this = self.project();
        let Some(item) = ready!(this.stream.poll_next(cx)) else { return Poll::Ready(None) };
        let out = this.f.call(|f| f(item));
        if let Some(out) = &out {
            this.tap.saw(out, this.f);
        }
        Poll::Ready(out)
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
        tap: Tap<S::Item>,
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
            let Some(keep) = this.f.call(|f| f(&item)) else { return Poll::Ready(None) };
            if keep {
                this.tap.saw(&item, this.f);
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
        tap: Tap<B>,
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
            let Some(out) = this.f.call(|f| f(item)) else { return Poll::Ready(None) };
            if let Some(out) = out {
                this.tap.saw(&out, this.f);
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
        tap: Tap<S::Item>,
    }
}
debug_op!(HotInspect<S>);

impl<S: Stream> Stream for HotInspect<S> {
    type Item = S::Item;
    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        let Some(item) = ready!(this.stream.poll_next(cx)) else { return Poll::Ready(None) };
        let Some(()) = this.f.call(|f| f(&item)) else { return Poll::Ready(None) };
        this.tap.saw(&item, this.f);
        Poll::Ready(Some(item))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.stream.size_hint()
    }
}

/// `hot_scan`'s closure.
type ScanFn<St, T, B> = dyn FnMut(&mut St, T) -> Option<B> + Send;

pin_project_lite::pin_project! {
    /// Stream for [`HmrStreamExt::hot_scan`].
    #[must_use = "streams do nothing unless polled"]
    pub struct HotScan<S, St, B> where S: Stream {
        #[pin]
        stream: S,
        state: Option<St>,
        handoff: Handoff<St>,
        f: Hot<ScanFn<St, S::Item, B>>,
        tap: Tap<B>,
    }

    impl<S, St, B> PinnedDrop for HotScan<S, St, B> where S: Stream {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.handoff.leave(this.state.take());
        }
    }
}
debug_op!(HotScan<S, St, B>);

impl<S: Stream, St, B> Stream for HotScan<S, St, B> {
    type Item = B;
    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<B>> {
        let this = self.project();
        if let Some(kept) = this.handoff.first_poll() {
            *this.state = Some(kept);
        }
        let Some(state) = this.state.as_mut() else { return Poll::Ready(None) };
        let Some(item) = ready!(this.stream.poll_next(cx)) else { return Poll::Ready(None) };
        let out = this.f.call(|f| f(state, item)).flatten();
        match &out {
            Some(out) => this.tap.saw(out, this.f),
            None => *this.state = None,
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
        handoff: Handoff<BoxFuture<'static, B>>,
        f: Hot<dyn FnMut(S::Item) -> BoxFuture<'static, B> + Send>,
        tap: Tap<B>,
    }

    impl<S, B> PinnedDrop for HotThen<S, B> where S: Stream {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.handoff.leave(this.pending.take());
        }
    }
}
debug_op!(HotThen<S, B>);

impl<S: Stream, B> Stream for HotThen<S, B> {
    type Item = B;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<B>> {
        let mut this = self.project();
        if let Some(kept) = this.handoff.first_poll() {
            // The item the living twin was waiting on finishes here.
            *this.pending = Some(kept);
        }
        loop {
            if let Some(fut) = this.pending.as_mut() {
                // A future that panics is dropped: polled again, it would
                // panic again. Its item is lost. It runs in the operator's
                // per-item scope, as its closure does.
                let scope = this.f.item_scope();
                let polled = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx)));
                drop(scope);
                let out = match polled {
                    Ok(polled) => ready!(polled),
                    Err(payload) => {
                        *this.pending = None;
                        unwind_from(this.f.track, payload)
                    }
                };
                *this.pending = None;
                this.tap.saw(&out, this.f);
                return Poll::Ready(Some(out));
            }
            let Some(item) = ready!(this.stream.as_mut().poll_next(cx)) else {
                return Poll::Ready(None);
            };
            let Some(fut) = this.f.call(|f| f(item)) else { return Poll::Ready(None) };
            *this.pending = Some(fut);
        }
    }
}

/// Hot operators on every [`Stream`] (docs/design.md §5.6).
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
        let shape = Shape::new(Op::HotMap, &types::<Self::Item, B>());
        HotMap {
            stream: self,
            f: hot(Op::HotMap, "hot_map(fn)", io::<Self, HotMap<Self, B>>(), shape, Box::new(f)),
            tap: Tap::new(),
        }
    }

    /// Keeps the items for which `f` returns `true`.
    fn hot_filter<F>(self, f: F) -> HotFilter<Self>
    where
        Self: Sized,
        Self::Item: 'static,
        F: FnMut(&Self::Item) -> bool + Send + 'static,
    {
        let shape = Shape::new(Op::HotFilter, &types::<Self::Item, ()>());
        let io = io::<Self, HotFilter<Self>>();
        HotFilter {
            stream: self,
            f: hot(Op::HotFilter, "hot_filter(fn)", io, shape, Box::new(f)),
            tap: Tap::new(),
        }
    }

    /// Maps each item through `f`, keeping the `Some`s.
    fn hot_filter_map<B, F>(self, f: F) -> HotFilterMap<Self, B>
    where
        Self: Sized,
        Self::Item: 'static,
        B: 'static,
        F: FnMut(Self::Item) -> Option<B> + Send + 'static,
    {
        let shape = Shape::new(Op::HotFilterMap, &types::<Self::Item, B>());
        HotFilterMap {
            stream: self,
            f: hot(
                Op::HotFilterMap,
                "hot_filter_map(fn)",
                io::<Self, HotFilterMap<Self, B>>(),
                shape,
                Box::new(f),
            ),
            tap: Tap::new(),
        }
    }

    /// Calls `f` with a reference to each item, passing the item on.
    fn hot_inspect<F>(self, f: F) -> HotInspect<Self>
    where
        Self: Sized,
        Self::Item: 'static,
        F: FnMut(&Self::Item) + Send + 'static,
    {
        let shape = Shape::new(Op::HotInspect, &types::<Self::Item, ()>());
        let io = io::<Self, HotInspect<Self>>();
        HotInspect {
            stream: self,
            f: hot(Op::HotInspect, "hot_inspect(fn)", io, shape, Box::new(f)),
            tap: Tap::new(),
        }
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
            Shape::new(Op::HotScan, &[Ty::of::<Self::Item>(), Ty::of::<St>(), Ty::of::<B>()])
                .with_arg(init.clone());
        let key = Shape::new(Op::HotScan, &[Ty::of::<St>()]).with_arg(init.clone());
        let f: Box<ScanFn<St, Self::Item, B>> = Box::new(f);
        let io = io::<Self, HotScan<Self, St, B>>();
        let (f, handoff) = hot_stateful(Op::HotScan, &label, io, (shape, key), f);
        HotScan { stream: self, state: Some(init), handoff, f, tap: Tap::new() }
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
        let shape = Shape::new(Op::HotThen, &types::<Self::Item, Fut::Output>());
        let key = Shape::new(Op::HotThen, &[Ty::of::<Fut::Output>()]);
        let boxed: Box<dyn FnMut(Self::Item) -> BoxFuture<'static, Fut::Output> + Send> =
            Box::new(move |item| Box::pin(f(item)));
        let io = io::<Self, HotThen<Self, Fut::Output>>();
        let (f, handoff) = hot_stateful(Op::HotThen, "hot_then(fn)", io, (shape, key), boxed);
        HotThen { stream: self, pending: None, handoff, f, tap: Tap::new() }
    }

    /// Yields the items while `f` returns `true`, and ends at the first
    /// `false` (like `StreamExt::take_while`, with a plain predicate).
    fn hot_take_while<F>(self, f: F) -> HotTakeWhile<Self>
    where
        Self: Sized,
        Self::Item: 'static,
        F: FnMut(&Self::Item) -> bool + Send + 'static,
    {
        super::ops::take_while(self, f)
    }

    /// Maps each item to a stream and yields its items, one stream after
    /// the other (like `StreamExt::flat_map`). The stream being read is
    /// state: a rebuilt chain's `hot_flat_map` goes on reading it. Its type
    /// is part of the shape.
    fn hot_flat_map<U, F>(self, f: F) -> HotFlatMap<Self, U>
    where
        Self: Sized,
        Self::Item: 'static,
        U: Stream + Send + 'static,
        U::Item: 'static,
        F: FnMut(Self::Item) -> U + Send + 'static,
    {
        super::ops::flat_map(self, f)
    }

    /// Runs the futures `f` returns for up to `limit` items at once, yielding
    /// their outputs in the items' order (like `map(f).buffered(limit)`).
    /// `limit` (0 is taken as 1) is part of the shape; the futures in flight are
    /// state, and a rebuilt chain's operator finishes them. A future that
    /// panics drops the others in flight.
    fn hot_then_concurrent<Fut, F>(
        self,
        limit: usize,
        f: F,
    ) -> HotConcurrent<Self, Fut::Output, FuturesOrdered<BoxFuture<'static, Fut::Output>>>
    where
        Self: Sized,
        Self::Item: 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
        F: FnMut(Self::Item) -> Fut + Send + 'static,
    {
        super::ops::concurrent(self, limit, (Op::HotThenConcurrent, true), f)
    }

    /// [`hot_then_concurrent`](HmrStreamExt::hot_then_concurrent), yielding
    /// each output as soon as its future is done (like
    /// `map(f).buffer_unordered(limit)`).
    fn hot_then_unordered<Fut, F>(
        self,
        limit: usize,
        f: F,
    ) -> HotConcurrent<Self, Fut::Output, FuturesUnordered<BoxFuture<'static, Fut::Output>>>
    where
        Self: Sized,
        Self::Item: 'static,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
        F: FnMut(Self::Item) -> Fut + Send + 'static,
    {
        super::ops::concurrent(self, limit, (Op::HotThenUnordered, false), f)
    }

    /// Yields an item once `quiet` has passed without a newer one (the last
    /// of a burst), and the held item at once when the input ends. From an
    /// input that is always ready it takes at most 64 items per poll. Uses
    /// tokio's timer: poll it inside a tokio runtime with time enabled.
    /// `quiet` is part of the shape; the held item and its due time are
    /// state, kept by a rebuilt chain's `hot_debounce`.
    fn hot_debounce(self, quiet: Duration) -> HotDebounce<Self>
    where
        Self: Sized,
        Self::Item: Send + 'static,
    {
        super::ops::debounce(self, quiet)
    }

    /// Yields an item, then drops the items that come within `every` of it
    /// (the first of each interval); at most 64 dropped per poll, so an
    /// input that is always ready does not hold the task. Reads tokio's clock: poll it inside a
    /// tokio runtime. `every` is part of the shape; the end of the current
    /// interval is state, kept by a rebuilt chain's `hot_throttle`.
    fn hot_throttle(self, every: Duration) -> HotThrottle<Self>
    where
        Self: Sized,
        Self::Item: 'static,
    {
        super::ops::throttle(self, every)
    }
}

impl<S: Stream + ?Sized> HmrStreamExt for S {}
