//! The living graph: the parts the entity types of this crate built in each
//! track scope, and how a committed re-execution swaps into them (docs/design.md §5.1, §5.3).
//!
//! Every execution of a scope collects the parts it builds, in order, into
//! one [`Built`]; the store's entity for the track maps to it (a
//! `Hook::Graph`). A re-execution builds a new `Built` next to the living
//! one. Each new part is compared with the living part at the same position:
//! while every part so far has the same [`Shape`], the new part gets the
//! living part's shape number, so the track's final entity has the living
//! entity's shape exactly when the whole chain matches (`fn-only`).
//!
//! The model knows nothing of the store: the builder (`entities::builder`)
//! records parts into it, and the dispatcher finds the two versions of a
//! committed update through the entity hooks and applies it here.
//!
//! At commit ([`apply`]) the living parts take over what the new ones carry,
//! staged under one [`Commit`] (every running task takes it between two
//! items, see [`commit`](super::commit)):
//! - `fn-only`: each living part *adopts* its twin (a closure, an inner
//!   stream, a handler); the new parts are dropped, never polled;
//! - `structural` / `reset`: the new parts replace the living ones, except
//!   *followers*: handles a re-execution got back to a living subscription,
//!   stable stream or channel, whose living node is *relinked* to the new
//!   pipeline and stays. Living parts nobody took over are disposed.

use std::any::{Any, TypeId};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::commit::Commit;
use crate::events::{Change, EntityId, Name};

pub(crate) use super::sync::std_lock as lock;

/// What an entity's disposal runs besides its parts: an
/// [`on_dispose`](crate::on_dispose) callback.
pub(crate) type Disposer = Box<dyn FnOnce() + Send>;

/// A value that may be compared with another of unknown type.
pub(crate) trait Arg: Send {
    fn same(&self, other: &dyn Arg) -> bool;
    fn as_any(&self) -> &dyn Any;
}

impl<T: PartialEq + Send + 'static> Arg for T {
    fn same(&self, other: &dyn Arg) -> bool {
        other.as_any().downcast_ref::<T>().is_some_and(|o| o == self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// What a part of the graph is: the operator or entity type that built it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// `source(stream)`: switches to its new inner stream on every
    /// re-execution.
    Source,
    /// `input(deps, make)`: switches when its deps change.
    Input,
    /// A returned stream: switches when its scope rebuilt it.
    Stream,
    /// A channel's receiver.
    Receiver,
    /// A subscription (`subscribe`, `subscribe_async`).
    Subscribe,
    /// A task (`spawn`).
    Spawn,
    /// `channel(capacity)`.
    Channel,
    /// `broadcast(capacity)`.
    Broadcast,
    /// `watch(initial)`.
    Watch,
    HotMap,
    HotFilter,
    HotFilterMap,
    HotInspect,
    HotScan,
    HotThen,
    HotThenConcurrent,
    HotThenUnordered,
    HotTakeWhile,
    HotFlatMap,
    HotDebounce,
    HotThrottle,
}

impl Op {
    /// Every op, in declaration order (`Op::ALL[op as usize] == op`).
    const ALL: [Op; 21] = [
        Op::Source,
        Op::Input,
        Op::Stream,
        Op::Receiver,
        Op::Subscribe,
        Op::Spawn,
        Op::Channel,
        Op::Broadcast,
        Op::Watch,
        Op::HotMap,
        Op::HotFilter,
        Op::HotFilterMap,
        Op::HotInspect,
        Op::HotScan,
        Op::HotThen,
        Op::HotThenConcurrent,
        Op::HotThenUnordered,
        Op::HotTakeWhile,
        Op::HotFlatMap,
        Op::HotDebounce,
        Op::HotThrottle,
    ];

    /// Its name, as entity names show it (`hot_map`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Source => "source",
            Op::Input => "input",
            Op::Stream => "stream",
            Op::Receiver => "receiver",
            Op::Subscribe => "subscribe",
            Op::Spawn => "spawn",
            Op::Channel => "channel",
            Op::Broadcast => "broadcast",
            Op::Watch => "watch",
            Op::HotMap => "hot_map",
            Op::HotFilter => "hot_filter",
            Op::HotFilterMap => "hot_filter_map",
            Op::HotInspect => "hot_inspect",
            Op::HotScan => "hot_scan",
            Op::HotThen => "hot_then",
            Op::HotThenConcurrent => "hot_then_concurrent",
            Op::HotThenUnordered => "hot_then_unordered",
            Op::HotTakeWhile => "hot_take_while",
            Op::HotFlatMap => "hot_flat_map",
            Op::HotDebounce => "hot_debounce",
            Op::HotThrottle => "hot_throttle",
        }
    }

    /// [`name`](Op::name) as a shared [`Name`], made once per op.
    pub(crate) fn shared_name(self) -> Name {
        static NAMES: std::sync::LazyLock<Vec<Name>> =
            std::sync::LazyLock::new(|| Op::ALL.iter().map(|op| Name::from(op.name())).collect());
        NAMES[self as usize].clone()
    }

    /// A stream part: a switchable stream of this crate or a hot operator,
    /// which a consumer built next reads directly.
    pub(crate) fn is_stream(self) -> bool {
        !matches!(
            self,
            Op::Receiver | Op::Subscribe | Op::Spawn | Op::Channel | Op::Broadcast | Op::Watch
        )
    }

    /// Parts of this op are matched with living ones among those of the same
    /// shape (a channel's receivers: one per channel), not by position alone.
    pub(crate) fn told_apart_by_shape(self) -> bool {
        self == Op::Receiver
    }

    /// A connection: its consumers stay connected to it, so a `reset`
    /// scope keeps it (and rebuilds channels, tasks and operators).
    pub(crate) fn is_connection(self) -> bool {
        matches!(self, Op::Source | Op::Input | Op::Stream | Op::Subscribe | Op::Receiver)
    }
}

