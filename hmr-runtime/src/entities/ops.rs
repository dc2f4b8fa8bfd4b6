//! More hot operators: `hot_take_while`, `hot_flat_map`, the concurrent async
//! maps, and the tokio-time `hot_debounce` and `hot_throttle`. The same rules
//! as in [`hot`](super::hot): closures in swappable slots, the shape
//! compared by kind, types and argument, state carried by position when a
//! chain is rebuilt.

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_core::Stream;
use futures_core::future::BoxFuture;
use futures_util::stream::{FuturesOrdered, FuturesUnordered};
use tokio::time::{Instant, Sleep};

use super::builder::Builder;
use super::hot::{Handoff, Hot, Io, debug_op, hot, hot_stateful, io, types, unwind_from};
use super::source::short_type_name;
use super::tap::{Named, Tap};
use crate::events::EntityKind;
use crate::living::commit::Commit;
use crate::living::graph::{Node, Op, Shape, Ty};

// ---- hot_take_while ----------------------------------------------------------

/// `hot_take_while`'s closure.
type Predicate<T> = dyn FnMut(&T) -> bool + Send;

pin_project_lite::pin_project! {
    /// Stream for [`HmrStreamExt::hot_take_while`](super::hot::HmrStreamExt::hot_take_while).
    #[must_use = "streams do nothing unless polled"]
    pub struct HotTakeWhile<S> where S: Stream {
        #[pin]
        stream: S,
        done: bool,
        f: Hot<Predicate<S::Item>>,
        tap: Tap<S::Item>,
    }
}
debug_op!(HotTakeWhile<S>);

pub(crate) fn take_while<S, F>(stream: S, f: F) -> HotTakeWhile<S>
where
    S: Stream,
    S::Item: 'static,
    F: FnMut(&S::Item) -> bool + Send + 'static,
{
    let shape = Shape::new(Op::HotTakeWhile, &types::<S::Item, ()>());
    let io = io::<S, HotTakeWhile<S>>();
    let f: Box<Predicate<S::Item>> = Box::new(f);
    let f = hot(Op::HotTakeWhile, "hot_take_while(fn)", io, shape, f);
    HotTakeWhile { stream, done: false, f, tap: Tap::new() }
}

impl<S: Stream> Stream for HotTakeWhile<S> {
    type Item = S::Item;
    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        let Some(item) = ready!(this.stream.poll_next(cx)) else { return Poll::Ready(None) };
        if this.f.call(|f| f(&item)) == Some(true) {
            this.tap.saw(&item, this.f);
            Poll::Ready(Some(item))
        } else {
            *this.done = true;
            Poll::Ready(None)
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done { (0, Some(0)) } else { (0, self.stream.size_hint().1) }
    }
}

// ---- hot_flat_map ------------------------------------------------------------

/// The inner stream being read, in one allocation the operator keeps: each
/// new inner stream is written into it, and a rebuilt chain's operator
/// takes it over whole.
type InnerSlot<U> = Pin<Box<Option<U>>>;

/// `hot_flat_map`'s closure, writing the stream it makes into the slot (a
/// stream returned through the `dyn` call would be copied out of it and
/// stall on store forwarding).
type Expand<T, U> = dyn FnMut(T, Pin<&mut Option<U>>) + Send;

pin_project_lite::pin_project! {
    /// Stream for [`HmrStreamExt::hot_flat_map`](super::hot::HmrStreamExt::hot_flat_map).
    #[must_use = "streams do nothing unless polled"]
    pub struct HotFlatMap<S, U> where S: Stream, U: Stream {
        #[pin]
        stream: S,
        inner: Option<InnerSlot<U>>,
        handoff: Handoff<InnerSlot<U>>,
        f: Hot<Expand<S::Item, U>>,
        tap: Tap<U::Item>,
    }

    impl<S, U> PinnedDrop for HotFlatMap<S, U> where S: Stream, U: Stream {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.handoff.leave(this.inner.take());
        }
    }
}
debug_op!(HotFlatMap<S, U> where U: Stream);

pub(crate) fn flat_map<S, U, F>(stream: S, mut f: F) -> HotFlatMap<S, U>
where
    S: Stream,
    S::Item: 'static,
    U: Stream + Send + 'static,
    U::Item: 'static,
    F: FnMut(S::Item) -> U + Send + 'static,
{
    let shape = Shape::new(Op::HotFlatMap, &[Ty::of::<S::Item>(), Ty::of::<U>()]);
    let key = Shape::new(Op::HotFlatMap, &[Ty::of::<U>()]);
    let f: Box<Expand<S::Item, U>> = Box::new(move |item, mut slot| slot.set(Some(f(item))));
    let io = io::<S, HotFlatMap<S, U>>();
    let (f, handoff) = hot_stateful(Op::HotFlatMap, "hot_flat_map(fn)", io, (shape, key), f);
    HotFlatMap { stream, inner: Some(Box::pin(None)), handoff, f, tap: Tap::new() }
}

