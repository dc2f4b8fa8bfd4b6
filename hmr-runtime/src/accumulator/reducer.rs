//! The reducer: the only code that mutates the store.

use std::collections::BTreeSet;

use crate::events::{
    CallId, Change, DisposeReason, EntityId, EntityKind, Event, ModuleVersion, Name, TrackId,
};
use crate::store::records::{
    Apply, Before, Captures, EntityRecord, ModuleRecord, OpenCall, PREVIOUS_ENTITIES, Stage, Store,
    TrackRecord, Undo,
};
use crate::support::IdMap;

/// What reducing one event caused besides the store change: follow-up events
/// (reduced and published after it) and entities whose owners must dispose them.
#[derive(Default, Debug)]
pub(crate) struct Effects {
    pub(crate) events: Vec<Event>,
    /// Entities torn down: their disposers run.
    pub(crate) disposed: Vec<EntityId>,
    /// Entities the store no longer holds (superseded): their disposers are dropped unrun.
    pub(crate) forgotten: Vec<EntityId>,
    /// Committed updates of living tracks: their entities swap now.
    pub(crate) applies: Vec<Apply>,
}

impl Effects {
    pub(crate) const fn new() -> Effects {
        Effects {
            events: Vec::new(),
            disposed: Vec::new(),
            forgotten: Vec::new(),
            applies: Vec::new(),
        }
    }
}

/// Apply `event` to `store` (taken by value: what it carries moves into
/// the store; the caller keeps a copy only for listeners).
pub(crate) fn reduce(store: &mut Store, event: Event, fx: &mut Effects) {
    match event {
        Event::TrackCall { id, call, key, path, parent, site, module, reset, item_of } => {
            let open = OpenCall {
                id,
                key,
                path,
                parent,
                site,
                module,
                reset,
                item_of,
                captured: Captures::default(),
                detached: false,
            };
            store.open.insert(call, open);
        }
        Event::ConstructorCallReturn { entity, track, call, name, shape } => {
            captured(store, EntityKind::Constructor, entity, track.zip(call), name, shape);
        }
        Event::FactoryCallReturn { entity, track, call, name, shape } => {
            captured(store, EntityKind::Factory, entity, track.zip(call), name, shape);
        }
        Event::PipeCallReturn { entity, track, call, name, shape } => {
            captured(store, EntityKind::Pipe, entity, track.zip(call), name, shape);
        }
        Event::OperatorFunCall { entity, track, call, name, shape } => {
            captured(store, EntityKind::OperatorFun, entity, track.zip(call), name, shape);
        }
        Event::TrackCallReturn { id, call, entity, outcome: _ } => {
            track_return(store, id, call, entity, fx);
        }
        Event::TrackUpdate { id, version, change, prev_entity, .. } => {
            track_update(store, id, version, change, prev_entity, fx);
        }
        Event::TrackDispose { id, reason: _ } => {
            if let Some(record) = store.tracks.remove(&id) {
                for entity in record.entity.iter().chain(&record.previous_entities) {
                    store.entities.remove(entity);
                    fx.disposed.push(*entity);
                }
            }
        }
        Event::HmrModuleCall { module, version, .. } => module_call(store, &module, version),
        Event::HmrModuleCallReturn { module, committed, error } => {
            let stage = store.staged.remove(module.as_str());
            if committed {
                if let Some(stage) = stage {
                    fx.forgotten.extend(stage.forgotten);
                    if fx.applies.is_empty() {
                        fx.applies = stage.applies;
                    } else {
                        fx.applies.extend(stage.applies);
                    }
                    crate::store::records::give_back_touched(stage.touched);
                }
                commit_module(store, &module, fx);
            } else if let Some(stage) = stage {
                rollback_module(store, &module, stage, error, fx);
            }
        }
        Event::Subscribe { subscription, entity, .. } => {
            store.subscriptions.insert(subscription, entity);
        }
        Event::Unsubscribe { subscription, entity: _ } => {
            store.subscriptions.remove(&subscription);
        }
        Event::ReloadError { .. } => {}
    }
}

/// An entity was captured in the execution `scope` (track, call).
fn captured(
    store: &mut Store,
    kind: EntityKind,
    entity: EntityId,
    scope: Option<(TrackId, CallId)>,
    name: Name,
    shape: u64,
) {
    let Some((track, call)) = scope else { return };
    let Some(open) = store.open.get_mut(&call) else { return };
    open.captured.push(entity);
    store.entities.insert(entity, EntityRecord { kind, name, shape, track });
}