/// One part's shape: the operator, the types it carries, its non-closure
/// argument (a seed, a capacity, an initial value). Closures are not part of it.
pub(crate) struct Shape {
    op: Op,
    /// Up to three types (item, state, output); no allocation.
    types: [Option<Ty>; 3],
    /// Behind a lock so that a seed need only be `Send`.
    arg: Option<Mutex<Box<dyn Arg>>>,
}

/// A type in a shape: its identity and its layout.
///
/// A code patch that changes a type's fields keeps its `TypeId` (the same path
/// in the same crate), so identity alone would let the new code read values
/// the old code laid out. Size and alignment are compared too: an edit that
/// changes either (a field added or removed, mostly) rebuilds the entity
/// instead. An edit that keeps both (fields reordered, `u32` → `f32`) is not
/// seen; it needs a restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ty {
    id: TypeId,
    size: usize,
    align: usize,
}

impl Ty {
    pub(crate) fn of<T: 'static>() -> Ty {
        Ty { id: TypeId::of::<T>(), size: size_of::<T>(), align: align_of::<T>() }
    }
}

impl Shape {
    pub(crate) fn new(op: Op, types: &[Ty]) -> Shape {
        debug_assert!(types.len() <= 3, "a shape carries at most three types");
        let mut kept = [None; 3];
        for (slot, ty) in kept.iter_mut().zip(types) {
            *slot = Some(*ty);
        }
        Shape { op, types: kept, arg: None }
    }

    pub(crate) fn with_arg(mut self, arg: impl PartialEq + Send + 'static) -> Shape {
        self.arg = Some(Mutex::new(Box::new(arg)));
        self
    }

    /// The same operator over the same types, whatever its argument.
    pub(crate) fn same_kind(&self, other: &Shape) -> bool {
        self.op == other.op && self.types == other.types
    }

    pub(crate) fn same(&self, other: &Shape) -> bool {
        self.op == other.op
            && self.types == other.types
            && match (&self.arg, &other.arg) {
                (None, None) => true,
                (Some(a), Some(b)) => lock(a).same(&**lock(b)),
                _ => false,
            }
    }
}

/// Something a part of the graph holds: the shared half of an entity.
pub(crate) trait Node: Send + Sync + 'static {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    /// `fn-only`: take over what `new`, of the same shape, was built with,
    /// staged under `commit` (visible from the commit's epoch).
    /// `false`: `new` cannot be adopted and replaces this node.
    fn adopt(&self, new: &dyn Node, commit: &mut Commit) -> bool;
    /// For a follower: the living node it stands for.
    fn follows(&self) -> Option<Arc<dyn Node>> {
        None
    }
    /// On a living node, with its follower from a rebuilding re-execution:
    /// take the rebuilt pipeline (and handler).
    fn relink(&self, follower: &dyn Node, commit: &mut Commit) {
        self.adopt(follower, commit);
    }
    /// The track is gone: stop tasks, close channels, end streams.
    fn dispose(&self);
    /// A stateful operator's hand-off cell (a [`StateCell`]), through which
    /// a rebuilt chain's twin takes its state.
    fn state_cell(&self) -> Option<&(dyn Any + Send + Sync)> {
        None
    }
    fn as_any(&self) -> &dyn Any;
}

/// A re-execution's stand-in for a living node `N`: what it built (`S`: a
/// new inner stream, pipeline, handler or future), staged until its module
/// commits. `N`'s [`Node::adopt`] and [`Node::relink`] take it; a rollback
/// disposes the follower, which drops it.
pub(crate) struct Follower<N, S> {
    target: Arc<N>,
    staged: Mutex<Option<S>>,
}