impl<S: Stream, U: Stream> Stream for HotFlatMap<S, U> {
    type Item = U::Item;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<U::Item>> {
        let mut this = self.project();
        if let Some(kept) = this.handoff.first_poll() {
            // The inner stream the living twin was reading goes on here.
            *this.inner = Some(kept);
        }
        let Some(slot) = this.inner.as_mut() else { return Poll::Ready(None) };
        loop {
            if let Some(inner) = slot.as_mut().as_pin_mut() {
                match inner.poll_next(cx) {
                    Poll::Ready(Some(out)) => {
                        this.tap.saw(&out, this.f);
                        return Poll::Ready(Some(out));
                    }
                    Poll::Ready(None) => slot.set(None),
                    Poll::Pending => return Poll::Pending,
                }
            }
            let Some(item) = ready!(this.stream.as_mut().poll_next(cx)) else {
                return Poll::Ready(None);
            };
            let Some(()) = this.f.call(|f| f(item, slot.as_mut())) else {
                return Poll::Ready(None);
            };
        }
    }
}

// ---- concurrent async maps ---------------------------------------------------

/// The futures in flight of a concurrent map, in order or not.
pub(crate) trait InFlight<B>: Default + Send + 'static {
    fn push(&mut self, fut: BoxFuture<'static, B>);
    fn len(&self) -> usize;
    fn poll_next_done(&mut self, cx: &mut Context<'_>) -> Poll<Option<B>>;
}

impl<B: Send + 'static> InFlight<B> for FuturesOrdered<BoxFuture<'static, B>> {
    fn push(&mut self, fut: BoxFuture<'static, B>) {
        self.push_back(fut);
    }
    fn len(&self) -> usize {
        FuturesOrdered::len(self)
    }
    fn poll_next_done(&mut self, cx: &mut Context<'_>) -> Poll<Option<B>> {
        Pin::new(self).poll_next(cx)
    }
}

impl<B: Send + 'static> InFlight<B> for FuturesUnordered<BoxFuture<'static, B>> {
    fn push(&mut self, fut: BoxFuture<'static, B>) {
        FuturesUnordered::push(self, fut);
    }
    fn len(&self) -> usize {
        FuturesUnordered::len(self)
    }
    fn poll_next_done(&mut self, cx: &mut Context<'_>) -> Poll<Option<B>> {
        Pin::new(self).poll_next(cx)
    }
}

pin_project_lite::pin_project! {
    /// Stream for [`HmrStreamExt::hot_then_concurrent`](super::hot::HmrStreamExt::hot_then_concurrent)
    /// (`R` = `FuturesOrdered`) and
    /// [`HmrStreamExt::hot_then_unordered`](super::hot::HmrStreamExt::hot_then_unordered)
    /// (`R` = `FuturesUnordered`).
    #[must_use = "streams do nothing unless polled"]
    pub struct HotConcurrent<S, B, R> where S: Stream, R: Default {
        #[pin]
        stream: S,
        ended: bool,
        limit: usize,
        running: R,
        handoff: Handoff<R>,
        f: Hot<dyn FnMut(S::Item) -> BoxFuture<'static, B> + Send>,
        tap: Tap<B>,
    }

    impl<S, B, R> PinnedDrop for HotConcurrent<S, B, R> where S: Stream, R: Default {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let running = std::mem::take(this.running);
            this.handoff.leave(Some(running));
        }
    }
}

impl<S: Stream, B, R: Default> fmt::Debug for HotConcurrent<S, B, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HotConcurrent")
            .field("item", &short_type_name::<S::Item>())
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

