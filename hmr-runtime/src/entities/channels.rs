//! Channels a re-execution hands back: `broadcast` and `watch` (subjects),
//! `channel` (mpsc); their receivers are entities too (docs/design.md §5.6).

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt as _;
use futures_util::stream::{self, BoxStream};
use tokio::sync::{broadcast as bc, watch as wt};

use super::builder::{Builder, PartSpec};
use super::source::{Inner, Source, SwitchNode, keep_living, short_type_name};
use crate::events::EntityKind;
use crate::living::commit::{Boundary, Commit};
use crate::living::graph::{Follower, Node, Op, Shape, Ty, staged};

/// Why a send failed: the channel's track was disposed, or (broadcast) no
/// receiver is subscribed. Holds the value back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the channel is closed or has no receiver")
    }
}

impl<T> std::error::Error for SendError<T> {}

struct BroadcastInner<T> {
    /// `None` is the close message sent when the track is disposed.
    tx: bc::Sender<Option<T>>,
    closed: AtomicBool,
}

/// A broadcast channel (a hot subject) that survives re-execution
/// (docs/design.md §5.6). Clone it to share; every [`subscribe`](Broadcast::subscribe)d
/// stream gets every value sent after it subscribed.
pub struct Broadcast<T> {
    inner: Arc<BroadcastInner<T>>,
}

impl<T> Clone for Broadcast<T> {
    fn clone(&self) -> Self {
        Broadcast { inner: self.inner.clone() }
    }
}

impl<T> fmt::Debug for Broadcast<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broadcast")
            .field("item", &short_type_name::<T>())
            .field("receivers", &self.inner.tx.receiver_count())
            .field("closed", &self.inner.closed.load(Ordering::Acquire))
            .finish()
    }
}

impl<T: Clone + Send + 'static> Broadcast<T> {
    /// Sends `value` to every subscribed stream; returns how many there are.
    ///
    /// # Errors
    /// If the channel was closed (its track disposed) or nobody subscribed.
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(SendError(value));
        }
        match self.inner.tx.send(Some(value)) {
            Ok(receivers) => Ok(receivers),
            Err(bc::error::SendError(Some(value))) => Err(SendError(value)),
            Err(bc::error::SendError(None)) => unreachable!("a value was sent"),
        }
    }

    /// A stream of the values sent from now on. A receiver that falls more
    /// than the capacity behind skips the oldest values. It ends when the
    /// channel's track is disposed.
    ///
    /// Inside a tracked function run by a module, the receiver is an entity
    /// (docs/design.md §5.6): a re-execution's k-th `subscribe()` of this channel in
    /// the same scope hands back the *living* receiver, which takes over
    /// where the old one stopped: a chain rebuilt or switched over it loses
    /// and doubles nothing.
    #[must_use = "streams do nothing unless polled"]
    pub fn subscribe(&self) -> BoxStream<'static, T> {
        let make = || -> Inner<T> {
            let rx = self.inner.tx.subscribe();
            // Closed before this receiver existed: it would never see the close.
            // (Closing sets the flag before it sends, so a receiver made before
            // the send sees the close message.)
            if self.inner.closed.load(Ordering::Acquire) {
                return stream::poll_fn(|_| {
                    Boundary::note_input_disposed();
                    std::task::Poll::Ready(None)
                })
                .boxed();
            }
            stream::unfold(rx, |mut rx| async move {
                loop {
                    match rx.recv().await {
                        Ok(Some(value)) => return Some((value, rx)),
                        Ok(None) | Err(bc::error::RecvError::Closed) => {
                            Boundary::note_input_disposed();
                            return None;
                        }
                        Err(bc::error::RecvError::Lagged(_)) => {}
                    }
                }
            })
            .boxed()
        };
        receiver(self.inner.clone(), "broadcast.subscribe()", make)
    }

    /// Whether the channel was closed (its track disposed).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }
}

/// A channel that its track's disposal closes.
trait Close: Send + Sync + 'static {
    /// Close it for senders and end its streams (once).
    fn close(&self);
}

impl<T: Send + 'static> Close for BroadcastInner<T> {
    fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            let _ = self.tx.send(None);
        }
    }
}

/// The channel a track built. A re-execution that gets it back holds a
/// [`Follower`] of it, with nothing staged: there is nothing to take over.
struct ChannelNode<C>(Arc<C>);