impl<N, S> Follower<N, S> {
    pub(crate) fn new(target: Arc<N>, staged: S) -> Follower<N, S> {
        Follower { target, staged: Mutex::new(Some(staged)) }
    }
}

/// What the follower `node` staged for an `N`: `None` if `node` is no such
/// follower, `Some(None)` if it was taken already.
#[allow(clippy::option_option, reason = "not a follower, or a follower already taken")]
pub(crate) fn staged<N: 'static, S: 'static>(node: &dyn Node) -> Option<Option<S>> {
    let follower = node.as_any().downcast_ref::<Follower<N, S>>()?;
    Some(lock(&follower.staged).take())
}

impl<N: Node, S: Send + 'static> Node for Follower<N, S> {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn adopt(&self, _new: &dyn Node, _commit: &mut Commit) -> bool {
        false
    }
    fn follows(&self) -> Option<Arc<dyn Node>> {
        Some(self.target.clone())
    }
    fn dispose(&self) {
        drop(lock(&self.staged).take());
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Where a stateful operator leaves its state when its chain is dropped, for
/// the twin in a rebuilt chain to take (see `Builder::inherit`).
pub(crate) type StateCell<St> = Mutex<Kept<St>>;

/// A [`StateCell`]'s content.
pub(crate) struct Kept<St> {
    /// The state its operator left when dropped.
    pub(crate) state: Option<St>,
    /// The cell of the living twin it was built to take over from, until
    /// its first poll: an operator dropped before any poll (its version
    /// overtaken by the next) leaves nothing, and the next one looks past it.
    pub(crate) before: Option<Arc<StateCell<St>>>,
}

pub(crate) struct Part {
    pub(crate) op: Op,
    /// A stream part's own stream type (`type_name`): what the next part of
    /// its chain reads when nothing stands between them.
    pub(crate) out: Option<&'static str>,
    /// A stateful operator's kind, state type and seed: what a rebuilt
    /// chain's operator must match to take its state.
    pub(crate) state: Option<Box<Shape>>,
    /// The entity id it was recorded under.
    pub(crate) entity: EntityId,
    /// Its entity was captured (announced in an event).
    pub(crate) captured: bool,
    pub(crate) shape: Shape,
    /// The shape number of the chain up to this part.
    pub(crate) number: u64,
    pub(crate) name: Name,
    pub(crate) node: Arc<dyn Node>,
}

/// The living version of a track, as an execution's first part found it.
#[derive(Default)]
pub(crate) enum Lookup {
    #[default]
    NotYet,
    Found(Option<Arc<Built>>),
}

/// The parts one execution of a scope built, in order.
#[derive(Default)]
pub(crate) struct Built {
    pub(crate) parts: Mutex<Vec<Part>>,
    /// The living version of the track, looked up by the first part built.
    pub(crate) living: Mutex<Lookup>,
    /// `on_dispose` callbacks registered for its entity.
    pub(crate) callbacks: Mutex<Vec<Disposer>>,
    /// A part did not match the living part at its position.
    pub(crate) diverged: AtomicBool,
    /// Plain code in a chain made it diverge (see `Builder::chained`).
    pub(crate) plain: AtomicBool,
    pub(crate) disposed: AtomicBool,
}

impl std::fmt::Debug for Built {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<Name> = lock(&self.parts).iter().map(|p| p.name.clone()).collect();
        f.debug_struct("Built").field("parts", &names).finish_non_exhaustive()
    }
}

impl Built {
    /// Whether `entity` is the entity of a part it built and captured.
    pub(crate) fn holds(&self, entity: EntityId) -> bool {
        lock(&self.parts).iter().rev().any(|p| p.captured && p.entity == entity)
    }

    /// Runs `f` when it is disposed (after its parts).
    /// Runs `f` when the graph is disposed; at once if it is (or is being)
    /// disposed already.
    pub(crate) fn on_dispose(&self, f: Disposer) {
        let mut callbacks = lock(&self.callbacks);
        if self.disposed.load(Ordering::Acquire) {
            drop(callbacks);
            f();
        } else {
            callbacks.push(f);
        }
    }

    pub(crate) fn dispose(&self) {
        if self.disposed.swap(true, Ordering::AcqRel) {
            return;
        }
        let parts = std::mem::take(&mut *lock(&self.parts));
        for part in parts.iter().rev() {
            part.node.dispose();
        }
        let callbacks = std::mem::take(&mut *lock(&self.callbacks));
        for callback in callbacks {
            callback();
        }
    }
}