/// A concurrent map; `ordered` names it.
pub(crate) fn concurrent<S, B, R, Fut, F>(
    stream: S,
    limit: usize,
    (op, ordered): (Op, bool),
    mut f: F,
) -> HotConcurrent<S, B, R>
where
    S: Stream,
    S::Item: 'static,
    B: Send + 'static,
    R: InFlight<B> + Default,
    Fut: Future<Output = B> + Send + 'static,
    F: FnMut(S::Item) -> Fut + Send + 'static,
{
    // The limit is in the shape (a new limit rebuilds); the futures in
    // flight go over to the rebuilt operator all the same. 0 means 1.
    let limit = limit.max(1);
    let shape = Shape::new(op, &types::<S::Item, B>()).with_arg((limit, ordered));
    let key = Shape::new(op, &[Ty::of::<B>()]);
    let boxed: Box<dyn FnMut(S::Item) -> BoxFuture<'static, B> + Send> =
        Box::new(move |item| Box::pin(f(item)));
    let label = format!("{}({limit},fn)", op.name());
    let io = io::<S, HotConcurrent<S, B, R>>();
    let (f, handoff) = hot_stateful(op, &label, io, (shape, key), boxed);
    HotConcurrent {
        stream,
        ended: false,
        limit,
        running: R::default(),
        handoff,
        f,
        tap: Tap::new(),
    }
}

impl<S: Stream, B, R: InFlight<B>> Stream for HotConcurrent<S, B, R> {
    type Item = B;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<B>> {
        let mut this = self.project();
        if let Some(kept) = this.handoff.first_poll() {
            // The items the living twin had in flight finish here.
            *this.running = kept;
        }
        while !*this.ended && this.running.len() < *this.limit {
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    let Some(fut) = this.f.call(|f| f(item)) else {
                        *this.ended = true;
                        break;
                    };
                    this.running.push(fut);
                }
                Poll::Ready(None) => *this.ended = true,
                Poll::Pending => break,
            }
        }
        // A future that panics takes the others in flight with it: they
        // are dropped, not polled again.
        let polled = catch_unwind(AssertUnwindSafe(|| this.running.poll_next_done(cx)));
        match polled {
            Ok(Poll::Ready(Some(out))) => {
                this.tap.saw(&out, this.f);
                Poll::Ready(Some(out))
            }
            Ok(Poll::Ready(None)) if *this.ended => Poll::Ready(None),
            Ok(_) => Poll::Pending,
            Err(payload) => {
                *this.running = R::default();
                unwind_from(this.f.track, payload)
            }
        }
    }
}

// ---- tokio-time operators ----------------------------------------------------

/// A stateful operator with no closure: its state cell, in the graph.
struct StateNode(Box<dyn Any + Send + Sync>);

impl Node for StateNode {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn adopt(&self, _new: &dyn Node, _commit: &mut Commit) -> bool {
        // Same shape, nothing to swap: the living operator goes on.
        true
    }
    fn dispose(&self) {}
    fn state_cell(&self) -> Option<&(dyn Any + Send + Sync)> {
        Some(&*self.0)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Records a closure-less stateful operator; returns its hand-off.
fn stateful<St: Send + 'static>(
    op: Op,
    label: &str,
    io: Io,
    (shape, key): (Shape, Shape),
) -> (Handoff<St>, Named) {
    if !cfg!(feature = "enabled") {
        return (Handoff::new(None, true), Named::new(None, &crate::events::Name::default()));
    }
    let builder = Builder::new();
    builder.plain_code_before(io.input);
    let builder = builder.streams(io.out);
    let name = builder.chain(label);
    let named = Named::new(builder.track(), &name);
    let handoff = Handoff::new(builder.inherit::<St>(&key), false);
    let node = StateNode(Box::new(handoff.cell()));
    builder.finish_stateful(EntityKind::OperatorFun, op, name, (shape, key), Arc::new(node));
    (handoff, named)
}

/// Items an operator takes from an always-ready input in one poll before it
/// yields to the executor (a task must not spin).
const BUDGET: usize = 64;

/// `now + d`, or about 30 years from now where that overflows (as tokio's
/// `sleep` does): a `Duration::MAX` means never.
fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d).unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// What a debounce holds: the last item and when it may go.
type Debounced<T> = (Option<T>, Option<Instant>);

pin_project_lite::pin_project! {
    /// Stream for [`HmrStreamExt::hot_debounce`](super::hot::HmrStreamExt::hot_debounce).
    #[must_use = "streams do nothing unless polled"]
    pub struct HotDebounce<S> where S: Stream {
        #[pin]
        stream: S,
        ended: bool,
        quiet: Duration,
        pending: Option<S::Item>,
        sleep: Option<Pin<Box<Sleep>>>,
        handoff: Handoff<Debounced<S::Item>>,
        named: Named,
        tap: Tap<S::Item>,
    }

    impl<S> PinnedDrop for HotDebounce<S> where S: Stream {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let deadline = this.sleep.as_ref().map(|s| s.deadline());
            this.handoff.leave(Some((this.pending.take(), deadline)));
        }
    }
}
debug_op!(HotDebounce<S>);