impl<C: Close> Node for ChannelNode<C> {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn adopt(&self, follower: &dyn Node, _commit: &mut Commit) -> bool {
        staged::<Self, ()>(follower).is_some()
    }
    fn dispose(&self) {
        self.0.close();
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Records a channel: the living one handed back, or `new()` built.
fn subject<C: Close>(
    builder: Builder,
    op: Op,
    name: String,
    shape: Shape,
    new: impl FnOnce() -> C,
) -> Arc<C> {
    let part = PartSpec { op, kind: Some(EntityKind::Constructor), name: name.into(), shape };
    let (inner, _) = builder.reuse_or_build(part, |_, living| {
        if let Some(living) = living {
            let living: Arc<ChannelNode<C>> = living;
            (living.0.clone(), Arc::new(Follower::new(living, ())) as Arc<dyn Node>)
        } else {
            let inner = Arc::new(new());
            (inner.clone(), Arc::new(ChannelNode(inner)))
        }
    });
    inner
}

/// A broadcast channel holding up to `capacity` values per receiver.
///
/// Inside a tracked function, a re-execution gets the *same* channel back
/// if the item type and the capacity are the same: streams subscribed in
/// the old version receive what the new version sends. A different capacity
/// or item type builds a new channel (`structural`); the old one is closed
/// at commit. Disposing the track closes it: its streams end.
///
/// # Panics
/// If `capacity` is 0 (as tokio's broadcast channel).
#[must_use]
pub fn broadcast<T>(capacity: usize) -> Broadcast<T>
where
    T: Clone + Send + Sync + 'static,
{
    let builder = Builder::new();
    let shape = Shape::new(Op::Broadcast, &[Ty::of::<T>()]).with_arg(capacity);
    let name = format!("broadcast({capacity})");
    let inner = subject(builder, Op::Broadcast, name, shape, || {
        assert!(capacity > 0, "hmr_runtime::broadcast: the capacity must be at least 1");
        BroadcastInner { tx: bc::channel(capacity).0, closed: AtomicBool::new(false) }
    });
    Broadcast { inner }
}

struct WatchInner<T> {
    tx: wt::Sender<T>,
    closed: AtomicBool,
}

/// A channel holding one current value (a behaviour subject) that survives
/// re-execution with its value (docs/design.md §5.6).
pub struct Watch<T> {
    inner: Arc<WatchInner<T>>,
}

impl<T> Clone for Watch<T> {
    fn clone(&self) -> Self {
        Watch { inner: self.inner.clone() }
    }
}

impl<T: fmt::Debug> fmt::Debug for Watch<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch")
            .field("value", &*self.inner.tx.borrow())
            .field("closed", &self.inner.closed.load(Ordering::Acquire))
            .finish()
    }
}

impl<T: Clone + Send + Sync + 'static> Watch<T> {
    /// Sets the value and wakes the streams.
    ///
    /// # Errors
    /// If the channel was closed (its track disposed).
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(SendError(value));
        }
        self.inner.tx.send_replace(value);
        Ok(())
    }

    /// Changes the value in place and wakes the streams.
    pub fn send_modify(&self, f: impl FnOnce(&mut T)) {
        if !self.inner.closed.load(Ordering::Acquire) {
            self.inner.tx.send_modify(f);
        }
    }

    /// The current value.
    #[must_use]
    pub fn get(&self) -> T {
        self.inner.tx.borrow().clone()
    }

    /// A stream of the current value, then of every change (changes in
    /// quick succession may be seen once, as the latest). It ends when the
    /// channel's track is disposed.
    #[must_use = "streams do nothing unless polled"]
    ///
    /// Inside a tracked function run by a module, the receiver is an entity,
    /// as [`Broadcast::subscribe`]'s: a re-execution gets the living one back,
    /// which does not repeat the value it last yielded.
    pub fn subscribe(&self) -> BoxStream<'static, T> {
        let make = || -> Inner<T> {
            let mut rx = self.inner.tx.subscribe();
            rx.mark_changed();
            let inner = self.inner.clone();
            stream::unfold((rx, inner), |(mut rx, inner)| async move {
                let closed = |inner: &WatchInner<T>| inner.closed.load(Ordering::Acquire);
                if rx.changed().await.is_err() || closed(&inner) {
                    Boundary::note_input_disposed();
                    return None;
                }
                let value = rx.borrow_and_update().clone();
                Some((value, (rx, inner)))
            })
            .boxed()
        };
        receiver(self.inner.clone(), "watch.subscribe()", make)
    }

    /// Whether the channel was closed (its track disposed).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }
}

impl<T: Send + Sync + 'static> Close for WatchInner<T> {
    fn close(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            // Wakes the streams, which see it closed.
            self.tx.send_modify(|_| {});
        }
    }
}

