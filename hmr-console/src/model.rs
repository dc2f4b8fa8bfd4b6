//! What the console knows: the program's modules, tracks and reloads, as
//! its events tell them. Pure data, fed one event at a time.

use std::collections::BTreeMap;

use hmr_runtime::console::wire::{ModuleState, TrackState};
use hmr_runtime::events::{CallReason, Change, EntityId, Event, TrackId};

/// A module, as its last events left it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Module {
    /// Its last committed version.
    pub version: u64,
    /// Why its last attempt failed, if it did.
    pub last_error: Option<String>,
}

/// A track, as its last events left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Track {
    /// Its id.
    pub id: TrackId,
    /// Its static key.
    pub key: String,
    /// Its structural path.
    pub path: String,
    /// Its module, if it runs in one.
    pub module: Option<String>,
    /// 1 when it first captured an entity, + 1 per update.
    pub version: u64,
    /// What its last update did.
    pub change: Option<Change>,
    /// The structural name of its entity (`source.hot_map(fn)`).
    pub entity: Option<String>,
    /// Errors its code raised at run time (panics in closures, handlers).
    pub errors: Vec<String>,
}

/// One module version (a call, a reload, a patch) and what it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reload {
    /// The module.
    pub module: String,
    /// The version it ran as.
    pub version: u64,
    /// Why it ran.
    pub reason: CallReason,
    /// `None` while it runs; then whether it committed.
    pub committed: Option<bool>,
    /// Tracks it made.
    pub created: Vec<TrackId>,
    /// Tracks it updated in place (`fn-only`).
    pub updated: Vec<TrackId>,
    /// Tracks it rebuilt (`structural`, `reset`).
    pub rebuilt: Vec<TrackId>,
    /// Tracks it disposed (not reached any more).
    pub disposed: Vec<TrackId>,
    /// Its panic, and errors raised while it ran.
    pub errors: Vec<String>,
    /// When it began (µs since the program began serving its console), if
    /// the program stamps its events.
    pub began_at: Option<u64>,
    /// How long it took, from its call to its return (µs), if stamped.
    pub took: Option<u64>,
    /// Each track it changed, as it was before (`None`: it made it), to
    /// put back if it rolls back.
    undo: Vec<(TrackId, Option<Track>)>,
}

impl Reload {
    /// Every track it touched.
    pub fn touched(&self) -> impl Iterator<Item = TrackId> + '_ {
        self.created.iter().chain(&self.updated).chain(&self.rebuilt).chain(&self.disposed).copied()
    }
}

/// How many module versions the reloads view keeps.
pub const RELOADS_KEPT: usize = 10_000;

/// A track placed in its module's tree: its depth, and its path below its
/// nearest shown ancestor.
pub type Placed<'a> = (&'a Track, usize, String);

/// Everything the console knows.
#[derive(Clone, Debug, Default)]
pub struct State {
    /// Modules by name.
    pub modules: BTreeMap<String, Module>,
    /// Living tracks by id (a disposed track is removed).
    pub tracks: BTreeMap<TrackId, Track>,
    /// Every module version seen, oldest first.
    pub reloads: Vec<Reload>,
    /// Events the program could not send (the console was slow).
    pub dropped: u64,
    /// Events seen.
    pub events: u64,
    /// Entity names, for the tracks that capture them.
    names: BTreeMap<EntityId, String>,
    /// Tracks whose call is open, with the module version running them.
    calls: BTreeMap<TrackId, (String, Option<String>, Option<String>)>,
    /// When the event being applied was emitted, if stamped.
    now: Option<u64>,
}

impl State {
    /// An empty state.
    #[must_use]
    pub fn new() -> State {
        State::default()
    }

    /// The reload running (or last run) for `module`.
    fn reload_of(&mut self, module: Option<&str>) -> Option<&mut Reload> {
        let module = module?;
        self.reloads.iter_mut().rev().find(|r| r.module == module)
    }

    /// Takes one event in, emitted `at` µs after the program began serving
    /// its console (`None`: not stamped, as in a log).
    pub fn apply_at(&mut self, event: &Event, at: Option<u64>) {
        self.now = at;
        self.apply(event);
        self.now = None;
    }

