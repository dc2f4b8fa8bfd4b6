//! Entity hooks: what each stored entity owns, run or dropped when the
//! store lets go of it (its graph, its `on_dispose` callbacks).

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::events::EntityId;
use crate::living::commit::Commit;
pub(crate) use crate::living::graph::Disposer;
use crate::living::graph::{Applied, Built, Node, Part, apply};
use crate::store::records::Apply;
use crate::support::{IdMap, id_map};

/// What happens to an entity when the store lets go of it.
pub(crate) enum Hook {
    /// The [`on_dispose`](crate::on_dispose) callbacks, in the order given.
    Dispose(Vec<Disposer>),
    /// The living parts an entity type of this crate built (docs/design.md §1.4, §5.1).
    Graph(Arc<Built>),
}

impl Hook {
    /// What disposing `entity` runs: its hook, with `entity` marked as being
    /// disposed (see [`on_dispose`]).
    pub(crate) fn into_disposer(self, entity: EntityId) -> Disposer {
        match self {
            Hook::Dispose(callbacks) => Box::new(move || {
                let _disposing = Disposing::enter(entity);
                for callback in callbacks {
                    callback();
                }
            }),
            Hook::Graph(built) => Box::new(move || {
                let _disposing = Disposing::enter(entity);
                built.dispose();
            }),
        }
    }
}

thread_local! {
    /// The entities whose disposal runs on this thread, innermost last.
    static DISPOSING: RefCell<Vec<EntityId>> = const { RefCell::new(Vec::new()) };
}

/// Marks an entity as being disposed on this thread while its hook runs.
struct Disposing;

impl Disposing {
    fn enter(entity: EntityId) -> Disposing {
        DISPOSING.with(|d| d.borrow_mut().push(entity));
        Disposing
    }

    fn contains(entity: EntityId) -> bool {
        DISPOSING.try_with(|d| d.borrow().contains(&entity)).unwrap_or(false)
    }
}

impl Drop for Disposing {
    fn drop(&mut self) {
        let _ = DISPOSING.try_with(|d| d.borrow_mut().pop());
    }
}

static HOOKS: Mutex<IdMap<EntityId, Hook>> = Mutex::new(id_map());

pub(crate) fn hooks() -> MutexGuard<'static, IdMap<EntityId, Hook>> {
    HOOKS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What staging one committed update left to drop once the commit is
/// published: the living parts it replaced (to dispose) and the new parts
/// whose contents went to living ones (spent).
#[derive(Default)]
pub(crate) struct Leftovers {
    pub(crate) replaced: Vec<Arc<dyn Node>>,
    pub(crate) spent: Vec<Part>,
}

/// Stage the committed update `update` under `commit`: the living graph of
/// its previous entity takes over the new one's (see
/// [`apply`](crate::living::graph::apply)), and the new entity's hook is the
/// graph that results.
pub(crate) fn apply_update(update: Apply, commit: &mut Commit) -> Leftovers {
    let graph = |e: &EntityId, map: &IdMap<EntityId, Hook>| match map.get(e) {
        Some(Hook::Graph(b)) => Some(b.clone()),
        _ => None,
    };
    let (living, fresh) = {
        let map = hooks();
        (graph(&update.prev, &map), graph(&update.new, &map))
    };
    let (Some(living), Some(fresh)) = (living, fresh) else { return Leftovers::default() };
    if Arc::ptr_eq(&living, &fresh) {
        return Leftovers::default();
    }
    let (graph, leftovers) = match apply(update.change, &living, &fresh, commit) {
        Applied::InPlace { spent } => (living, Leftovers { replaced: Vec::new(), spent }),
        Applied::Rebuilt { graph, replaced } => (graph, Leftovers { replaced, spent: Vec::new() }),
    };
    let mut map = hooks();
    map.remove(&update.prev);
    map.insert(update.new, Hook::Graph(graph));
    leftovers
}

/// Whether the execution that built `entity` rebuilt its chain for plain
/// code in it (the `plain_code` of its `track-update`).
pub(crate) fn holds_plain_code(entity: EntityId) -> bool {
    matches!(hooks().get(&entity), Some(Hook::Graph(b)) if b.plain.load(Ordering::Relaxed))
}

pub(crate) fn on_dispose(entity: EntityId, f: Disposer) {
    // Registered by the entity's own disposal (a callback adding another):
    // the entity is going now, so the callback runs now, not never.
    if Disposing::contains(entity) {
        f();
        return;
    }
    let mut hooks = hooks();
    match hooks.get_mut(&entity) {
        // An entity of this crate keeps its graph; the callback joins it,
        // outside the lock (a graph disposed already runs it at once).
        Some(Hook::Graph(built)) => {
            let built = built.clone();
            drop(hooks);
            built.on_dispose(f);
        }
        Some(Hook::Dispose(callbacks)) => callbacks.push(f),
        None => {
            hooks.insert(entity, Hook::Dispose(vec![f]));
        }
    }
}

/// Makes `graph` the hook of `entity`, a part it built: disposing the
/// entity disposes the graph. Callbacks given to [`on_dispose`] for it
/// before join the graph's.
pub(crate) fn attach(entity: EntityId, graph: Arc<Built>) {
    let mut map = hooks();
    let Some(Hook::Dispose(callbacks)) = map.insert(entity, Hook::Graph(graph)) else { return };
    let Some(Hook::Graph(graph)) = map.get(&entity) else { return };
    let graph = graph.clone();
    drop(map);
    for callback in callbacks {
        graph.on_dispose(callback);
    }
}