/// A watch channel holding `initial` until a value is sent.
///
/// Inside a tracked function, a re-execution gets the *same* channel back,
/// with its current value, if the item type and `initial` (compared with
/// `PartialEq`) are the same; otherwise a new channel is built
/// (`structural`) and the old one closed at commit. Disposing the track
/// closes it: its streams end.
#[must_use]
pub fn watch<T>(initial: T) -> Watch<T>
where
    T: Clone + PartialEq + fmt::Debug + Send + Sync + 'static,
{
    let builder = Builder::new();
    let name = format!("watch({initial:?})");
    let shape = Shape::new(Op::Watch, &[Ty::of::<T>()]).with_arg(initial.clone());
    let inner = subject(builder, Op::Watch, name, shape, || WatchInner {
        tx: wt::channel(initial).0,
        closed: AtomicBool::new(false),
    });
    Watch { inner }
}

/// A channel's identity in a receiver's shape: the channel itself (kept
/// alive, so its address is never another channel's).
struct ChannelId(Arc<dyn std::any::Any + Send + Sync>);

impl PartialEq for ChannelId {
    fn eq(&self, other: &ChannelId) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&other.0))
    }
}

/// A receiver of `channel`, an entity inside a module's scope: the k-th
/// receiver of that channel in the scope is handed back by a re-execution
/// (a waiting handle on the living receiver), built by `make` otherwise.
fn receiver<C, T>(
    channel: Arc<C>,
    name: &str,
    make: impl FnOnce() -> Inner<T>,
) -> BoxStream<'static, T>
where
    C: Send + Sync + 'static,
    T: Send + 'static,
{
    let builder = Builder::new();
    if !builder.in_module() {
        return make();
    }
    let builder = builder.streams(std::any::type_name::<BoxStream<'static, T>>());
    let shape = Shape::new(Op::Receiver, &[Ty::of::<T>()]).with_arg(ChannelId(channel));
    let part = PartSpec { op: Op::Receiver, kind: None, name: name.into(), shape };
    let (handle, _) = builder.reuse_or_build(part, |_, living| {
        let living: Option<Arc<SwitchNode<T>>> = living;
        if let Some(living) = living {
            // The handle first: with it counted, the receiver cannot be
            // torn down after the check below.
            let handle = Source::waiting(living.switch.clone());
            if !living.switch.is_torn() {
                return (handle, keep_living(living));
            }
            // Every handle was dropped (the pipeline that held it stopped,
            // its runtime shut down): the receiver is gone, a new one is made.
        }
        let (handle, switch) = Source::first(make(), false);
        (handle, Arc::new(SwitchNode::new(switch)) as Arc<dyn Node>)
    });
    handle.boxed()
}

/// Why [`Sender::try_send`] failed. Holds the value back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The channel is full: wait ([`Sender::send`]) or drop the value.
    Full(T),
    /// The channel's track was disposed, or its receiver is gone.
    Closed(T),
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "Full(..)",
            TrySendError::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "the channel is full",
            TrySendError::Closed(_) => "the channel is closed",
        })
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// The sending half of a [`channel`]. Clone it to send from several places.
pub struct Sender<T> {
    tx: tokio::sync::mpsc::Sender<T>,
    closed: Arc<AtomicBool>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender { tx: self.tx.clone(), closed: self.closed.clone() }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("item", &short_type_name::<T>())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> Sender<T> {
    /// Whether sends fail: the channel's track was disposed, or its receiver is gone.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) || self.tx.is_closed()
    }
}

impl<T: Send> Sender<T> {
    /// Sends `value`, waiting while the channel is full (backpressure).
    ///
    /// # Errors
    /// If the channel's track was disposed or its receiver is gone.
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(SendError(value));
        }
        self.tx.send(value).await.map_err(|e| SendError(e.0))
    }

    /// Sends `value` if there is room now.
    ///
    /// # Errors
    /// [`TrySendError::Full`] if the channel is full, [`TrySendError::Closed`]
    /// if its track was disposed or its receiver is gone.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(TrySendError::Closed(value));
        }
        self.tx.try_send(value).map_err(|e| match e {
            tokio::sync::mpsc::error::TrySendError::Full(v) => TrySendError::Full(v),
            tokio::sync::mpsc::error::TrySendError::Closed(v) => TrySendError::Closed(v),
        })
    }
}

