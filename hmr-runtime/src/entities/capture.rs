//! The entity-capture API: how entities (sources, channels, operator chains,
//! hot closures) tell the accumulator that the open track scope built them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::events::{EntityId, EntityKind, Name};
use crate::living::graph::Built;

static NEXT_ENTITY: AtomicU64 = AtomicU64::new(1);

/// Records that an entity named `name` was just built, inside the innermost
/// open track scope if there is one, and returns its id.
///
/// This is the low-level API that entity types and adapters call; it emits
/// the event of `kind` (`factory-call-return` for [`EntityKind::Factory`], …).
/// **Last entity wins**: the last entity captured in a scope becomes its
/// track's entity, so an operator chain built step by step ends up as the
/// track's entity, not its source. `name` is the entity's *structural* name
/// (`source.hot_map(fn)`): two runs that build entities of the same name have
/// the same shape, and a re-execution that reaches the track is an in-place
/// update (`fn-only`); a different name is a rebuild (`structural`).
///
/// Outside any track scope the entity is only announced to listeners; the
/// store keeps entities that tracks hold.
///
/// ```
/// use hmr_runtime::{EntityKind, capture_entity, hmr_track, module, snapshot};
///
/// #[hmr_track(key = "docs::prices")]
/// fn prices() {
///     capture_entity(EntityKind::Factory, "source");
/// }
///
/// module("docs-capture", prices).unwrap();
/// let store = snapshot();
/// let track = store.tracks_with_key("docs::prices").next().unwrap();
/// assert_eq!(store.entity_name(track.id), Some("source"));
/// ```
pub fn capture_entity(kind: EntityKind, name: impl Into<Name>) -> EntityId {
    let entity = next_entity();
    capture_in(current_scope(), kind, entity, name.into(), 0, None);
    entity
}

pub(crate) fn next_entity() -> EntityId {
    EntityId(NEXT_ENTITY.fetch_add(1, Ordering::Relaxed))
}

pub(crate) use crate::accumulator::stack::Scope;

/// The innermost open track scope, if any (a module scope is none). Its
/// events start reaching the store now: it is about to capture an entity.
#[cfg(feature = "enabled")]
pub(crate) fn current_scope() -> Option<Scope> {
    use crate::accumulator::dispatch::route_event;
    use crate::accumulator::stack::STACK;

    let placed = STACK.try_with(|stack| stack.borrow_mut().capture_scope());
    let (scope, call) = placed.ok().flatten()?;
    if let Some(call) = call {
        // Listeners saw it when the scope opened, or never will.
        route_event(call, true, 0);
    }
    Some(scope)
}

#[cfg(not(feature = "enabled"))]
pub(crate) fn current_scope() -> Option<Scope> {
    None
}

/// Records `entity` as built in `scope` (the innermost scope, looked up
/// just before): last entity wins. `graph` is the scope's graph if `entity`
/// is a part of it: it becomes the entity's hook, now, or at the scope's
/// return if the scope defers its events (then only for its last entity).
#[cfg(feature = "enabled")]
pub(crate) fn capture_in(
    scope: Option<Scope>,
    kind: EntityKind,
    entity: EntityId,
    name: Name,
    shape: u64,
    graph: Option<Arc<Built>>,
) {
    use crate::accumulator::dispatch::{EVERYONE, emit, listening, publish, reduce_batch};
    use crate::accumulator::stack::{STACK, recycle_batch};
    use crate::events::Event;

    let Some(scope) = scope else {
        if listening() {
            publish(&Event::entity(kind, entity, None, name, shape), EVERYONE);
        }
        return;
    };
    let mut event = Some(Event::entity(kind, entity, Some((scope.track, scope.call)), name, shape));
    let listening = listening();
    let part = graph.is_some();
    let flushed = STACK
        .try_with(|stack| {
            stack.borrow_mut().captured(scope.call, entity, part, &mut event, listening)
        })
        .unwrap_or_default();
    let Some(event) = event else { return }; // deferred to the scope's return
    if let Some(graph) = graph {
        crate::accumulator::hooks::attach(entity, graph);
    }
    if !flushed.is_empty() {
        let mut flushed = flushed;
        reduce_batch(&mut flushed);
        recycle_batch(flushed);
    }
    emit(event);
}

#[cfg(not(feature = "enabled"))]
pub(crate) fn capture_in(
    _scope: Option<Scope>,
    _kind: EntityKind,
    _entity: EntityId,
    _name: Name,
    _shape: u64,
    _graph: Option<Arc<Built>>,
) {
}

/// Runs `f` when `entity` is disposed: its track became an orphan (a new
/// version of its module did not execute it), the module version that built
/// it was rolled back (it panicked), or the execution that built it was
/// overtaken by a newer version before it returned. Entity types use this to
/// stop tasks and close channels. Replaces an earlier callback for the same
/// entity, except on an entity of this crate's types (a source, a
/// subscription…), whose own teardown stays and runs first; an entity the
/// store stops holding without disposing it (a track's ninth-oldest previous
/// entity) has its callback dropped, not run.
///
/// `f` runs on the thread that caused the disposal, outside the store's and
/// the module's locks; a panic in it is caught and reported as a
/// `reload-error`.
pub fn on_dispose(entity: EntityId, f: impl FnOnce() + Send + 'static) {
    #[cfg(feature = "enabled")]
    crate::accumulator::hooks::on_dispose(entity, Box::new(f));
    #[cfg(not(feature = "enabled"))]
    drop((entity, f));
}
