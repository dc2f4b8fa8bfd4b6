//! The store: what the reducer knows about tracks, modules, entities and subscriptions.

use std::collections::BTreeMap;

use crate::support::{IdMap, id_map};

use crate::events::{
    CallId, Change, EntityId, EntityKind, ModuleVersion, Name, Path, Site, SubscriptionId, TrackId,
};

/// A committed update: the living entity `prev` takes over what `new` was
/// built with (docs/design.md §5.3), as `change` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Apply {
    pub(crate) prev: EntityId,
    pub(crate) new: EntityId,
    pub(crate) change: Change,
}

/// A buffer for the swaps of the next module execution. Kept between
/// executions: a large buffer freed after every reload makes the allocator
/// consolidate its free lists each time (a tenth of a 10 000-track reload).
static SPARE_APPLIES: std::sync::Mutex<Vec<Apply>> = std::sync::Mutex::new(Vec::new());

/// The spare buffer for a module execution's swaps (empty, with room).
pub(crate) fn spare_applies() -> Vec<Apply> {
    std::mem::take(&mut *SPARE_APPLIES.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

/// The undo log of one module execution's tracks, kept between executions
/// like [`SPARE_APPLIES`].
static SPARE_TOUCHED: std::sync::Mutex<IdMap<TrackId, Undo>> = std::sync::Mutex::new(id_map());

/// The spare undo log for a module execution (empty, with room).
pub(crate) fn spare_touched() -> IdMap<TrackId, Undo> {
    std::mem::take(&mut *SPARE_TOUCHED.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

/// Keeps `touched`'s room for the next execution (emptied here), if it is
/// the larger.
pub(crate) fn give_back_touched(mut touched: IdMap<TrackId, Undo>) {
    touched.clear();
    let mut spare = SPARE_TOUCHED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if touched.capacity() > spare.capacity() {
        *spare = touched;
    }
}

/// Keeps `applies`'s room for the next execution, if it is the larger.
pub(crate) fn give_back(applies: Vec<Apply>) {
    let mut spare = SPARE_APPLIES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if applies.capacity() > spare.capacity() {
        *spare = applies;
    }
}

/// How many superseded entities a track remembers (oldest dropped first).
pub(crate) const PREVIOUS_ENTITIES: usize = 8;

/// A consistent copy of the accumulator's store, from [`snapshot`](crate::snapshot).
///
/// Only scopes that captured an entity are stored as tracks; their ids may
/// still appear as another track's `parent`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Store {
    pub(crate) tracks: IdMap<TrackId, TrackRecord>,
    pub(crate) modules: BTreeMap<String, ModuleRecord>,
    pub(crate) entities: IdMap<EntityId, EntityRecord>,
    pub(crate) subscriptions: IdMap<SubscriptionId, EntityId>,
    /// Executions in flight whose events reach the store (inside a module,
    /// or having captured an entity), one per call: executions of one track
    /// may overlap (`async fn` futures). A hash table keeps its room when
    /// emptied, so a call that opens and closes allocates nothing here.
    pub(crate) open: IdMap<CallId, OpenCall>,
    /// Module records and their tracks as they were before a running
    /// re-execution, restored if it panics.
    pub(crate) staged: BTreeMap<String, Stage>,
}

/// A stored track: a scope that captured an entity.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackRecord {
    /// Its id, stable for its structural path.
    pub id: TrackId,
    /// Its static key.
    pub key: Name,
    /// Its structural path.
    pub path: Path,
    /// The scope it was called in.
    pub parent: Option<TrackId>,
    /// Where the function is written.
    pub site: Site,
    /// 1 when created; + 1 per module version that re-executed it, or when a
    /// re-entry captured a different entity.
    pub version: u64,
    /// The current entity (last entity wins).
    pub entity: Option<EntityId>,
    /// Entities it had before, oldest first (at most 8 kept).
    pub previous_entities: Vec<EntityId>,
    /// The module version that last executed it.
    pub module: Option<ModuleVersion>,
    /// What the last update did, if it was ever updated.
    pub change: Option<Change>,
    /// `#[hmr_track(reset)]`.
    pub reset: bool,
    /// Made while the track named here handled an item (see
    /// `Event::TrackCall`'s `item_of`): kept while that track is, and
    /// disposed with it.
    pub item_of: Option<TrackId>,
}

/// A reload unit.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModuleRecord {
    /// Its name.
    pub name: String,
    /// Its last committed version (1 after a first execution that worked).
    pub version: u64,
    /// The static keys its last committed version executed, sorted.
    pub keys: Vec<Name>,
    /// The last version number tried, committed or not: a version that
    /// panicked uses up its number, so the next one is numbered after it.
    pub attempted: u64,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
}

impl ModuleRecord {
    /// The number the next execution gets.
    #[must_use]
    pub fn next_version(&self) -> u64 {
        self.version.max(self.attempted) + 1
    }
}

/// An entity captured by a track.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntityRecord {
    /// Which capture event named it.
    pub kind: EntityKind,
    /// Its structural name (`source.hot_map(fn).hot_scan(0,fn)`).
    pub name: Name,
    /// Its shape as a number (see the entity events); 0 if only named.
    pub shape: u64,
    /// The track that captured it.
    pub track: TrackId,
}

