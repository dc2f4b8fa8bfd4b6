//! The builder: how an entity type of this crate records the part it built
//! into the current scope's graph ([`Built`]), finds the living part a
//! re-execution's part stands for, and captures its entity.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::capture::{Scope, capture_in, current_scope, next_entity};
use crate::accumulator::hooks::{Hook, hooks};
use crate::events::{EntityId, EntityKind, Name};
use crate::living::graph::{Built, Lookup, Node, Op, Part, Shape, StateCell, lock};
use crate::store::store;

static NEXT_SHAPE: AtomicU64 = AtomicU64::new(1);

/// Whether `ty` names a stable stream of this crate: its consumers follow
/// its switches, so nothing in front of it goes stale.
fn is_stable(ty: &str) -> bool {
    STABLE.iter().any(|path| ty.strip_prefix(path).is_some_and(|rest| rest.starts_with('<')))
}

/// The paths of the stable stream types: [`Source`](super::source::Source)
/// and [`Receiver`](super::channels::Receiver). Written out, not asked of
/// `type_name`, so that the builder stays below the entity types; their
/// modules' tests check that these are their names.
pub(crate) const STABLE: [&str; 2] =
    ["hmr_runtime::entities::source::Source", "hmr_runtime::entities::channels::Receiver"];

/// The part [`Builder::reuse_or_build`] records.
pub(crate) struct PartSpec {
    pub(crate) op: Op,
    /// The entity kind it is captured as; `None`: recorded silently (no
    /// event; the track's entity stays the one captured before).
    pub(crate) kind: Option<EntityKind>,
    pub(crate) name: Name,
    pub(crate) shape: Shape,
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
        (last.op.is_stream() && last.captured).then_some(last.entity)
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
                .take_while(|p| p.op != Op::Subscribe)
                .any(|p| p.op.is_stream())
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
        let chain = parts.iter().rev().take_while(|p| p.op != Op::Subscribe).filter_map(|p| p.out);
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

    /// `previous.label` (or `label` first in its scope): the name of a part
    /// built after the part built before it in this scope. A re-execution
    /// that builds the same chain shares the living part's name.
    pub(crate) fn chain(&self, label: &str) -> Name {
        let Some(building) = &self.building else { return Name::from(label) };
        let (prev, index) = {
            let parts = lock(&building.parts);
            (parts.last().map(|p| p.name.clone()), parts.len())
        };
        let fits = |name: &Name| match &prev {
            Some(prev) => {
                name.strip_prefix(prev.as_str()).and_then(|rest| rest.strip_prefix('.'))
                    == Some(label)
            }
            None => name.as_str() == label,
        };
        if let Some(living) = &self.living
            && let Some(name) = lock(&living.parts).get(index).map(|p| &p.name).filter(|n| fits(n))
        {
            return name.clone();
        }
        match prev {
            Some(prev) => Name::from(format!("{prev}.{label}")),
            None => Name::from(label),
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

    /// The one step every entity type of this crate takes: find the living
    /// node of type `N` a new part stands for (see
    /// [`living`](Builder::living)), reuse it or build a new one (`make`
    /// gets it, if there is one, and returns what to hand back and the
    /// node to record: a [`Follower`](crate::living::graph::Follower) of
    /// the living node, or a new node), and record the part as `part` says.
    /// Returns what `make` handed back and the part's entity id.
    pub(crate) fn reuse_or_build<N: Node, R>(
        self,
        part: PartSpec,
        make: impl FnOnce(&Builder, Option<Arc<N>>) -> (R, Arc<dyn Node>),
    ) -> (R, EntityId) {
        let living = self.living::<N>(part.op, &part.shape);
        let (value, node) = make(&self, living);
        let entity = self.record(part.kind, part.op, part.name, part.shape, None, node);
        (value, entity)
    }

    /// The living node of type `N` a new part of `op` with `shape` stands
    /// for: the living part of that op and the same ordinal among the parts
    /// of that op, if its shape is the same (for an op told apart by its
    /// shape, a channel's receivers: the same ordinal among the parts of
    /// that op and shape). In a `reset` scope only connections are kept
    /// (sources, returned streams, subscriptions: their consumers stay
    /// connected); channels and tasks are rebuilt.
    pub(crate) fn living<N: Node>(&self, op: Op, shape: &Shape) -> Option<Arc<N>> {
        let scope = self.scope.as_ref()?;
        if scope.reset && !op.is_connection() {
            return None;
        }
        let by_shape = op.told_apart_by_shape();
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
        op: Op,
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
        op: Op,
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

    fn record(
        self,
        kind: Option<EntityKind>,
        op: Op,
        name: Name,
        shape: Shape,
        state: Option<Shape>,
        node: Arc<dyn Node>,
    ) -> EntityId {
        let entity = next_entity();
        let Some(building) = self.building else {
            if let Some(kind) = kind {
                capture_in(None, kind, entity, name, 0, None);
            }
            return entity;
        };
        let reset = self.scope.as_ref().is_some_and(|s| s.reset);
        let number = {
            let mut parts = lock(&building.parts);
            if parts.capacity() == 0 {
                // Most executions build one or two parts: room for two is a
                // small allocation (a larger one makes glibc consolidate its
                // free lists, every time).
                parts.reserve_exact(2);
            }
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
            parts.push(Part {
                op,
                out,
                state: state.map(Box::new),
                entity,
                captured,
                shape,
                number,
                name,
                node,
            });
            number
        };
        if let Some(kind) = kind {
            capture_in(self.scope, kind, entity, name, number, Some(building));
        }
        entity
    }
}
