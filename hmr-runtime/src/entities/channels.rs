//! Subjects: `broadcast` and `watch` channels that a re-execution hands back.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt as _;
use futures_util::stream::{self, BoxStream};
use tokio::sync::{broadcast as bc, watch as wt};

use super::graph::{Builder, Follower, Node, Shape, Ty, staged};
use super::source::short_type_name;
use crate::events::EntityKind;

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
/// (DESIGN §7). Clone it to share; every [`subscribe`](Broadcast::subscribe)d
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
    #[must_use = "streams do nothing unless polled"]
    pub fn subscribe(&self) -> BoxStream<'static, T> {
        let rx = self.inner.tx.subscribe();
        // Closed before this receiver existed: it would never see the close.
        // (Closing sets the flag before it sends, so a receiver made before
        // the send sees the close message.)
        if self.inner.closed.load(Ordering::Acquire) {
            return stream::empty().boxed();
        }
        stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(Some(value)) => return Some((value, rx)),
                    Ok(None) | Err(bc::error::RecvError::Closed) => return None,
                    Err(bc::error::RecvError::Lagged(_)) => {}
                }
            }
        })
        .boxed()
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
    fn adopt(&self, follower: &dyn Node) -> bool {
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
fn channel<C: Close>(
    builder: Builder,
    op: &'static str,
    name: String,
    shape: Shape,
    new: impl FnOnce() -> C,
) -> Arc<C> {
    if let Some(living) = builder.living::<ChannelNode<C>>(op, &shape) {
        let inner = living.0.clone();
        builder.finish(
            EntityKind::Constructor,
            op,
            name,
            shape,
            Arc::new(Follower::new(living, ())),
        );
        return inner;
    }
    let inner = Arc::new(new());
    builder.finish(EntityKind::Constructor, op, name, shape, Arc::new(ChannelNode(inner.clone())));
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
    let shape = Shape::new("broadcast", &[Ty::of::<T>()]).with_arg(capacity);
    let name = format!("broadcast({capacity})");
    let inner = channel(builder, "broadcast", name, shape, || {
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
/// re-execution with its value (DESIGN §7).
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
    pub fn subscribe(&self) -> BoxStream<'static, T> {
        let mut rx = self.inner.tx.subscribe();
        rx.mark_changed();
        let inner = self.inner.clone();
        stream::unfold((rx, inner), |(mut rx, inner)| async move {
            rx.changed().await.ok()?;
            if inner.closed.load(Ordering::Acquire) {
                return None;
            }
            let value = rx.borrow_and_update().clone();
            Some((value, (rx, inner)))
        })
        .boxed()
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
    let shape = Shape::new("watch", &[Ty::of::<T>()]).with_arg(initial.clone());
    let inner = channel(builder, "watch", name, shape, || WatchInner {
        tx: wt::channel(initial).0,
        closed: AtomicBool::new(false),
    });
    Watch { inner }
}