impl EntityRecord {
    /// Whether a re-execution that built `other` in place of `self` is an
    /// update in place (`fn-only`) rather than a rebuild.
    #[must_use]
    pub fn same_shape(&self, other: &EntityRecord) -> bool {
        if self.shape != 0 && other.shape != 0 {
            self.shape == other.shape
        } else {
            self.shape == other.shape && self.name == other.name
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OpenCall {
    pub(crate) id: TrackId,
    pub(crate) key: Name,
    pub(crate) path: Path,
    pub(crate) parent: Option<TrackId>,
    pub(crate) site: Site,
    pub(crate) module: Option<ModuleVersion>,
    pub(crate) reset: bool,
    pub(crate) item_of: Option<TrackId>,
    /// Entities captured in this call; all but the last are dropped at return.
    pub(crate) captured: Captures,
    /// Its version was rolled back or its track disposed while it ran: what
    /// it builds is disposed at its return, and no record is touched.
    pub(crate) detached: bool,
}

/// The entities one call captured, in order: the first two (most calls
/// capture one or two) inline, the rest on the heap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Captures {
    first: [Option<EntityId>; 2],
    more: Vec<EntityId>,
}

impl Captures {
    pub(crate) fn push(&mut self, entity: EntityId) {
        match self.first.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = Some(entity),
            None => self.more.push(entity),
        }
    }

    /// The entities, in the order captured.
    pub(crate) fn iter(&self) -> impl Iterator<Item = EntityId> + '_ {
        self.first.iter().flatten().chain(&self.more).copied()
    }
}

impl IntoIterator for Captures {
    type Item = EntityId;
    type IntoIter = std::iter::Chain<
        std::iter::Flatten<std::array::IntoIter<Option<EntityId>, 2>>,
        std::vec::IntoIter<EntityId>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().flatten().chain(self.more)
    }
}

/// How to undo what a module execution did to one track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Undo {
    /// The execution created it.
    Created,
    /// It changed it; these are the fields as they were (an execution never
    /// changes a track's key or path).
    Changed(Before),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Before {
    pub(crate) version: u64,
    pub(crate) change: Option<Change>,
    pub(crate) entity: Option<EntityId>,
    /// How many previous entities it had. The execution only appends to
    /// them and drops the oldest (`popped`, in order), so they are the
    /// first `previous_len` of `popped` followed by the record's: no copy.
    pub(crate) previous_len: usize,
    pub(crate) popped: Captures,
    pub(crate) parent: Option<TrackId>,
    /// Moved out of the record when replaced.
    pub(crate) module: Option<ModuleVersion>,
    /// Moved out of the record if it changed (`None`: unchanged).
    pub(crate) site: Option<Site>,
}

impl Before {
    /// The previous entities as they were, given the record's `now`.
    pub(crate) fn previous_entities(&self, now: &[EntityId]) -> Vec<EntityId> {
        self.popped.iter().chain(now.iter().copied()).take(self.previous_len).collect()
    }

