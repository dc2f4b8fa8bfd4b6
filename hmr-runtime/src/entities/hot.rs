//! Hot operators: stream operators whose closure lives in a swappable slot.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use std::time::Duration;

use futures_core::Stream;
use futures_core::future::BoxFuture;
use futures_util::stream::{FuturesOrdered, FuturesUnordered};

use super::ops::{HotConcurrent, HotDebounce, HotFlatMap, HotTakeWhile, HotThrottle};

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use super::commit::{Commit, Mail, Mailbox};
use super::graph::{Builder, Kept, Node, Shape, StateCell, Ty, lock};
use super::source::short_type_name;
use super::sync;
use crate::accumulator::stack::ItemScope;
use crate::events::{EntityKind, TrackId};

/// An operator's closure: the one it calls, and the mailbox through which
/// a commit replaces it (at an item boundary, see [`commit`](super::commit)).
pub(crate) struct Hot<F: ?Sized> {
    slot: sync::Arc<Mailbox<Box<F>>>,
    seen: u64,
    current: Option<Box<F>>,
    /// The track that built it: named when the closure panics, and the scope
    /// the closure runs in (tracked calls it makes are that track's
    /// children).
    pub(crate) track: Option<TrackId>,
    /// That track runs inside a module.
    pub(crate) in_module: bool,
}

impl<F: ?Sized> Hot<F> {
    /// The closure to call for this item: one atomic load and a compare,
    /// unless a commit staged a new one. `None` once a re-execution's
    /// operator gave its closure away to the living one.
    #[inline]
    fn get(&mut self) -> Option<&mut F> {
        // Without the `enabled` feature nothing swaps: the plain operator.
        if cfg!(feature = "enabled") {
            match self.slot.take(&mut self.seen) {
                Mail::Nothing => {}
                mail => self.receive(mail),
            }
        }
        self.current.as_deref_mut()
    }

    #[cold]
    #[inline(never)]
    fn receive(&mut self, mail: Mail<Box<F>>) {
        if let Mail::Letters(mut letters) = mail {
            // The old closure (and what it captured) is dropped here, with
            // the mailbox unlocked.
            self.current = letters.pop();
        }
    }

    /// Calls the closure with `call`; a panic names the operator's track on
    /// its way up (see [`panicked_in`]).
    ///
    /// The closure runs in the per-item scope the item is in: a
    /// subscription's task opens its track's for the whole item, so tracked
    /// calls the closures of its pipeline make are children of that track.
    /// (Entering the operator's own track's scope on every call cost 4 ns per
    /// item where it differs; a `hot_then` future, which runs longer, does.)
    #[inline]
    pub(crate) fn call<R>(&mut self, call: impl FnOnce(&mut F) -> R) -> Option<R> {
        let f = self.get()?;
        match catch_unwind(AssertUnwindSafe(|| call(f))) {
            Ok(out) => Some(out),
            Err(payload) => unwind_from(self.track, payload),
        }
    }

    /// The per-item scope of its track, for code it runs later for an item
    /// (a `hot_then` future).
    pub(crate) fn item_scope(&self) -> ItemScope {
        ItemScope::enter(self.track, self.in_module)
    }
}

/// Notes which track's closure panicked, and goes on unwinding.
#[cold]
#[inline(never)]
pub(crate) fn unwind_from(track: Option<TrackId>, payload: Box<dyn Any + Send>) -> ! {
    let id = payload_id(&*payload);
    PANICKED_IN.with(|p| p.set(Some((track, id))));
    resume_unwind(payload)
}

/// A panic payload's identity: the same box travels from `resume_unwind`
/// to whoever catches it.
fn payload_id(payload: &(dyn Any + Send)) -> usize {
    std::ptr::from_ref(payload).cast::<()>() as usize
}

std::thread_local! {
    static PANICKED_IN: std::cell::Cell<Option<(Option<TrackId>, usize)>> =
        const { std::cell::Cell::new(None) };
}

/// If `payload` is the panic of a hot closure, `Some` of the closure's track
/// (`Some(None)` for one built outside any track). A panic caught elsewhere
/// before leaves nothing behind that matches.
#[allow(clippy::option_option, reason = "not a hot closure, or one of no track")]
pub(crate) fn panicked_in(payload: &(dyn Any + Send)) -> Option<Option<TrackId>> {
    let noted = PANICKED_IN.with(std::cell::Cell::take)?;
    (noted.1 == payload_id(payload)).then_some(noted.0)
}