/// A re-execution reached a living track.
fn track_update(
    store: &mut Store,
    id: TrackId,
    version: u64,
    change: Change,
    prev_entity: Option<EntityId>,
    fx: &mut Effects,
) {
    // Derived from the track's return, which already kept a copy for a rollback.
    if let Some(record) = store.tracks.get_mut(&id) {
        record.version = version;
        record.change = Some(change);
        if let Some(prev) = prev_entity {
            record.previous_entities.push(prev);
            if record.previous_entities.len() > PREVIOUS_ENTITIES {
                let dropped = record.previous_entities.remove(0);
                // A rollback puts it back (see `Before`).
                let touched = record
                    .module
                    .as_ref()
                    .and_then(|m| store.staged.get_mut(m.name.as_str()))
                    .and_then(|stage| stage.touched.get_mut(&id));
                if let Some(Undo::Changed(before)) = touched {
                    before.popped.push(dropped);
                }
                if record.entity != Some(dropped) {
                    let removed = store.entities.remove(&dropped);
                    // Inside a running module the forgetting waits for
                    // its commit: a rollback restores the entity.
                    let stage =
                        record.module.as_ref().and_then(|m| store.staged.get_mut(m.name.as_str()));
                    match stage {
                        Some(stage) => {
                            stage.forgotten.push(dropped);
                            if let Some(removed) = removed {
                                stage.removed_entities.push((dropped, removed));
                            }
                        }
                        None => fx.forgotten.push(dropped),
                    }
                }
            }
        }
    }
}

/// A module execution starts: remember its record; tracks are copied when
/// first changed (see [`touch`]), for a rollback.
fn module_call(store: &mut Store, module: &str, version: u64) {
    let stage = Stage {
        module: store.modules.get(module).cloned(),
        applies: crate::store::records::spare_applies(),
        touched: crate::store::records::spare_touched(),
        ..Stage::default()
    };
    store.staged.insert(module.to_owned(), stage);
    let record = store.modules.entry(module.to_owned()).or_insert_with(|| ModuleRecord {
        name: module.to_owned(),
        version: 0,
        keys: Vec::new(),
        attempted: 0,
        last_error: None,
    });
    record.version = version;
    record.attempted = version;
}

fn module_tracks<'a>(store: &'a Store, module: &'a str) -> impl Iterator<Item = &'a TrackRecord> {
    store.tracks.values().filter(move |t| t.module.as_ref().is_some_and(|m| m.name == module))
}

fn track_return(
    store: &mut Store,
    id: TrackId,
    call: CallId,
    entity: Option<EntityId>,
    fx: &mut Effects,
) {
    let Some(open) = store.open.remove(&call) else { return };
    // A call whose version was rolled back, whose track was disposed, or that
    // a newer version of its module overtook (an old future finishing late)
    // belongs to no committed graph: what it built is disposed, the record
    // is not touched.
    let overtaken = store.tracks.get(&id).is_some_and(|record| {
        matches!((&record.module, &open.module), (Some(now), Some(then))
            if now.name == then.name && now.version > then.version)
    });
    if open.detached || overtaken {
        for captured in open.captured.iter() {
            store.entities.remove(&captured);
            fx.disposed.push(captured);
        }
        return;
    }
    // Last entity wins: the intermediate entities of the call are parts of
    // the final one; only a track's current and previous entities are kept.
    for captured in open.captured.iter() {
        if Some(captured) != entity {
            store.entities.remove(&captured);
            fx.forgotten.push(captured);
        }
    }
    let Store { tracks, staged, entities, .. } = store;
    let stage = open.module.as_ref().and_then(|m| staged.get_mut(m.name.as_str()));
    match entity {
        Some(entity) => reached(tracks, entities, stage, open, id, entity, fx),
        None => reached_without_entity(tracks, stage, open, id, fx),
    }
}

/// A track's execution that captured nothing returned: it keeps its entity
/// (last entity wins), and a new module version still counts as an update.
fn reached_without_entity(
    tracks: &mut IdMap<TrackId, TrackRecord>,
    stage: Option<&mut Stage>,
    open: OpenCall,
    id: TrackId,
    fx: &mut Effects,
) {
    let (Some(record), Some(module)) = (tracks.get_mut(&id), open.module) else { return };
    if record.module.as_ref() != Some(&module) {
        let change = if open.reset { Change::Reset } else { Change::FnOnly };
        let version = record.version + 1;
        let plain_code = false;
        fx.events.push(Event::TrackUpdate { id, version, change, prev_entity: None, plain_code });
    }
    let before = Before::of(record);
    let old_module = record.module.replace(module);
    // The first change a running module execution makes to a track keeps
    // what a rollback needs to undo it.
    if let Some(stage) = stage {
        stage
            .touched
            .entry(id)
            .or_insert_with(|| Undo::Changed(Before { module: old_module, ..before }));
    }
}