    /// Takes one event in.
    pub fn apply(&mut self, event: &Event) {
        self.events += 1;
        match event {
            Event::HmrModuleCall { module, version, reason } => {
                self.reloads.push(Reload {
                    module: module.to_string(),
                    version: *version,
                    reason: *reason,
                    committed: None,
                    created: Vec::new(),
                    updated: Vec::new(),
                    rebuilt: Vec::new(),
                    disposed: Vec::new(),
                    errors: Vec::new(),
                    began_at: self.now,
                    took: None,
                    undo: Vec::new(),
                });
                // The oldest versions go first: a long session stays small.
                if self.reloads.len() > RELOADS_KEPT {
                    self.reloads.drain(..self.reloads.len() - RELOADS_KEPT);
                }
            }
            Event::HmrModuleCallReturn { module, committed, error } => {
                self.module_return(module, *committed, error.as_ref());
            }
            Event::TrackCall { id, key, path, module, .. } => {
                let module = module.as_ref().map(|m| m.name.to_string());
                self.calls.insert(*id, (key.to_string(), Some(path.to_string()), module));
            }
            Event::ConstructorCallReturn { entity, track: Some(_), name, .. }
            | Event::FactoryCallReturn { entity, track: Some(_), name, .. }
            | Event::PipeCallReturn { entity, track: Some(_), name, .. }
            | Event::OperatorFunCall { entity, track: Some(_), name, .. } => {
                self.names.insert(*entity, name.to_string());
            }
            Event::TrackCallReturn { id, entity: Some(entity), .. } => self.returned(*id, *entity),
            Event::TrackCallReturn { id, entity: None, .. } => {
                self.calls.remove(id);
            }
            Event::TrackUpdate { id, version, change, .. } => {
                let before = self.tracks.get(id).cloned();
                let module = before.as_ref().and_then(|t| t.module.clone());
                self.remember(module.as_deref(), *id, before);
                let Some(track) = self.tracks.get_mut(id) else { return };
                track.version = *version;
                track.change = Some(*change);
                let module = track.module.clone();
                if let Some(reload) = self.reload_of(module.as_deref()) {
                    match change {
                        Change::FnOnly => reload.updated.push(*id),
                        _ => reload.rebuilt.push(*id),
                    }
                }
            }
            Event::TrackDispose { id, .. } => {
                let Some(track) = self.tracks.remove(id) else { return };
                self.remember(track.module.as_deref(), *id, Some(track.clone()));
                if let Some(reload) = self.reload_of(track.module.as_deref()) {
                    reload.disposed.push(*id);
                }
            }
            Event::ReloadError { module, message, path } => {
                self.reload_error(
                    module,
                    message,
                    path.as_ref().map(hmr_runtime::events::Path::as_str),
                );
            }
            // Subscriptions, entities outside tracks, and events of a newer
            // program: counted, not shown.
            _ => {}
        }
    }

    /// Keeps what a running version changes in `id`, the first time.
    fn remember(&mut self, module: Option<&str>, id: TrackId, before: Option<Track>) {
        if let Some(reload) = self.reload_of(module)
            && reload.committed.is_none()
            && !reload.undo.iter().any(|(t, _)| *t == id)
        {
            reload.undo.push((id, before));
        }
    }

    fn module_return(&mut self, module: &str, committed: bool, error: Option<&String>) {
        let mut undo = Vec::new();
        let now = self.now;
        let version = self.reload_of(Some(module)).map(|reload| {
            reload.committed = Some(committed);
            reload.took = now.zip(reload.began_at).map(|(end, begin)| end.saturating_sub(begin));
            if let Some(error) = error {
                reload.errors.push(error.clone());
            }
            undo = std::mem::take(&mut reload.undo);
            reload.version
        });
        if !committed {
            // The program put every track back as it was: so does the console.
            for (id, before) in undo.into_iter().rev() {
                match before {
                    Some(track) => self.tracks.insert(id, track),
                    None => self.tracks.remove(&id),
                };
            }
        }
        let entry = self.modules.entry(module.to_owned()).or_default();
        if committed {
            entry.version = version.unwrap_or(entry.version);
            entry.last_error = None;
        } else {
            entry.last_error = error.cloned();
        }
    }