pub(crate) fn debounce<S>(stream: S, quiet: Duration) -> HotDebounce<S>
where
    S: Stream,
    S::Item: Send + 'static,
{
    let shape = Shape::new(Op::HotDebounce, &[Ty::of::<S::Item>()]).with_arg(quiet);
    let key = Shape::new(Op::HotDebounce, &[Ty::of::<S::Item>()]);
    let label = format!("hot_debounce({quiet:?})");
    let io = io::<S, HotDebounce<S>>();
    let (handoff, named) = stateful(Op::HotDebounce, &label, io, (shape, key));
    let tap = Tap::new();
    HotDebounce { stream, ended: false, quiet, pending: None, sleep: None, handoff, named, tap }
}

impl<S: Stream> Stream for HotDebounce<S> {
    type Item = S::Item;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let mut this = self.project();
        if let Some((pending, deadline)) = this.handoff.first_poll() {
            // The item the living twin held, due when it was due.
            *this.pending = pending;
            *this.sleep = deadline.map(|d| Box::pin(tokio::time::sleep_until(d)));
        }
        let mut budget = BUDGET;
        while !*this.ended {
            if budget == 0 {
                // An input that is always ready: let the executor run others.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            budget -= 1;
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    // A newer item: the quiet time starts again.
                    *this.pending = Some(item);
                    let due = after(Instant::now(), *this.quiet);
                    match this.sleep.as_mut() {
                        Some(sleep) => sleep.as_mut().reset(due),
                        None => *this.sleep = Some(Box::pin(tokio::time::sleep_until(due))),
                    }
                }
                Poll::Ready(None) => *this.ended = true,
                Poll::Pending => break,
            }
        }
        if *this.ended {
            // The last item goes at once when the input ends.
            *this.sleep = None;
            let last = this.pending.take();
            if let Some(last) = &last {
                this.tap.saw(last, this.named);
            }
            return Poll::Ready(last);
        }
        if this.pending.is_some()
            && let Some(sleep) = this.sleep.as_mut()
        {
            ready!(sleep.as_mut().poll(cx));
            *this.sleep = None;
            let due = this.pending.take();
            if let Some(due) = &due {
                this.tap.saw(due, this.named);
            }
            return Poll::Ready(due);
        }
        Poll::Pending
    }
}

pin_project_lite::pin_project! {
    /// Stream for [`HmrStreamExt::hot_throttle`](super::hot::HmrStreamExt::hot_throttle).
    #[must_use = "streams do nothing unless polled"]
    pub struct HotThrottle<S> where S: Stream {
        #[pin]
        stream: S,
        every: Duration,
        // The next item passes from then on.
        open_at: Option<Instant>,
        handoff: Handoff<Instant>,
        named: Named,
        tap: Tap<S::Item>,
    }

    impl<S> PinnedDrop for HotThrottle<S> where S: Stream {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.handoff.leave(this.open_at.take());
        }
    }
}
debug_op!(HotThrottle<S>);

pub(crate) fn throttle<S>(stream: S, every: Duration) -> HotThrottle<S>
where
    S: Stream,
    S::Item: 'static,
{
    let shape = Shape::new(Op::HotThrottle, &[Ty::of::<S::Item>()]).with_arg(every);
    let key = Shape::new(Op::HotThrottle, &[Ty::of::<Instant>()]);
    let label = format!("hot_throttle({every:?})");
    let io = io::<S, HotThrottle<S>>();
    let (handoff, named) = stateful(Op::HotThrottle, &label, io, (shape, key));
    HotThrottle { stream, every, open_at: None, handoff, named, tap: Tap::new() }
}

impl<S: Stream> Stream for HotThrottle<S> {
    type Item = S::Item;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let mut this = self.project();
        if let Some(open_at) = this.handoff.first_poll() {
            *this.open_at = Some(open_at);
        }
        for _ in 0..BUDGET {
            let Some(item) = ready!(this.stream.as_mut().poll_next(cx)) else {
                return Poll::Ready(None);
            };
            let now = Instant::now();
            if this.open_at.is_none_or(|open| now >= open) {
                *this.open_at = Some(after(now, *this.every));
                this.tap.saw(&item, this.named);
                return Poll::Ready(Some(item));
            }
            // Within the interval: dropped.
        }
        // An input that is always ready: let the executor run others.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
