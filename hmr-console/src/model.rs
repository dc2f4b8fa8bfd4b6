//! What the console knows: the program's modules, tracks and reloads, as
//! its events tell them. Pure data, fed one event at a time.

use std::collections::{BTreeMap, HashMap, VecDeque};

use hmr_runtime::console::wire::{
    ModuleState, ProbeState, SampleState, TaskStatus, Tick, TrackState,
};
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

/// The items one operator of a track let through: a lane of the marbles
/// view. A track rebuilt keeps its lanes (an operator of the same chain
/// name goes on in the same lane).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lane {
    /// The chain's structural name up to the operator (`source.hot_map(fn)`).
    pub name: String,
    /// Items counted through it while a console was attached.
    pub items: u64,
    /// `(at, items)` at the ticks that changed it, for its rate.
    history: VecDeque<(u64, u64)>,
    /// Its recent sampled items, oldest first.
    pub samples: VecDeque<Sampled>,
}

/// A sampled item, as a lane keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sampled {
    /// When it went through (µs since the program began serving).
    pub at: u64,
    /// Which code touched it: a number per closure the lane's operators ran,
    /// 0 for the first the console saw, + 1 at every swap or rebuild.
    pub code: u64,
    /// The item's `Debug` or its type name.
    pub item: String,
}

/// Lanes a track shows at most (a chain of more operators shows its first).
pub const LANES_MAX: usize = 32;

/// Samples a lane keeps.
pub const SAMPLES_KEPT: usize = 512;

/// The span of time a rate is measured over (µs).
pub const RATE_WINDOW: u64 = 1_000_000;

impl Lane {
    /// The operator's own part of its chain name (`hot_map(fn)`).
    #[must_use]
    pub fn operator(&self) -> &str {
        let mut depth = 0_i32;
        let mut start = 0;
        for (i, c) in self.name.char_indices() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                '.' if depth == 0 => start = i + 1,
                _ => {}
            }
        }
        &self.name[start..]
    }

    /// Items per second over the last [`RATE_WINDOW`] before `now`.
    #[must_use]
    pub fn rate(&self, now: u64) -> f64 {
        let from = now.saturating_sub(RATE_WINDOW);
        // The count at the window's start: the last change before it, or
        // the first one seen.
        let base = self.history.iter().rev().find(|(at, _)| *at <= from).or(self.history.front());
        let Some(&(then, items_then)) = base else { return 0.0 };
        let span = now.saturating_sub(then).max(1);
        #[allow(clippy::cast_precision_loss, reason = "a rate shown to 3 digits")]
        let rate = self.items.saturating_sub(items_then) as f64 * 1e6 / span as f64;
        rate
    }

    fn counted(&mut self, delta: u64, at: u64) {
        self.items = self.items.saturating_add(delta);
        self.history.push_back((at, self.items));
        // Kept: the changes in the window, and the last one before it.
        while self.history.len() > 2 && self.history[1].0 <= at.saturating_sub(RATE_WINDOW) {
            self.history.pop_front();
        }
    }
}

/// What the console knows of a probe (an operator whose items are counted).
#[derive(Clone, Debug)]
struct Probe {
    track: TrackId,
    lane: String,
    /// Its count at the last tick.
    items: u64,
    /// The last code it reported, and the lane's number for it.
    code: Option<(u64, u64)>,
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
    /// The lanes of each track (its operators counted), by chain name.
    pub lanes: BTreeMap<TrackId, Vec<Lane>>,
    /// The latest time the program told (µs since it began serving).
    pub now: u64,
    /// What each living subscription's task is doing, by track, then by
    /// subscription id.
    pub tasks: BTreeMap<TrackId, BTreeMap<u64, TaskStatus>>,
    /// Each living subscription's track.
    task_tracks: HashMap<u64, TrackId>,
    /// The operators counted, by probe number.
    probes: HashMap<u64, Probe>,
    /// Entity names, for the tracks that capture them.
    names: BTreeMap<EntityId, String>,
    /// Tracks whose call is open, with the module version running them.
    calls: BTreeMap<TrackId, (String, Option<String>, Option<String>)>,
    /// When the event being applied was emitted, if stamped.
    stamp: Option<u64>,
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
        if let Some(at) = at {
            self.now = self.now.max(at);
        }
        self.stamp = at;
        self.apply(event);
        self.stamp = None;
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
                    began_at: self.stamp,
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
                self.lanes.remove(id);
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
        let now = self.stamp;
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

