//! Scenarios T1–T7 (docs/design.md §10): tracks, nesting, last entity wins, the
//! stack, repeats, returned closures, async scopes; and T8: functions of one
//! name in sibling blocks are distinct tracks; T9: a spawned task runs in the
//! spawning scope.
//!
//! Entities are announced through the low-level capture API, exactly as the
//! entity types (sources, operator chains) do.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use hmr_runtime::{
    EntityKind, Event, TrackId, capture_entity, capture_events, current_track, events::EntityId,
    hmr_track, module, snapshot, store::derive_structural_path,
};
use hmr_tests::{calls, is_fn, kinds};

/// Stand-in for a source: a factory entity.
fn source(name: &str) -> EntityId {
    capture_entity(EntityKind::Factory, name)
}

#[hmr_track]
fn prices() -> EntityId {
    source("source")
}

#[test]
fn t1_track_and_entity() {
    let (entity, events) = capture_events(|| module("t1", prices).unwrap());
    assert_eq!(
        kinds(&events),
        [
            "hmr-module-call",
            "track-call",
            "factory-call-return",
            "track-call-return",
            "hmr-module-call-return"
        ]
    );
    let store = snapshot();
    let tracks: Vec<_> =
        store.tracks().filter(|t| t.module.as_ref().is_some_and(|m| m.name == "t1")).collect();
    assert_eq!(tracks.len(), 1);
    let t = tracks[0];
    assert!(t.key.ends_with("tracks::prices"), "{}", t.key);
    assert_eq!(t.parent, None, "a root hangs under its module, not a track");
    assert_eq!(t.version, 1, "versions start at 1");
    assert_eq!(t.entity, Some(entity));
    assert_eq!(t.path, format!("t1/{}#0", t.key));
    assert_eq!(store.entity(entity).map(|e| e.kind), Some(EntityKind::Factory));
}

#[hmr_track]
fn outer() -> (TrackId, TrackId) {
    let me = current_track().unwrap();
    (me, inner())
}

#[hmr_track]
fn inner() -> TrackId {
    source("inner");
    current_track().unwrap()
}

#[test]
fn t2_nesting() {
    let ((outer_id, inner_id), events) = capture_events(|| module("t2", outer).unwrap());
    let store = snapshot();
    let inner = store.track(inner_id).expect("inner captured an entity: stored");
    assert_eq!(inner.parent, Some(outer_id));
    assert!(store.track(outer_id).is_none(), "outer captured nothing: not stored");
    let call = calls(&events).into_iter().find(|c| c.id == outer_id).unwrap();
    assert_eq!(inner.path, format!("{}/{}#0", call.path, inner.key));
    assert_eq!(derive_structural_path(&store, inner_id).as_deref(), Some(inner.path.as_str()));
}

#[hmr_track]
fn chain() -> EntityId {
    let _source = capture_entity(EntityKind::Factory, "source");
    let _map = capture_entity(EntityKind::Pipe, "source.hot_map(fn)");
    capture_entity(EntityKind::Pipe, "source.hot_map(fn).hot_filter(fn)")
}

#[test]
fn t3_last_entity_wins() {
    let last = module("t3", chain).unwrap();
    let store = snapshot();
    let t = store.tracks_ending_with("tracks::chain").next().unwrap();
    assert_eq!(t.entity, Some(last));
    assert_eq!(store.entity_name(t.id), Some("source.hot_map(fn).hot_filter(fn)"));
}

#[hmr_track]
fn boom() {
    panic!("boom");
}

#[test]
fn t4_stack() {
    assert_eq!(current_track(), None);
    let ((me, _), events) = capture_events(outer);
    let outer_call = calls(&events).into_iter().find(|c| is_fn(&c.key, "outer")).unwrap();
    assert_eq!(me, outer_call.id, "inside a tracked fn, current_track() is its id");
    assert_eq!(current_track(), None);
    assert!(std::panic::catch_unwind(boom).is_err());
    assert_eq!(current_track(), None, "a caught panic leaves the stack empty");
}