/// What [`apply`] made of a committed update.
pub(crate) enum Applied {
    /// The living graph stays as it is, its parts having taken over the new
    /// ones': the new entity is now its entity. `spent` are the new parts,
    /// to drop once the commit is published (they hold user values: seeds,
    /// initial values).
    InPlace { spent: Vec<Part> },
    /// The new entity's graph: new parts and the living ones kept; the
    /// living parts it replaced are to be disposed once the commit is
    /// published.
    Rebuilt { graph: Arc<Built>, replaced: Vec<Arc<dyn Node>> },
}

/// Stage a committed update (`change`) of the `living` graph to the `fresh`
/// one under `commit` (see the module docs).
pub(crate) fn apply(
    change: Change,
    living: &Arc<Built>,
    fresh: &Arc<Built>,
    commit: &mut Commit,
) -> Applied {
    if Arc::ptr_eq(living, fresh) {
        return Applied::InPlace { spent: Vec::new() };
    }
    // Versions before are not needed any more (nor kept alive).
    drop(std::mem::take(&mut *lock(&fresh.living)));
    drop(std::mem::take(&mut *lock(&living.living)));
    let old: Vec<Part> = std::mem::take(&mut *lock(&living.parts));
    let new: Vec<Part> = std::mem::take(&mut *lock(&fresh.parts));
    fresh.disposed.store(true, Ordering::Release);
    // Each new part either hands what it carries to a living node, which
    // stays, or replaces the living part at its position. What living parts
    // take is staged under `commit`: a running task sees all of it from one
    // item on, whatever the order here (docs/design.md §7.3).
    // Most chains have a few parts: their slots live on the stack.
    let mut inline: [Option<Arc<dyn Node>>; 4] = Default::default();
    let mut spilled: Vec<Option<Arc<dyn Node>>>;
    let kept: &mut [Option<Arc<dyn Node>>] = if new.len() <= inline.len() {
        &mut inline[..new.len()]
    } else {
        spilled = vec![None; new.len()];
        &mut spilled
    };
    for (index, part) in new.iter().enumerate().rev() {
        let node = if let Some(target) = part.node.follows() {
            match change {
                Change::FnOnly => {
                    target.adopt(&*part.node, commit);
                }
                Change::Structural | Change::Reset => target.relink(&*part.node, commit),
            }
            Some(target)
        } else {
            old.get(index)
                .filter(|old| {
                    change == Change::FnOnly
                        && old.number == part.number
                        && old.node.adopt(&*part.node, commit)
                })
                .map(|old| old.node.clone())
        };
        kept[index] = node;
    }
    let unchanged = old.len() == new.len()
        && kept.iter().zip(&old).all(|(k, o)| k.as_ref().is_some_and(|k| same_node(k, &o.node)));
    if unchanged {
        // An update in place: the living graph stays as it is.
        *lock(&living.parts) = old;
        return Applied::InPlace { spent: new };
    }
    let merged: Vec<Part> = new
        .into_iter()
        .zip(kept.iter())
        .map(|(part, kept)| match kept {
            Some(node) => Part { node: node.clone(), ..part },
            None => part,
        })
        .collect();
    let graph = Arc::new(Built { parts: Mutex::new(merged), ..Built::default() });
    living.disposed.store(true, Ordering::Release);
    let replaced = old
        .iter()
        .rev()
        .filter(|part| !kept.iter().flatten().any(|k| same_node(k, &part.node)))
        .map(|part| part.node.clone())
        .collect();
    commit.discard(old);
    Applied::Rebuilt { graph, replaced }
}

fn same_node(a: &Arc<dyn Node>, b: &Arc<dyn Node>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

#[cfg(test)]
mod tests {
    use super::{Op, Shape, Ty};

    #[test]
    fn every_op_is_listed_in_order_and_named_once() {
        for (i, op) in Op::ALL.iter().enumerate() {
            assert_eq!(*op as usize, i, "{op:?}");
            assert_eq!(op.shared_name().as_str(), op.name());
        }
    }

    #[test]
    fn a_type_whose_layout_changed_is_another_shape() {
        // What a patch that adds a field to an item type looks like: the same
        // type by identity, another size.
        let before = Ty::of::<(u64, u32)>();
        let grown = Ty { size: before.size + 8, ..before };
        let realigned = Ty { align: before.align * 2, ..before };
        let shape = |ty| Shape::new(Op::HotMap, &[ty, Ty::of::<u64>()]);
        assert!(shape(before).same(&shape(before)));
        assert!(!shape(before).same(&shape(grown)), "a field added: rebuild");
        assert!(!shape(before).same(&shape(realigned)), "another alignment: rebuild");
    }
}