/// The receiving half of a [`channel`]: a stream of the values sent, in
/// order. It ends when every sender is dropped, or when the channel's
/// track is disposed.
///
/// A re-execution hands back a handle on the *living* receiver: it receives
/// once the handle it replaces is dropped (the pipeline that held it was
/// rebuilt or switched), from where that one stopped.
#[must_use = "streams do nothing unless polled"]
pub struct Receiver<T> {
    inner: Source<T>,
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("item", &short_type_name::<T>()).finish_non_exhaustive()
    }
}

impl<T: 'static> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        std::pin::Pin::new(&mut self.inner).poll_next(cx)
    }
}

/// The living mpsc channel of a track. It holds its senders weakly: the
/// receiver ends when every sender handed out is dropped.
struct MpscNode<T> {
    tx: tokio::sync::mpsc::WeakSender<T>,
    closed: Arc<AtomicBool>,
    receiver: SwitchNode<T>,
}

impl<T: Send + 'static> Node for MpscNode<T> {
    fn into_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self
    }
    fn adopt(&self, follower: &dyn Node, _commit: &mut Commit) -> bool {
        staged::<Self, ()>(follower).is_some()
    }
    fn dispose(&self) {
        self.closed.store(true, Ordering::Release);
        // The receiver is dropped (at its next poll, or now if nobody holds
        // it): senders waiting for room fail.
        self.receiver.dispose();
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A bounded mpsc channel of `capacity` values, with tokio's semantics
/// (backpressure, cloneable [`Sender`]s, one [`Receiver`]) that survives
/// re-execution (docs/design.md §5.6).
///
/// Inside a tracked function, a re-execution gets the *same* channel back
/// if the item type and capacity are the same: senders held outside the
/// module (a request handler, another task) keep feeding the living
/// pipeline, each value received once, across fn-only and structural
/// reloads. A changed capacity or item type builds a new channel (the old
/// one is closed at commit), and so does a channel whose senders were all
/// dropped or whose receiver was (its pipeline stopped). Disposing the track
/// closes it: sends fail and the receiver ends. In a `#[hmr_track(reset)]`
/// scope it is rebuilt by every re-execution.
///
/// ```
/// use futures::StreamExt;
/// use hmr_runtime::channel;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let (tx, rx) = channel::<u32>(8);
/// tx.send(1).await.unwrap();
/// tx.try_send(2).unwrap();
/// drop(tx);
/// assert_eq!(rx.collect::<Vec<_>>().await, [1, 2]);
/// # });
/// ```
///
/// # Panics
/// If `capacity` is 0 (as tokio's mpsc channel).
pub fn channel<T: Send + 'static>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "hmr_runtime::channel: the capacity must be at least 1");
    let builder = Builder::new();
    let shape = Shape::new(Op::Channel, &[Ty::of::<T>()]).with_arg(capacity);
    let name = format!("channel({capacity})").into();
    let part = PartSpec { op: Op::Channel, kind: Some(EntityKind::Constructor), name, shape };
    let (pair, _) = builder.reuse_or_build(part, |_, living| {
        let living: Option<Arc<MpscNode<T>>> = living;
        if let Some(living) = living {
            // The handle first: with it counted, the receiver cannot be
            // torn down after the check below.
            let rx = Receiver { inner: Source::waiting(living.receiver.switch.clone()) };
            // A channel whose senders were all dropped, or whose receiver
            // was (its pipeline stopped), is over: a new one is made.
            if let Some(tx) = living.tx.upgrade()
                && !living.receiver.switch.is_torn()
            {
                let tx = Sender { tx, closed: living.closed.clone() };
                return ((tx, rx), Arc::new(Follower::new(living, ())) as Arc<dyn Node>);
            }
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel(capacity);
        let closed = Arc::new(AtomicBool::new(false));
        let stream = {
            let closed = closed.clone();
            stream::poll_fn(move |cx| {
                let polled = rx.poll_recv(cx);
                if let std::task::Poll::Ready(None) = polled
                    && closed.load(Ordering::Acquire)
                {
                    Boundary::note_input_disposed();
                }
                polled
            })
        };
        let (handle, switch) = Source::first(Box::pin(stream), false);
        let node = MpscNode {
            tx: tx.downgrade(),
            closed: closed.clone(),
            receiver: SwitchNode::new(switch),
        };
        ((Sender { tx, closed }, Receiver { inner: handle }), Arc::new(node))
    });
    pair
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_builder_knows_receiver_as_a_stable_stream() {
        let name = std::any::type_name::<super::Receiver<u8>>();
        let path = crate::entities::builder::STABLE[1];
        assert!(name.strip_prefix(path).is_some_and(|rest| rest.starts_with('<')), "{name}");
    }
}
