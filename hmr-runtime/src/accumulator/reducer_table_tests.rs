//! Table tests of the reducer: an event sequence goes in, the store (and the
//! effects it made due) come out. The rules are docs/design.md §4–§6; the
//! events are built by hand, as the instrumentation would send them.

use super::{Effects, reduce};
use crate::events::{
    CallId, Change, DisposeReason, EntityId, Event, ModuleVersion, Outcome, Site, TrackId,
};
use crate::store::Store;

/// Reduces `events` and what they cause (`track-update`, `track-dispose`),
/// as the dispatcher does; returns the caused events and the effects.
fn run(store: &mut Store, events: Vec<Event>) -> (Vec<Event>, Effects) {
    let mut fx = Effects::default();
    let mut caused = Vec::new();
    for event in events {
        reduce(store, event, &mut fx);
        while !fx.events.is_empty() {
            for follow in std::mem::take(&mut fx.events) {
                caused.push(follow.clone());
                reduce(store, follow, &mut fx);
            }
        }
    }
    (caused, fx)
}

/// A call made in version `version` of module `name`.
#[allow(clippy::unnecessary_wraps, reason = "what `call` takes, as the event carries it")]
fn module(name: &str, version: u64) -> Option<ModuleVersion> {
    Some(ModuleVersion { name: name.into(), version })
}

/// One call of the track `id` (path `path`) that captures `entity`, with
/// `shape`, in `module`.
fn call(
    id: u64,
    call: u64,
    path: &str,
    entity: Option<(u64, u64)>,
    module: Option<ModuleVersion>,
) -> Vec<Event> {
    let (id, call) = (TrackId(id), CallId(call));
    let mut events = vec![Event::TrackCall {
        id,
        call,
        key: "app::prices".into(),
        path: path.into(),
        parent: None,
        site: Site { file: "src/app.rs".into(), line: 3, column: 4 },
        module,
        reset: false,
        item_of: None,
    }];
    if let Some((entity, shape)) = entity {
        events.push(Event::FactoryCallReturn {
            entity: EntityId(entity),
            track: Some(id),
            call: Some(call),
            name: "source".into(),
            shape,
        });
    }
    events.push(Event::TrackCallReturn {
        id,
        call,
        entity: entity.map(|(e, _)| EntityId(e)),
        outcome: Outcome::Returned,
    });
    events
}

/// A module version around `body`: `committed`, or failed with an error.
fn version(name: &str, v: u64, body: Vec<Event>, committed: bool) -> Vec<Event> {
    let mut events = vec![Event::HmrModuleCall {
        module: name.into(),
        version: v,
        reason: crate::events::CallReason::Call,
    }];
    events.extend(body);
    events.push(Event::HmrModuleCallReturn {
        module: name.into(),
        committed,
        error: (!committed).then(|| "it panicked".to_owned()),
    });
    events
}

/// What a test expects of one stored track.
#[derive(Debug, PartialEq, Eq)]
struct Row {
    path: String,
    version: u64,
    entity: Option<EntityId>,
    change: Option<Change>,
}

fn rows(store: &Store) -> Vec<Row> {
    let mut rows: Vec<Row> = store
        .tracks()
        .map(|t| Row {
            path: t.path.to_string(),
            version: t.version,
            entity: t.entity,
            change: t.change,
        })
        .collect();
    rows.sort_by(|a, b| a.path.cmp(&b.path));
    rows
}

fn row(path: &str, version: u64, entity: u64, change: Option<Change>) -> Row {
    Row { path: path.into(), version, entity: Some(EntityId(entity)), change }
}

/// One row of the table.
struct Case {
    name: &'static str,
    events: Vec<Event>,
    tracks: Vec<Row>,
    /// The module's (version, attempted, has an error), if it has a record.
    module: Option<(u64, u64, bool)>,
    disposed: Vec<u64>,
    changes: Vec<Change>,
    /// The swaps made due at commit: (living, new, change).
    applies: Vec<(u64, u64, Change)>,
}