    /// A call of track `id` returned `entity`: a new track, or its entity.
    fn returned(&mut self, id: TrackId, entity: EntityId) {
        let call = self.calls.remove(&id);
        let name = self.names.get(&entity).cloned();
        if let Some(before) = self.tracks.get(&id).cloned() {
            let module = before.module.clone();
            self.remember(module.as_deref(), id, Some(before));
        }
        if let Some(track) = self.tracks.get_mut(&id) {
            track.entity = name.or(track.entity.take());
            return;
        }
        let Some((key, path, module)) = call else { return };
        let track = Track {
            id,
            key,
            path: path.unwrap_or_else(|| id.to_string()),
            module: module.clone(),
            version: 1,
            change: None,
            entity: name,
            errors: Vec::new(),
        };
        self.tracks.insert(id, track);
        self.remember(module.as_deref(), id, None);
        if let Some(reload) = self.reload_of(module.as_deref()) {
            reload.created.push(id);
        }
    }

    fn reload_error(&mut self, module: &str, message: &str, path: Option<&str>) {
        let text = match path {
            Some(path) => format!("{path}: {message}"),
            None => message.to_owned(),
        };
        if let Some(path) = path
            && let Some(track) = self.tracks.values_mut().find(|t| t.path == path)
        {
            track.errors.push(message.to_owned());
        }
        // A panicking version reports its panic twice: once in its return,
        // once as a reload error.
        if let Some(reload) = self.reload_of(Some(module))
            && !reload.errors.iter().any(|e| e == &text)
        {
            reload.errors.push(text);
        }
    }

    /// Takes in a module of the state the console attached to.
    pub fn restore_module(&mut self, module: &ModuleState) {
        let entry = self.modules.entry(module.name.clone()).or_default();
        entry.version = module.version;
        entry.last_error.clone_from(&module.last_error);
    }

    /// Takes in a track of the state the console attached to.
    pub fn restore_track(&mut self, track: &TrackState) {
        self.tracks.insert(
            track.id,
            Track {
                id: track.id,
                key: track.key.clone(),
                path: track.path.clone(),
                module: track.module.clone(),
                version: track.version,
                change: track.change,
                entity: track.entity_name.clone(),
                errors: Vec::new(),
            },
        );
    }

    /// Notes `count` events the program dropped.
    pub fn dropped(&mut self, count: u64) {
        self.dropped += count;
    }

    /// The living tracks of every module (one pass over the tracks), by
    /// module name (`None`, tracks outside any module, last): each in path
    /// order with its depth and its path below its nearest shown ancestor
    /// (the whole path under the module when no ancestor is a track).
    #[must_use]
    pub fn trees(&self) -> Vec<(Option<&str>, Vec<Placed<'_>>)> {
        let mut groups: BTreeMap<Option<&str>, Vec<&Track>> = BTreeMap::new();
        for module in self.modules.keys() {
            groups.insert(Some(module.as_str()), Vec::new());
        }
        for track in self.tracks.values() {
            groups.entry(track.module.as_deref()).or_default().push(track);
        }
        let mut trees: Vec<_> =
            groups.into_iter().map(|(module, tracks)| (module, tree(tracks, module))).collect();
        // Tracks outside any module come last.
        trees.sort_by_key(|(module, _)| module.is_none());
        trees
    }
}

/// `tracks` (all of `module`) in path order, each with its depth and its
/// path below its nearest shown ancestor.
fn tree<'a>(mut tracks: Vec<&'a Track>, module: Option<&str>) -> Vec<Placed<'a>> {
    tracks.sort_by(|a, b| a.path.cmp(&b.path));
    let prefix = module.map(|m| format!("{m}/")).unwrap_or_default();
    // The shown ancestors of the track being placed, outermost first.
    let mut ancestors: Vec<&str> = Vec::new();
    let mut out = Vec::with_capacity(tracks.len());
    for track in tracks {
        while let Some(last) = ancestors.last() {
            let below = track.path.strip_prefix(last).is_some_and(|rest| rest.starts_with('/'));
            if below {
                break;
            }
            ancestors.pop();
        }
        let segment = match ancestors.last() {
            Some(parent) => track.path[parent.len() + 1..].to_owned(),
            None => track.path.strip_prefix(&prefix).unwrap_or(&track.path).to_owned(),
        };
        out.push((track, ancestors.len(), segment));
        ancestors.push(&track.path);
    }
    out
}