#[hmr_track]
fn repeated(n: usize) {
    for _ in 0..n {
        prices();
    }
}

#[test]
fn t5_repeats() {
    let ((), events) = capture_events(|| module("t5", || repeated(3)).unwrap());
    let paths: Vec<String> =
        calls(&events).into_iter().filter(|c| is_fn(&c.key, "prices")).map(|c| c.path).collect();
    assert_eq!(paths.len(), 3);
    for (i, path) in paths.iter().enumerate() {
        assert!(path.ends_with(&format!("::prices#{i}")), "{path}");
    }
    let ids_v1: Vec<TrackId> = snapshot()
        .tracks_ending_with("::prices")
        .filter(|t| t.path.starts_with("t5/"))
        .map(|t| t.id)
        .collect();
    assert_eq!(ids_v1.len(), 3);

    let ((), events) = capture_events(|| module("t5", || repeated(2)).unwrap());
    let disposed: Vec<TrackId> = events
        .iter()
        .filter_map(|e| match e {
            Event::TrackDispose { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(disposed.len(), 1);
    let store = snapshot();
    let left: Vec<_> =
        store.tracks_ending_with("::prices").filter(|t| t.path.starts_with("t5/")).collect();
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|t| !t.path.ends_with("#2") && t.version == 2));
    assert!(store.track(disposed[0]).is_none());
    assert!(ids_v1.contains(&disposed[0]));
}

#[hmr_track(key = "tracks::make")]
fn make() -> impl Fn(u32) -> EntityId {
    |n| source(&format!("source-{n}"))
}

#[test]
fn t6_returned_closure() {
    module("t6", || {
        let before = snapshot().tracks_with_key("tracks::make").count();
        let f = make();
        assert_eq!(
            snapshot().tracks_with_key("tracks::make").count(),
            before,
            "defining stores nothing"
        );
        let a = f(1);
        let b = f(2);
        assert_ne!(a, b, "two calls hand out two distinct entities");
        let store = snapshot();
        let tracks: Vec<_> =
            store.tracks_with_key("tracks::make").filter(|t| t.path.starts_with("t6/")).collect();
        assert_eq!(tracks.len(), 2, "each call opened its own scope");
        assert!(tracks.iter().any(|t| t.entity == Some(a)));
        assert!(tracks.iter().any(|t| t.entity == Some(b)));
    })
    .unwrap();
}

#[hmr_track]
async fn worker(rounds: usize, seen: Arc<AtomicUsize>) -> TrackId {
    let me = current_track().expect("inside the scope");
    for _ in 0..rounds {
        yield_now().await;
        assert_eq!(current_track(), Some(me), "another task's scope leaked in");
        assert_ne!(child_of_worker(), me);
        seen.fetch_add(1, Ordering::Relaxed);
    }
    me
}

#[hmr_track]
fn child_of_worker() -> TrackId {
    current_track().unwrap()
}

async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

#[test]
fn t7_async_scopes_do_not_leak() {
    let seen = Arc::new(AtomicUsize::new(0));
    // Under a module, the two calls are `#0` and `#1` of one parent; at top
    // level both would re-enter the one track of their key.
    let (ids, events) = capture_events(|| {
        module("t7", || {
            let mut pool = LocalPool::new();
            let a = pool.spawner().spawn_local_with_handle(worker(100, seen.clone())).unwrap();
            let b = pool.spawner().spawn_local_with_handle(worker(100, seen.clone())).unwrap();
            pool.run_until(async { (a.await, b.await) })
        })
        .unwrap()
    });
    assert_eq!(seen.load(Ordering::Relaxed), 200);
    let calls = calls(&events);
    let workers: Vec<_> = calls.iter().filter(|c| is_fn(&c.key, "worker")).collect();
    assert_eq!(workers.len(), 2);
    assert_ne!(ids.0, ids.1);
    assert!(workers.iter().all(|c| c.id == ids.0 || c.id == ids.1));
    for child in calls.iter().filter(|c| is_fn(&c.key, "child_of_worker")) {
        assert!(child.parent == Some(ids.0) || child.parent == Some(ids.1), "{child:?}");
    }
    let per_parent = |id| {
        calls.iter().filter(|c| is_fn(&c.key, "child_of_worker") && c.parent == Some(id)).count()
    };
    assert_eq!(per_parent(ids.0), 100);
    assert_eq!(per_parent(ids.1), 100);
}

#[hmr_track(key = "tracks::looped")]
fn looped() -> EntityId {
    source("looped-source")
}

#[hmr_track(key = "tracks::looped_plain")]
fn looped_plain() -> Option<TrackId> {
    current_track()
}

#[test]
fn a_tracked_fn_called_in_a_loop_outside_modules_does_not_grow_the_store() {
    let first = looped_plain();
    for _ in 0..10_000 {
        assert_eq!(looped_plain(), first, "every call re-enters the one track of its key");
    }
    assert_eq!(
        snapshot().tracks_with_key("tracks::looped_plain").count(),
        0,
        "no entity: not stored"
    );

    let mut last = looped();
    for _ in 0..10_000 {
        last = looped();
    }
    let store = snapshot();
    let tracks: Vec<_> = store.tracks_with_key("tracks::looped").collect();
    assert_eq!(tracks.len(), 1);
    assert_eq!(tracks[0].entity, Some(last));
    assert_eq!(tracks[0].version, 10_001, "a re-entry that captured a different entity bumps");
    assert!(tracks[0].previous_entities.len() <= 8);
    let held = store.entities().filter(|(_, e)| e.track == tracks[0].id).count();
    assert!(held <= 9, "superseded entities are dropped: {held}");
}

#[hmr_track(key = "tracks::stored_outer")]
fn stored_outer() -> (TrackId, TrackId) {
    let me = current_track().unwrap();
    let (_, inner) = (source("outer-source"), stored_inner());
    capture_entity(EntityKind::Pipe, "outer-source.hot_map(fn)");
    (me, inner)
}

#[hmr_track(key = "tracks::stored_inner")]
fn stored_inner() -> TrackId {
    source("inner-source");
    current_track().unwrap()
}

#[test]
fn derive_structural_path_walks_stored_parents() {
    let (outer, inner) = module("derive", stored_outer).unwrap();
    let store = snapshot();
    assert_eq!(store.track(inner).unwrap().parent, Some(outer));
    assert_eq!(
        derive_structural_path(&store, inner).as_deref(),
        Some("derive/tracks::stored_outer#0/tracks::stored_inner#0")
    );
    assert_eq!(
        derive_structural_path(&store, outer).as_deref(),
        Some("derive/tracks::stored_outer#0")
    );
    assert_eq!(derive_structural_path(&store, "t1".parse::<TrackId>().unwrap()), None);
}

#[test]
fn render_tree_shows_modules_nesting_versions_and_entities() {
    module("render", stored_outer).unwrap();
    module("render", stored_outer).unwrap();
    let tree = hmr_runtime::render_tree();
    let lines: Vec<&str> = tree.lines().skip_while(|l| *l != "module render v2").take(3).collect();
    assert_eq!(lines.len(), 3, "{tree}");
    assert!(
        lines[1].starts_with("  tracks::stored_outer#0 v2 fn-only outer-source.hot_map(fn) ["),
        "{tree}"
    );
    assert!(lines[2].starts_with("    tracks::stored_inner#0 v2 fn-only inner-source ["), "{tree}");
}

#[hmr_track(key = "tracks::two\nlines\u{1b}[31m")]
fn control_characters() -> EntityId {
    source("entity\nwith a newline")
}

#[test]
fn render_tree_escapes_control_characters() {
    module("render\nescape\u{1b}[2J", control_characters).unwrap();
    let tree = hmr_runtime::render_tree();
    assert!(!tree.contains('\u{1b}'), "no raw escape: {tree:?}");
    let lines: Vec<&str> =
        tree.lines().skip_while(|l| !l.starts_with("module render\\nescape")).take(2).collect();
    assert_eq!(lines.len(), 2, "one line each: {tree}");
    assert_eq!(lines[0], "module render\\nescape\\u{1b}[2J v1");
    assert!(
        lines[1].starts_with("  tracks::two\\nlines\\u{1b}[31m#0 v1  entity\\nwith a newline ["),
        "{tree}"
    );
}

/// Two functions named `pick` in sibling blocks: one item path, two
/// functions. Each builds its own entity.
#[hmr_track]
fn sibling_blocks(first: bool) -> EntityId {
    if first {
        #[hmr_track]
        fn pick() -> EntityId {
            source("first")
        }
        pick()
    } else {
        #[hmr_track]
        fn pick() -> EntityId {
            source("second")
        }
        pick()
    }
}

#[test]
fn t8_same_name_fns_in_sibling_blocks_are_distinct_tracks() {
    let (_, events) = capture_events(|| (sibling_blocks(true), sibling_blocks(false)));
    let picks: Vec<_> = calls(&events).into_iter().filter(|c| c.key.contains("pick")).collect();
    assert_eq!(picks.len(), 2);
    assert_ne!(picks[0].key, picks[1].key, "one key each: {picks:#?}");
    assert!(picks.iter().all(|c| c.key.starts_with("tracks::sibling_blocks::pick")), "{picks:#?}");

    // In a module, switching from one to the other between runs replaces
    // the track: the second `pick` does not take over the first's entity.
    module("t8", || sibling_blocks(true)).unwrap();
    let in_t8 = |store: &hmr_runtime::store::Store, key: &str| {
        store.tracks_with_key(key).filter(|t| t.path.starts_with("t8/")).map(|t| t.id).collect()
    };
    let first: Vec<TrackId> = in_t8(&snapshot(), &picks[0].key);
    assert_eq!(first.len(), 1);
    let (_, events) = capture_events(|| module("t8", || sibling_blocks(false)).unwrap());
    let store = snapshot();
    assert!(store.track(first[0]).is_none(), "the first pick is disposed");
    assert!(events.iter().any(|e| matches!(e, Event::TrackDispose { .. })), "{events:#?}");
    assert_eq!(in_t8(&store, &picks[1].key).len(), 1);
}

/// Builds an entity and reports its own track, from inside a spawned task.
#[hmr_track]
async fn spawned_child(report: futures::channel::oneshot::Sender<Option<TrackId>>) {
    tokio::task::yield_now().await;
    source("child");
    let _ = report.send(current_track());
}

#[hmr_track(key = "tracks::spawner")]
fn spawner(report: futures::channel::oneshot::Sender<Option<TrackId>>) {
    hmr_runtime::spawn(async move { spawned_child(report).await });
}

#[test]
fn t9_a_spawned_task_runs_in_the_spawning_scope() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    let _entered = runtime.enter();
    let (report, child) = futures::channel::oneshot::channel();
    module("t9", || spawner(report)).unwrap();
    let child = futures::executor::block_on(child).unwrap().expect("the child is tracked");
    // The child's return reaches the store just after its report.
    hmr_tests::wait_until("the child's track is stored", || snapshot().track(child).is_some());
    let store = snapshot();
    let owner = store.tracks_with_key("tracks::spawner").next().expect("the spawner's track");
    let child = store.track(child).expect("the child's track is the module's");
    assert_eq!(child.parent, Some(owner.id), "the spawning scope is the parent");
    assert!(child.path.starts_with(&format!("{}/", owner.path)), "{}", child.path);

    // A re-execution respawns the task, in the same scope: the same track.
    let (report, again) = futures::channel::oneshot::channel();
    module("t9", || spawner(report)).unwrap();
    let again = futures::executor::block_on(again).unwrap();
    assert_eq!(again, Some(child.id));

    // It goes with the spawner: a version without it disposes both.
    let ((), events) = capture_events(|| module("t9", || ()).unwrap());
    let disposed = hmr_tests::disposed(&events);
    assert!(disposed.contains(&owner.id) && disposed.contains(&child.id), "{disposed:?}");
}