    pub(crate) fn of(record: &TrackRecord) -> Before {
        Before {
            version: record.version,
            change: record.change,
            entity: record.entity,
            previous_len: record.previous_entities.len(),
            popped: Captures::default(),
            parent: record.parent,
            module: None,
            site: None,
        }
    }
}

/// What a running module execution changed, to undo it if it panics: an
/// undo log, so that starting a module costs nothing per track.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Stage {
    pub(crate) module: Option<ModuleRecord>,
    /// Each track this execution changed, and how to undo it.
    pub(crate) touched: IdMap<TrackId, Undo>,
    /// Entity records it removed (superseded), restored by a rollback.
    pub(crate) removed_entities: Vec<(EntityId, EntityRecord)>,
    /// Entities this execution superseded; forgotten only if it commits.
    pub(crate) forgotten: Vec<EntityId>,
    /// Swaps this execution made due; applied only if it commits.
    pub(crate) applies: Vec<Apply>,
}

impl Store {
    pub(crate) const fn new() -> Store {
        Store {
            tracks: id_map(),
            modules: BTreeMap::new(),
            entities: id_map(),
            subscriptions: id_map(),
            open: id_map(),
            staged: BTreeMap::new(),
        }
    }

    /// The stored track `id`.
    #[must_use]
    pub fn track(&self, id: TrackId) -> Option<&TrackRecord> {
        self.tracks.get(&id)
    }

    /// Every stored track, ordered by id.
    pub fn tracks(&self) -> impl Iterator<Item = &TrackRecord> {
        let mut tracks: Vec<&TrackRecord> = self.tracks.values().collect();
        tracks.sort_unstable_by_key(|t| t.id);
        tracks.into_iter()
    }

    /// Stored tracks with static key `key`, ordered by id.
    pub fn tracks_with_key<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a TrackRecord> {
        self.tracks().filter(move |t| t.key == key)
    }

    /// Stored tracks whose key ends with `suffix` (`"::prices"`), ordered by
    /// id: handy in tests, where the crate's path prefix is noise.
    pub fn tracks_ending_with<'a>(
        &'a self,
        suffix: &'a str,
    ) -> impl Iterator<Item = &'a TrackRecord> {
        self.tracks().filter(move |t| t.key.ends_with(suffix))
    }

    /// The module `name`.
    #[must_use]
    pub fn module(&self, name: &str) -> Option<&ModuleRecord> {
        self.modules.get(name)
    }

    /// Every module, ordered by name.
    pub fn modules(&self) -> impl Iterator<Item = &ModuleRecord> {
        self.modules.values()
    }

    /// The entity `id`, if a track holds it.
    #[must_use]
    pub fn entity(&self, id: EntityId) -> Option<&EntityRecord> {
        self.entities.get(&id)
    }

    /// Every held entity, ordered by id.
    pub fn entities(&self) -> impl Iterator<Item = (EntityId, &EntityRecord)> {
        let mut entities: Vec<(EntityId, &EntityRecord)> =
            self.entities.iter().map(|(id, e)| (*id, e)).collect();
        entities.sort_unstable_by_key(|(id, _)| *id);
        entities.into_iter()
    }

    /// Living subscriptions and the entity each consumes, ordered by
    /// subscription.
    pub fn subscriptions(&self) -> impl Iterator<Item = (SubscriptionId, EntityId)> + '_ {
        let mut subscriptions: Vec<(SubscriptionId, EntityId)> =
            self.subscriptions.iter().map(|(s, e)| (*s, *e)).collect();
        subscriptions.sort_unstable();
        subscriptions.into_iter()
    }

    /// The structural name of a track's current entity.
    #[must_use]
    pub fn entity_name(&self, track: TrackId) -> Option<&str> {
        let entity = self.tracks.get(&track)?.entity?;
        self.entities.get(&entity).map(|e| e.name.as_str())
    }

    /// Number of stored tracks.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tracks.len()
    }

    /// Whether no track is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }
}