/// A track's execution that captured `entity` returned: create the track,
/// or update it (`track-update`, and a swap due at the module's commit).
fn reached(
    tracks: &mut IdMap<TrackId, TrackRecord>,
    entities: &IdMap<EntityId, EntityRecord>,
    mut stage: Option<&mut Stage>,
    open: OpenCall,
    id: TrackId,
    entity: EntityId,
    fx: &mut Effects,
) {
    let Some(record) = tracks.get_mut(&id) else {
        if let Some(stage) = stage {
            stage.touched.entry(id).or_insert(Undo::Created);
        }
        let record = TrackRecord {
            id,
            key: open.key,
            path: open.path,
            parent: open.parent,
            site: open.site,
            version: 1,
            entity: Some(entity),
            previous_entities: Vec::new(),
            module: open.module,
            change: None,
            reset: open.reset,
            item_of: open.item_of,
        };
        tracks.insert(id, record);
        return;
    };
    let new_module_version = match (&record.module, &open.module) {
        (Some(old), Some(new)) => old != new,
        (None, Some(_)) => true,
        _ => false,
    };
    let prev_entity = record.entity;
    let first_change = stage.as_ref().is_some_and(|s| !s.touched.contains_key(&id));
    let mut before = first_change.then(|| Before::of(record));
    let old_module = std::mem::replace(&mut record.module, open.module);
    let old_site = if record.site == open.site {
        None
    } else {
        Some(std::mem::replace(&mut record.site, open.site))
    };
    record.entity = Some(entity);
    record.parent = open.parent;
    if let (Some(stage), Some(mut before)) = (stage.as_deref_mut(), before.take()) {
        before.module = old_module;
        before.site = old_site;
        stage.touched.insert(id, Undo::Changed(before));
    }
    if !new_module_version && prev_entity == Some(entity) {
        return;
    }
    let same_shape = prev_entity
        .and_then(|p| entities.get(&p))
        .zip(entities.get(&entity))
        .is_some_and(|(a, b)| a.same_shape(b));
    let change = if open.reset {
        Change::Reset
    } else if same_shape {
        Change::FnOnly
    } else {
        Change::Structural
    };
    let prev_entity = prev_entity.filter(|p| *p != entity);
    // A new module version swaps into the living entity, at the module's
    // commit (now, for a call that outlived its module). Outside a module a
    // repeated call built its own entities.
    if let (Some(prev), Some(_)) = (prev_entity, &record.module) {
        let apply = Apply { prev, new: entity, change };
        match stage {
            Some(stage) => stage.applies.push(apply),
            None => fx.applies.push(apply),
        }
    }
    let plain_code = change == Change::Structural && super::hooks::holds_plain_code(entity);
    let version = record.version + 1;
    fx.events.push(Event::TrackUpdate { id, version, change, prev_entity, plain_code });
}