fn cases(m: &str) -> Vec<Case> {
    vec![
        Case {
            name: "a call outside any module that captures an entity is stored",
            events: call(1, 1, "app::prices#0", Some((10, 7)), None),
            tracks: vec![row("app::prices#0", 1, 10, None)],
            module: None,
            disposed: vec![],
            changes: vec![],
            applies: vec![],
        },
        Case {
            name: "a call that captures nothing is not",
            events: call(1, 1, "app::prices#0", None, None),
            tracks: vec![],
            module: None,
            disposed: vec![],
            changes: vec![],
            applies: vec![],
        },
        Case {
            name: "the same shape again is a fn-only update of the living entity",
            events: [
                version(m, 1, call(1, 1, "m/app::prices#0", Some((10, 7)), module(m, 1)), true),
                version(m, 2, call(1, 2, "m/app::prices#0", Some((11, 7)), module(m, 2)), true),
            ]
            .concat(),
            // The record names the new entity; the swap makes the living
            // graph answer to it (design §5.3).
            tracks: vec![row("m/app::prices#0", 2, 11, Some(Change::FnOnly))],
            module: Some((2, 2, false)),
            disposed: vec![],
            changes: vec![Change::FnOnly],
            applies: vec![(10, 11, Change::FnOnly)],
        },
        Case {
            name: "another shape is a structural update to the new entity",
            events: [
                version(m, 1, call(1, 1, "m/app::prices#0", Some((10, 7)), module(m, 1)), true),
                version(m, 2, call(1, 2, "m/app::prices#0", Some((11, 8)), module(m, 2)), true),
            ]
            .concat(),
            tracks: vec![row("m/app::prices#0", 2, 11, Some(Change::Structural))],
            module: Some((2, 2, false)),
            disposed: vec![],
            changes: vec![Change::Structural],
            applies: vec![(10, 11, Change::Structural)],
        },
        Case {
            name: "a track the next version does not visit is disposed with its entity, and \
                   the module, holding nothing, is forgotten",
            events: [
                version(m, 1, call(1, 1, "m/app::prices#0", Some((10, 7)), module(m, 1)), true),
                version(m, 2, vec![], true),
            ]
            .concat(),
            tracks: vec![],
            module: None,
            disposed: vec![10],
            changes: vec![],
            applies: vec![],
        },
        Case {
            name: "a failed version commits nothing, uses up its number and keeps its error",
            events: [
                version(m, 1, call(1, 1, "m/app::prices#0", Some((10, 7)), module(m, 1)), true),
                version(m, 2, call(1, 2, "m/app::prices#0", Some((11, 8)), module(m, 2)), false),
            ]
            .concat(),
            tracks: vec![row("m/app::prices#0", 1, 10, None)],
            module: Some((1, 2, true)),
            disposed: vec![11],
            // Reported when the track returned, undone in the store by the
            // rollback; nothing swaps.
            changes: vec![Change::Structural],
            applies: vec![],
        },
    ]
}

#[test]
fn the_reducer_turns_event_sequences_into_stores() {
    let m = "m";
    for case in cases(m) {
        let mut store = Store::new();
        let (caused, fx) = run(&mut store, case.events);
        assert_eq!(rows(&store), case.tracks, "{}: tracks", case.name);
        let record = store.module(m).map(|r| (r.version, r.attempted, r.last_error.is_some()));
        assert_eq!(record, case.module, "{}: module record", case.name);
        let disposed: Vec<u64> = fx.disposed.iter().map(|e| e.0).collect();
        assert_eq!(disposed, case.disposed, "{}: disposed entities", case.name);
        let changes: Vec<Change> = caused
            .iter()
            .filter_map(|e| match e {
                Event::TrackUpdate { change, .. } => Some(*change),
                _ => None,
            })
            .collect();
        assert_eq!(changes, case.changes, "{}: track-updates", case.name);
        for event in &caused {
            if let Event::TrackDispose { reason, .. } = event {
                assert_eq!(*reason, DisposeReason::Orphan, "{}", case.name);
            }
        }
        let applies: Vec<(u64, u64, Change)> =
            fx.applies.iter().map(|a| (a.prev.0, a.new.0, a.change)).collect();
        assert_eq!(applies, case.applies, "{}: swaps", case.name);
        assert!(store.open.is_empty(), "{}: every call returned", case.name);
    }
}