impl<F: ?Sized> Drop for Hot<F> {
    fn drop(&mut self) {
        // A living operator going away: what commits still send it is
        // dropped, not kept. (One never polled keeps its closure for a
        // living operator to adopt.)
        if self.current.is_some() {
            let _ = self.slot.close();
        }
    }
}

/// How a stateful operator's state outlives its chain (DESIGN §10). When a
/// re-execution rebuilds the chain (an operator added, plain code around
/// it), the task drops the living chain and polls the new one: the living
/// operator leaves its state in its cell as it is dropped, and its twin in
/// the new chain takes it at its first poll. An operator dropped before its
/// first poll (a version overtaken by the next before any item, or rolled
/// back) leaves nothing; the twin after it looks past it, to the cell of the
/// last operator that ran.
pub(crate) struct Handoff<St> {
    /// Its cell: where it leaves its state, and the cells before it.
    own: Arc<StateCell<St>>,
    polled: bool,
}

impl<St> Handoff<St> {
    /// A hand-off taking over from `from` (the living twin's cell), if any.
    pub(crate) fn new(from: Option<Arc<StateCell<St>>>, polled: bool) -> Handoff<St> {
        let own = Arc::new(StateCell::new(Kept { state: None, before: from }));
        Handoff { own, polled }
    }

    /// The cell, for the graph.
    pub(crate) fn cell(&self) -> Arc<StateCell<St>> {
        self.own.clone()
    }

    /// At the first poll: the state the living twin left, if any.
    #[inline]
    pub(crate) fn first_poll(&mut self) -> Option<St> {
        if self.polled {
            return None;
        }
        self.take_inherited()
    }

    /// Takes the newest state left before it; the cells before are let go.
    #[cold]
    #[inline(never)]
    fn take_inherited(&mut self) -> Option<St> {
        self.polled = true;
        let mut next = lock(&self.own).before.take();
        while let Some(cell) = next {
            let mut kept = lock(&cell);
            if let Some(state) = kept.state.take() {
                return Some(state);
            }
            let before = kept.before.clone();
            drop(kept);
            next = before;
        }
        None
    }

    /// On drop: leave `state`, if it ran.
    pub(crate) fn leave(&mut self, state: Option<St>) {
        if self.polled {
            lock(&self.own).state = state;
        }
    }
}

struct HotNode<F: ?Sized> {
    slot: sync::Arc<Mailbox<Box<F>>>,
    /// A stateful operator's `Arc<StateCell<St>>`.
    state: Option<Box<dyn Any + Send + Sync>>,
}

impl<F: ?Sized + Send + 'static> Node for HotNode<F> {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn adopt(&self, new: &dyn Node, commit: &mut Commit) -> bool {
        let Some(new) = new.as_any().downcast_ref::<HotNode<F>>() else { return false };
        // A closure already taken (the new operator was polled) stays there.
        if let Some(f) = new.slot.take_all().pop() {
            commit.stage(&self.slot, f);
        }
        true
    }
    fn dispose(&self) {}
    fn state_cell(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.state.as_deref()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The stream types an operator reads and is: `type_name`s, compared to
/// find plain code between the parts of a chain.
#[derive(Clone, Copy)]
pub(crate) struct Io {
    pub(crate) input: &'static str,
    pub(crate) out: &'static str,
}

pub(crate) fn io<In: ?Sized, Out>() -> Io {
    Io { input: std::any::type_name::<In>(), out: std::any::type_name::<Out>() }
}

/// Puts `f` in a new slot, records the operator in the current scope.
pub(crate) fn hot<F: ?Sized + Send + 'static>(
    op: &'static str,
    label: &str,
    io: Io,
    shape: Shape,
    f: Box<F>,
) -> Hot<F> {
    if !cfg!(feature = "enabled") {
        let slot = sync::Arc::new(Mailbox::new(None));
        return Hot { slot, seen: 0, current: Some(f), track: None, in_module: false };
    }
    let slot = sync::Arc::new(Mailbox::new(Some(f)));
    let builder = Builder::new();
    builder.plain_code_before(io.input);
    let builder = builder.streams(io.out);
    let track = builder.track();
    let name = builder.chain(label);
    let node = HotNode { slot: slot.clone(), state: None };
    let in_module = builder.in_module();
    builder.finish(EntityKind::OperatorFun, op, name, shape, Arc::new(node));
    Hot { slot, seen: 0, current: None, track, in_module }
}