fn commit_module(store: &mut Store, module: &str, fx: &mut Effects) {
    let Some(version) = store.modules.get(module).map(|m| m.version) else { return };
    let this_version = |m: &Option<ModuleVersion>| {
        m.as_ref().is_some_and(|m| m.name == module && m.version == version)
    };
    // A call of this version still running (an `async fn` pending past the
    // module's end) has reached its track too.
    let mut running: Vec<TrackId> =
        store.open.values().filter(|open| this_version(&open.module)).map(|o| o.id).collect();
    running.sort_unstable();
    // The module's tracks, each with whether this version kept it.
    let mut tracks: Vec<(TrackId, bool)> = module_tracks(store, module)
        .map(|t| (t.id, this_version(&t.module) || running.binary_search(&t.id).is_ok()))
        .collect();
    // Tracks made while a track handled items live as long as it does.
    let owners: Vec<(usize, TrackId)> = tracks
        .iter()
        .enumerate()
        .filter_map(|(i, (id, _))| store.tracks[id].item_of.map(|owner| (i, owner)))
        .collect();
    if !owners.is_empty() {
        loop {
            let mut kept: Vec<TrackId> =
                tracks.iter().filter(|(_, kept)| *kept).map(|(id, _)| *id).collect();
            kept.sort_unstable();
            let mut grown = false;
            for &(i, owner) in &owners {
                if !tracks[i].1 && kept.binary_search(&owner).is_ok() {
                    tracks[i].1 = true;
                    grown = true;
                }
            }
            if !grown {
                break;
            }
        }
    }
    // Few distinct keys among many tracks: a set, not a sort of them all.
    let mut keys: BTreeSet<Name> = BTreeSet::new();
    let mut orphans: Vec<TrackId> = Vec::new();
    for &(id, kept) in &tracks {
        if kept {
            let key = &store.tracks[&id].key;
            if !keys.contains(key) {
                keys.insert(key.clone());
            }
        } else {
            orphans.push(id);
        }
    }
    // Disposed in id order, the same on every run.
    orphans.sort_unstable();
    for &id in &orphans {
        fx.events.push(Event::TrackDispose { id, reason: DisposeReason::Orphan });
    }
    // Calls of this version still running (no record yet) count too; calls
    // of tracks disposed now are cut off from the graph.
    for open in store.open.values_mut() {
        if this_version(&open.module) {
            keys.insert(open.key.clone());
        }
        if orphans.binary_search(&open.id).is_ok() {
            open.detached = true;
        }
    }
    // A module that holds nothing now (no track kept, no call of it still
    // running) is forgotten: names made up per job or connection cost
    // nothing once their modules are done. Called again, it starts over at
    // version 1.
    let kept_any = tracks.iter().any(|(_, kept)| *kept);
    let running =
        store.open.values().any(|open| open.module.as_ref().is_some_and(|m| m.name == module));
    if !kept_any && !running {
        store.modules.remove(module);
    } else if let Some(record) = store.modules.get_mut(module) {
        record.keys = keys.into_iter().collect();
        record.last_error = None;
    }
}

/// Put the module back as it was before the failed execution. Entities that
/// the failed run built belong to no committed graph: they are disposed.
/// The record keeps the failed version's number (used up) and its error.
fn rollback_module(
    store: &mut Store,
    module: &str,
    stage: Stage,
    error: Option<String>,
    fx: &mut Effects,
) {
    let attempted = store.modules.get(module).map_or(0, |m| m.attempted);
    // Calls of the failed version still running (futures) are cut off: what
    // they built so far is disposed now (in call order, the same every
    // time), what they build later at their return.
    let mut cut: Vec<(CallId, Captures)> = Vec::new();
    for (call, open) in &mut store.open {
        let failed =
            open.module.as_ref().is_some_and(|m| m.name == module && m.version == attempted);
        if failed {
            open.detached = true;
            cut.push((*call, std::mem::take(&mut open.captured)));
        }
    }
    cut.sort_unstable_by_key(|(call, _)| *call);
    for captured in cut.into_iter().flat_map(|(_, captured)| captured) {
        store.entities.remove(&captured);
        fx.disposed.push(captured);
    }
    let Stage { touched, removed_entities, module: module_before, .. } = stage;
    // In id order, so that a rollback disposes in the same order every time.
    let mut undos: Vec<(TrackId, Undo)> = touched.into_iter().collect();
    undos.sort_unstable_by_key(|(id, _)| *id);
    for (id, undo) in undos {
        let Some(now) = store.tracks.get_mut(&id) else { continue };
        let previous = match &undo {
            Undo::Created => Vec::new(),
            Undo::Changed(b) => b.previous_entities(&now.previous_entities),
        };
        let kept = |e: &EntityId| match &undo {
            Undo::Created => false,
            Undo::Changed(b) => b.entity.as_ref() == Some(e) || previous.contains(e),
        };
        for entity in now.entity.iter().chain(&now.previous_entities) {
            if !kept(entity) {
                store.entities.remove(entity);
                fx.disposed.push(*entity);
            }
        }
        match undo {
            Undo::Created => {
                store.tracks.remove(&id);
            }
            Undo::Changed(before) => {
                now.version = before.version;
                now.change = before.change;
                now.entity = before.entity;
                now.previous_entities = previous;
                now.parent = before.parent;
                now.module = before.module;
                if let Some(site) = before.site {
                    now.site = site;
                }
            }
        }
    }
    store.entities.extend(removed_entities);
    let mut record = module_before.unwrap_or_else(|| ModuleRecord {
        name: module.to_owned(),
        version: 0,
        keys: Vec::new(),
        attempted: 0,
        last_error: None,
    });
    record.attempted = attempted;
    record.last_error = error;
    store.modules.insert(module.to_owned(), record);
}

#[cfg(test)]
#[path = "reducer_table_tests.rs"]
mod table_tests;
