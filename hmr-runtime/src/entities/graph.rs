//! The living graph: the parts the entity types of this crate built in each
//! track scope, and how a committed re-execution swaps into them (docs/design.md §5.1, §5.3).
//!
//! Every execution of a scope collects the parts it builds, in order, into
//! one [`Built`]; the store's entity for the track maps to it (a
//! [`Hook::Graph`]). A re-execution builds a new `Built` next to the living
//! one. Each new part is compared with the living part at the same position:
//! while every part so far has the same [`Shape`], the new part gets the
//! living part's shape number, so the track's final entity has the living
//! entity's shape exactly when the whole chain matches (`fn-only`).
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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::capture::{Scope, capture_in, current_scope, next_entity};
use super::commit::Commit;
use crate::accumulator::dispatch::{Hook, hooks};
use crate::events::{Change, EntityId, EntityKind, Name};
use crate::store::records::Apply;
use crate::store::store;

pub(crate) use super::sync::std_lock as lock;

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

/// One part's shape: the operator, the types it carries, its non-closure
/// argument (a seed, a capacity, an initial value). Closures are not part of it.
pub(crate) struct Shape {
    op: &'static str,
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
    pub(crate) fn new(op: &'static str, types: &[Ty]) -> Shape {
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
    fn same_kind(&self, other: &Shape) -> bool {
        self.op == other.op && self.types == other.types
    }

    fn same(&self, other: &Shape) -> bool {
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
/// the twin in a rebuilt chain to take (see [`Builder::inherit`]).
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
    op: &'static str,
    /// A stream part's own stream type (`type_name`): what the next part of
    /// its chain reads when nothing stands between them.
    out: Option<&'static str>,
    /// A stateful operator's kind, state type and seed: what a rebuilt
    /// chain's operator must match to take its state.
    state: Option<Shape>,
    /// The entity id it was recorded under.
    entity: EntityId,
    /// Its entity was captured (announced in an event).
    captured: bool,
    shape: Shape,
    /// The shape number of the chain up to this part.
    number: u64,
    name: Name,
    node: Arc<dyn Node>,
}

/// The living version of a track, as an execution's first part found it.
#[derive(Default)]
enum Lookup {
    #[default]
    NotYet,
    Found(Option<Arc<Built>>),
}

/// The parts one execution of a scope built, in order.
#[derive(Default)]
pub(crate) struct Built {
    parts: Mutex<Vec<Part>>,
    /// The living version of the track, looked up by the first part built.
    living: Mutex<Lookup>,
    /// `on_dispose` callbacks registered for its entity.
    callbacks: Mutex<Vec<crate::accumulator::dispatch::Disposer>>,
    /// A part did not match the living part at its position.
    diverged: AtomicBool,
    /// Plain code in a chain made it diverge (see [`Builder::chained`]).
    plain: AtomicBool,
    disposed: AtomicBool,
}

impl std::fmt::Debug for Built {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<Name> = lock(&self.parts).iter().map(|p| p.name.clone()).collect();
        f.debug_struct("Built").field("parts", &names).finish_non_exhaustive()
    }
}

impl Built {
    /// Runs `f` when it is disposed (after its parts).
    /// Runs `f` when the graph is disposed; at once if it is (or is being)
    /// disposed already.
    pub(crate) fn on_dispose(&self, f: crate::accumulator::dispatch::Disposer) {
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

static NEXT_SHAPE: AtomicU64 = AtomicU64::new(1);

/// Whether `ty` names a stable stream of this crate: its consumers follow
/// its switches, so nothing in front of it goes stale.
fn is_stable(ty: &str) -> bool {
    let stable = |t: &str| t.split_once('<').map_or(t.len(), |(path, _)| path.len());
    let source = std::any::type_name::<super::source::Source<()>>();
    let receiver = std::any::type_name::<super::channels::Receiver<()>>();
    [source, receiver].iter().any(|s| {
        let path = &s[..stable(s)];
        ty.strip_prefix(path).is_some_and(|rest| rest.starts_with('<'))
    })
}

/// An entity being built in the current scope.
pub(crate) struct Builder {
    scope: Option<Scope>,
    building: Option<Arc<Built>>,
    /// What the previous version of the track built, if it is living.
    living: Option<Arc<Built>>,
    /// The stream type of the part it records, if a stream part.
    out: Option<&'static str>,
}

impl Builder {
    /// Looks up the innermost scope, what this execution built so far, and
    /// what the living version of its track holds.
    pub(crate) fn new() -> Builder {
        let Some(scope) = current_scope() else {
            return Builder { scope: None, building: None, living: None, out: None };
        };
        let building = scope.built.clone();
        if !scope.in_module {
            // Outside a module a repeated call is not a new version of the
            // code: it builds its own entities, the earlier ones live on.
            let building = Some(building);
            return Builder { scope: Some(scope), building, living: None, out: None };
        }
        let living = {
            let mut cached = lock(&building.living);
            if let Lookup::Found(living) = &*cached {
                living.clone()
            } else {
                // Once per execution: the track's living entity.
                let entity = store().tracks.get(&scope.track).and_then(|t| t.entity);
                let living = entity.and_then(|e| match hooks().get(&e) {
                    Some(Hook::Graph(b)) if !Arc::ptr_eq(b, &building) => Some(b.clone()),
                    _ => None,
                });
                *cached = Lookup::Found(living.clone());
                living
            }
        };
        Builder { scope: Some(scope), building: Some(building), living, out: None }
    }

    /// The track of the innermost scope, if any.
    pub(crate) fn track(&self) -> Option<crate::events::TrackId> {
        self.scope.as_ref().map(|s| s.track)
    }

    /// Whether the scope is `#[hmr_track(reset)]`.
    pub(crate) fn is_reset(&self) -> bool {
        self.scope.as_ref().is_some_and(|s| s.reset)
    }

    /// The entity a consumer built now reads: the part built just before in
    /// this scope, if it is a stream part (a source, an input, a returned
    /// stream, a hot operator) whose entity was announced.
    pub(crate) fn consumed_entity(&self) -> Option<EntityId> {
        let building = self.building.as_ref()?;
        let parts = lock(&building.parts);
        let last = parts.last()?;
        let stream =
            matches!(last.op, "source" | "input" | "stream") || last.op.starts_with("hot_");
        (stream && last.captured).then_some(last.entity)
    }

    /// Marks the chain as not matching the living one from here on: what
    /// comes next is new (`structural`), though its shape is the same (a
    /// living part that cannot be kept: a subscription whose runtime is gone).
    pub(crate) fn diverge(&self) {
        if let Some(building) = &self.building {
            building.diverged.store(true, Ordering::Relaxed);
        }
    }

    /// Whether no stream part (a source, a hot operator, a returned stream)
    /// was built in this scope since its last subscription: a stream
    /// consumed now is then not made of parts a re-execution can swap into.
    pub(crate) fn no_stream_parts(&self) -> bool {
        self.building.as_ref().is_none_or(|b| {
            !lock(&b.parts)
                .iter()
                .rev()
                .take_while(|p| p.op != "subscribe")
                .any(|p| matches!(p.op, "source" | "input" | "stream") || p.op.starts_with("hot_"))
        })
    }

    /// Whether a part (or a consumer) that reads a stream of type `input`
    /// has no plain code in front of it that a swap in place could not reach
    /// (docs/design.md §5.5, no stale code): it reads a stream part of its chain (one
    /// built since the scope's last subscription) or a stable stream of this
    /// crate (a `Source`, a `Receiver`) directly. Plain code is a type that
    /// wraps one of the chain's parts (an adapter between them, a closure or
    /// a fn item), or holds a closure. Anything else is the chain's input
    /// (an iterator, an interval, a receiver), kept as it is. A box hides
    /// what it holds.
    pub(crate) fn chained(&self, input: &'static str) -> bool {
        let Some(building) = &self.building else { return true };
        if is_stable(input) {
            return true;
        }
        let parts = lock(&building.parts);
        let chain = parts.iter().rev().take_while(|p| p.op != "subscribe").filter_map(|p| p.out);
        let mut wraps = false;
        for out in chain {
            if out == input {
                return true;
            }
            wraps |= input.contains(out);
        }
        !wraps && !input.contains("{{closure}}")
    }

    /// Records plain code in front of what is built next: the chain no
    /// longer matches the living one and is rebuilt (`structural`), its
    /// stateful operators keeping their state, so the plain code runs in
    /// its new version from the next item.
    pub(crate) fn plain_code_before(&self, input: &'static str) {
        if !self.chained(input) {
            self.diverge();
            if let Some(building) = &self.building {
                building.plain.store(true, Ordering::Relaxed);
            }
        }
    }

    /// The part it records is a stream part whose own type is `out`.
    pub(crate) fn streams(mut self, out: &'static str) -> Builder {
        self.out = Some(out);
        self
    }

    /// The name of the entity built just before in this scope, if any.
    pub(crate) fn previous_name(&self) -> Option<Name> {
        self.building.as_ref().and_then(|b| lock(&b.parts).last().map(|p| p.name.clone()))
    }

    /// `name(previous)` or `name(…)` after the part built before in this scope.
    pub(crate) fn chain(&self, op: &str) -> String {
        match self.previous_name() {
            Some(prev) => format!("{prev}.{op}"),
            None => op.to_owned(),
        }
    }

    /// The hand-off cell of the living stateful operator whose state a new
    /// one keyed `key` (kind, state type, seed) takes when its chain is
    /// rebuilt: the living operator of the same kind and state type with the
    /// same ordinal among those, if its seed is the same too (React keeps
    /// hook state by position; a changed seed resets). None outside a
    /// module and in a `reset` scope.
    pub(crate) fn inherit<St: Send + 'static>(&self, key: &Shape) -> Option<Arc<StateCell<St>>> {
        let scope = self.scope.as_ref()?;
        if scope.reset {
            return None;
        }
        let alike = |p: &&Part| p.state.as_ref().is_some_and(|k| k.same_kind(key));
        let nth = self.building.as_ref().map_or(0, |b| lock(&b.parts).iter().filter(alike).count());
        let node = {
            let living = lock(&self.living.as_ref()?.parts);
            let part = living.iter().filter(alike).nth(nth)?;
            if !part.state.as_ref().is_some_and(|k| k.same(key)) {
                return None;
            }
            part.node.clone()
        };
        node.state_cell()?.downcast_ref::<Arc<StateCell<St>>>().cloned()
    }

    /// The living node of type `N` a new part of `op` with `shape` stands
    /// for: the living part of that op and the same ordinal among the parts
    /// of that op, if its shape is the same. In a `reset` scope only
    /// connections are kept (sources, returned streams, subscriptions: their
    /// consumers stay connected); channels and tasks are rebuilt.
    pub(crate) fn living<N: Node>(&self, op: &'static str, shape: &Shape) -> Option<Arc<N>> {
        self.living_part(op, shape, false)
    }

    /// [`living`](Builder::living) for parts told apart by their shape (a
    /// channel's receivers): the living part of that op and shape with the
    /// ordinal this one has among the parts of that op and shape.
    pub(crate) fn living_of_shape<N: Node>(
        &self,
        op: &'static str,
        shape: &Shape,
    ) -> Option<Arc<N>> {
        self.living_part(op, shape, true)
    }

    fn living_part<N: Node>(
        &self,
        op: &'static str,
        shape: &Shape,
        by_shape: bool,
    ) -> Option<Arc<N>> {
        let scope = self.scope.as_ref()?;
        if scope.reset && !matches!(op, "source" | "input" | "stream" | "subscribe" | "receiver") {
            return None;
        }
        let alike = |p: &&Part| p.op == op && (!by_shape || p.shape.same(shape));
        let nth = self.building.as_ref().map_or(0, |b| lock(&b.parts).iter().filter(alike).count());
        let node = {
            let living = lock(&self.living.as_ref()?.parts);
            let part = living.iter().filter(alike).nth(nth)?;
            if !part.shape.same(shape) {
                return None;
            }
            part.node.clone()
        };
        node.into_any().downcast::<N>().ok()
    }

    /// Records the part: captures the entity in the scope (last entity
    /// wins) and returns its id.
    pub(crate) fn finish(
        self,
        kind: EntityKind,
        op: &'static str,
        name: impl Into<Name>,
        shape: Shape,
        node: Arc<dyn Node>,
    ) -> EntityId {
        self.record(Some(kind), op, name.into(), shape, None, node)
    }

    /// [`finish`](Builder::finish) for a stateful operator, keyed `state`
    /// for [`inherit`](Builder::inherit).
    pub(crate) fn finish_stateful(
        self,
        kind: EntityKind,
        op: &'static str,
        name: impl Into<Name>,
        (shape, state): (Shape, Shape),
        node: Arc<dyn Node>,
    ) -> EntityId {
        self.record(Some(kind), op, name.into(), shape, Some(state), node)
    }

    /// Whether the scope runs inside a module (a later version swaps).
    pub(crate) fn in_module(&self) -> bool {
        self.scope.as_ref().is_some_and(|s| s.in_module)
    }

    /// Records a part without capturing an entity (no event; the track's
    /// entity stays the one captured before).
    pub(crate) fn finish_silently(
        self,
        op: &'static str,
        name: impl Into<Name>,
        shape: Shape,
        node: Arc<dyn Node>,
    ) {
        self.record(None, op, name.into(), shape, None, node);
    }

    fn record(
        self,
        kind: Option<EntityKind>,
        op: &'static str,
        name: Name,
        shape: Shape,
        state: Option<Shape>,
        node: Arc<dyn Node>,
    ) -> EntityId {
        let entity = next_entity();
        let Some(building) = self.building else {
            if let Some(kind) = kind {
                capture_in(None, kind, entity, name, 0);
            }
            return entity;
        };
        let reset = self.scope.as_ref().is_some_and(|s| s.reset);
        let number = {
            let mut parts = lock(&building.parts);
            let index = parts.len();
            let twin = if reset || building.diverged.load(Ordering::Relaxed) {
                None
            } else {
                self.living.as_ref().and_then(|living| {
                    let living = lock(&living.parts);
                    living
                        .get(index)
                        .filter(|p| p.op == op && p.shape.same(&shape))
                        .map(|p| p.number)
                })
            };
            let number = if let Some(number) = twin {
                number
            } else {
                building.diverged.store(true, Ordering::Relaxed);
                NEXT_SHAPE.fetch_add(1, Ordering::Relaxed)
            };
            let captured = kind.is_some();
            let name = name.clone();
            let out = self.out;
            parts.push(Part { op, out, state, entity, captured, shape, number, name, node });
            number
        };
        if let Some(kind) = kind {
            hooks().insert(entity, Hook::Graph(building));
            capture_in(self.scope, kind, entity, name, number);
        }
        entity
    }
}

/// Whether the execution that built `entity` rebuilt its chain for plain
/// code in it (the `plain_code` of its `track-update`).
pub(crate) fn holds_plain_code(entity: EntityId) -> bool {
    matches!(hooks().get(&entity), Some(Hook::Graph(b)) if b.plain.load(Ordering::Relaxed))
}

/// Stage a committed update into the living graph under `commit` (see the
/// module docs). Returns the living parts it replaced, to dispose once the
/// commit is published.
pub(crate) fn apply(apply: Apply, commit: &mut Commit) -> Vec<Arc<dyn Node>> {
    let graph = |e: &EntityId, map: &std::collections::BTreeMap<EntityId, Hook>| match map.get(e) {
        Some(Hook::Graph(b)) => Some(b.clone()),
        _ => None,
    };
    let (living, fresh) = {
        let map = hooks();
        (graph(&apply.prev, &map), graph(&apply.new, &map))
    };
    let (Some(living), Some(fresh)) = (living, fresh) else { return Vec::new() };
    if Arc::ptr_eq(&living, &fresh) {
        return Vec::new();
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
    let mut kept: Vec<Option<Arc<dyn Node>>> = vec![None; new.len()];
    for (index, part) in new.iter().enumerate().rev() {
        let node = if let Some(target) = part.node.follows() {
            match apply.change {
                Change::FnOnly => {
                    target.adopt(&*part.node, commit);
                }
                Change::Structural | Change::Reset => target.relink(&*part.node, commit),
            }
            Some(target)
        } else {
            old.get(index)
                .filter(|old| {
                    apply.change == Change::FnOnly
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
        {
            let mut map = hooks();
            map.remove(&apply.prev);
            map.insert(apply.new, Hook::Graph(living));
        }
        // The new parts' seeds and initial values are user values: dropped
        // once the commit is unlocked.
        commit.discard(new);
        return Vec::new();
    }
    let merged: Vec<Part> = new
        .into_iter()
        .zip(&kept)
        .map(|(part, kept)| match kept {
            Some(node) => Part { node: node.clone(), ..part },
            None => part,
        })
        .collect();
    let merged_built = Arc::new(Built { parts: Mutex::new(merged), ..Built::default() });
    {
        let mut map = hooks();
        map.remove(&apply.prev);
        map.insert(apply.new, Hook::Graph(merged_built));
    }
    living.disposed.store(true, Ordering::Release);
    let replaced = old
        .iter()
        .rev()
        .filter(|part| !kept.iter().flatten().any(|k| same_node(k, &part.node)))
        .map(|part| part.node.clone())
        .collect();
    commit.discard(old);
    replaced
}

fn same_node(a: &Arc<dyn Node>, b: &Arc<dyn Node>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

#[cfg(test)]
mod tests {
    use super::{Shape, Ty};

    #[test]
    fn a_type_whose_layout_changed_is_another_shape() {
        // What a patch that adds a field to an item type looks like: the same
        // type by identity, another size.
        let before = Ty::of::<(u64, u32)>();
        let grown = Ty { size: before.size + 8, ..before };
        let realigned = Ty { align: before.align * 2, ..before };
        let shape = |ty| Shape::new("hot_map", &[ty, Ty::of::<u64>()]);
        assert!(shape(before).same(&shape(before)));
        assert!(!shape(before).same(&shape(grown)), "a field added: rebuild");
        assert!(!shape(before).same(&shape(realigned)), "another alignment: rebuild");
    }
}