/// [`hot`] for a stateful operator: `key` (kind, state type, seed) finds
/// the living twin whose state it takes if its chain is rebuilt.
pub(crate) fn hot_stateful<F: ?Sized + Send + 'static, St: Send + 'static>(
    op: &'static str,
    label: &str,
    io: Io,
    (shape, key): (Shape, Shape),
    f: Box<F>,
) -> (Hot<F>, Handoff<St>) {
    if !cfg!(feature = "enabled") {
        let slot = sync::Arc::new(Mailbox::new(None));
        let handoff = Handoff::new(None, true);
        let hot = Hot { slot, seen: 0, current: Some(f), track: None, in_module: false };
        return (hot, handoff);
    }
    let slot = sync::Arc::new(Mailbox::new(Some(f)));
    let builder = Builder::new();
    builder.plain_code_before(io.input);
    let builder = builder.streams(io.out);
    let track = builder.track();
    let name = builder.chain(label);
    let handoff = Handoff::new(builder.inherit::<St>(&key), false);
    let state: Box<dyn Any + Send + Sync> = Box::new(handoff.cell());
    let node = HotNode { slot: slot.clone(), state: Some(state) };
    let in_module = builder.in_module();
    builder.finish_stateful(EntityKind::OperatorFun, op, name, (shape, key), Arc::new(node));
    (Hot { slot, seen: 0, current: None, track, in_module }, handoff)
}

pub(crate) fn types<A: 'static, B: 'static>() -> [Ty; 2] {
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
pub(crate) use debug_op;

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
        Poll::Ready(this.f.call(|f| f(item)))
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
            let Some(keep) = this.f.call(|f| f(&item)) else { return Poll::Ready(None) };
            if keep {
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
            let Some(out) = this.f.call(|f| f(item)) else { return Poll::Ready(None) };
            if let Some(out) = out {
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
        let Some(()) = this.f.call(|f| f(&item)) else { return Poll::Ready(None) };
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
        handoff: Handoff<BoxFuture<'static, B>>,
        f: Hot<dyn FnMut(S::Item) -> BoxFuture<'static, B> + Send>,
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
        HotMap {
            stream: self,
            f: hot("hot_map", "hot_map(fn)", io::<Self, HotMap<Self, B>>(), shape, Box::new(f)),
        }
    }

    /// Keeps the items for which `f` returns `true`.
    fn hot_filter<F>(self, f: F) -> HotFilter<Self>
    where
        Self: Sized,
        Self::Item: 'static,
        F: FnMut(&Self::Item) -> bool + Send + 'static,
    {
        let shape = Shape::new("hot_filter", &types::<Self::Item, ()>());
        let io = io::<Self, HotFilter<Self>>();
        HotFilter { stream: self, f: hot("hot_filter", "hot_filter(fn)", io, shape, Box::new(f)) }
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
            f: hot(
                "hot_filter_map",
                "hot_filter_map(fn)",
                io::<Self, HotFilterMap<Self, B>>(),
                shape,
                Box::new(f),
            ),
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
        let io = io::<Self, HotInspect<Self>>();
        HotInspect {
            stream: self,
            f: hot("hot_inspect", "hot_inspect(fn)", io, shape, Box::new(f)),
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
            Shape::new("hot_scan", &[Ty::of::<Self::Item>(), Ty::of::<St>(), Ty::of::<B>()])
                .with_arg(init.clone());
        let key = Shape::new("hot_scan", &[Ty::of::<St>()]).with_arg(init.clone());
        let f: Box<ScanFn<St, Self::Item, B>> = Box::new(f);
        let io = io::<Self, HotScan<Self, St, B>>();
        let (f, handoff) = hot_stateful("hot_scan", &label, io, (shape, key), f);
        HotScan { stream: self, state: Some(init), handoff, f }
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
        let key = Shape::new("hot_then", &[Ty::of::<Fut::Output>()]);
        let boxed: Box<dyn FnMut(Self::Item) -> BoxFuture<'static, Fut::Output> + Send> =
            Box::new(move |item| Box::pin(f(item)));
        let io = io::<Self, HotThen<Self, Fut::Output>>();
        let (f, handoff) = hot_stateful("hot_then", "hot_then(fn)", io, (shape, key), boxed);
        HotThen { stream: self, pending: None, handoff, f }
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
        super::ops::concurrent(self, limit, ("hot_then_concurrent", true), f)
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
        super::ops::concurrent(self, limit, ("hot_then_unordered", false), f)
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

#[cfg(all(test, loom))]
mod loom_tests;