    /// Takes in an operator, before its counts. A track shows at most
    /// [`LANES_MAX`] lanes.
    pub fn probe(&mut self, probe: &ProbeState) {
        let Some(track) = probe.track else { return };
        let lanes = self.lanes.entry(track).or_default();
        if !lanes.iter().any(|l| l.name == probe.name) {
            if lanes.len() >= LANES_MAX {
                return;
            }
            lanes.push(Lane { name: probe.name.clone(), ..Lane::default() });
            // Chain order: a chain's name grows with every operator.
            lanes.sort_by(|a, b| a.name.len().cmp(&b.name.len()).then(a.name.cmp(&b.name)));
        }
        let known = Probe { track, lane: probe.name.clone(), items: 0, code: None };
        self.probes.insert(probe.n, known);
    }

    /// Takes in a tick: the items through operators so far.
    pub fn tick(&mut self, tick: &Tick) {
        self.now = self.now.max(tick.at);
        if tick.full {
            // Every living operator and task is listed: the others are gone,
            // and so are the lanes of tracks with neither a record nor a
            // living operator.
            self.tasks.clear();
            self.task_tracks.clear();
            let listed: std::collections::HashSet<u64> =
                tick.items.iter().map(|(n, _)| *n).collect();
            self.probes.retain(|n, _| listed.contains(n));
            let (tracks, probes) = (&self.tracks, &self.probes);
            self.lanes
                .retain(|id, _| tracks.contains_key(id) || probes.values().any(|p| p.track == *id));
        }
        for task in &tick.tasks {
            // Where it was: it may have gone, or (from a broken program)
            // moved.
            if let Some(track) = self.task_tracks.remove(&task.id)
                && let Some(of_track) = self.tasks.get_mut(&track)
            {
                of_track.remove(&task.id);
                if of_track.is_empty() {
                    self.tasks.remove(&track);
                }
            }
            if let (status, Some(track)) = (task.status, task.track)
                && status != TaskStatus::Gone
            {
                self.task_tracks.insert(task.id, track);
                self.tasks.entry(track).or_default().insert(task.id, status);
            }
        }
        for &(n, items) in &tick.items {
            let Some(probe) = self.probes.get_mut(&n) else { continue };
            let delta = items.saturating_sub(probe.items);
            probe.items = items;
            let lane = self
                .lanes
                .get_mut(&probe.track)
                .and_then(|lanes| lanes.iter_mut().find(|l| l.name == probe.lane));
            if let Some(lane) = lane
                && delta > 0
            {
                lane.counted(delta, tick.at);
            }
        }
    }

    /// What the tasks of `track`'s subscriptions are doing, each status once.
    #[must_use]
    pub fn task_statuses(&self, track: TrackId) -> Vec<TaskStatus> {
        let mut statuses: Vec<TaskStatus> = Vec::new();
        for status in self.tasks.get(&track).into_iter().flat_map(BTreeMap::values) {
            if !statuses.contains(status) {
                statuses.push(*status);
            }
        }
        statuses
    }

    /// Takes in a sampled item.
    pub fn sample(&mut self, sample: &SampleState) {
        let Some(probe) = self.probes.get_mut(&sample.n) else { return };
        let Some(lanes) = self.lanes.get_mut(&probe.track) else { return };
        let Some(lane) = lanes.iter_mut().find(|l| l.name == probe.lane) else { return };
        let last = lane.samples.back().map_or(0, |s| s.code);
        // A new code: a swap in this operator, or a rebuilt operator.
        let code = match probe.code {
            Some((reported, code)) if reported == sample.code => code,
            None if lane.samples.is_empty() => 0,
            Some(_) | None => last + 1,
        };
        probe.code = Some((sample.code, code));
        lane.samples.push_back(Sampled { at: sample.at, code, item: sample.item.clone() });
        if lane.samples.len() > SAMPLES_KEPT {
            lane.samples.pop_front();
        }
        self.now = self.now.max(sample.at);
    }

    /// Takes in what a source reports. A program attached anew starts the
    /// picture afresh.
    pub fn take(&mut self, incoming: &crate::source::Incoming) {
        use crate::source::Incoming;
        match incoming {
            Incoming::Event(event, at) => self.apply_at(event, *at),
            Incoming::Dropped(n) => self.dropped(*n),
            Incoming::Module(module) => self.restore_module(module),
            Incoming::Track(track) => self.restore_track(track),
            Incoming::Probe(probe) => self.probe(probe),
            Incoming::Tick(tick) => self.tick(tick),
            Incoming::Sample(sample) => self.sample(sample),
            Incoming::Attached(..) => *self = State::new(),
            Incoming::Detached(_) => {}
        }
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
