//! Modules: versions, change detection, orphans, transactional reloads,
//! module isolation (V1, V4, M1–M3 as far as the foundation goes).

use hmr_runtime::{
    Change, DisposeReason, EntityKind, Event, ReloadError, TrackId, capture_entity, capture_events,
    hmr_track, module, on_dispose, reload, root, snapshot,
};

#[hmr_track(key = "modules::feed")]
fn feed_v1() {
    capture_entity(EntityKind::Pipe, "source.hot_map(fn)");
}

/// The same key with another shape, as after an edit that adds an operator.
#[hmr_track(key = "modules::feed")]
fn feed_v2() {
    capture_entity(EntityKind::Pipe, "source.hot_map(fn).hot_filter(fn)");
}

fn updates(events: &[Event]) -> Vec<(TrackId, u64, Change)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TrackUpdate { id, version, change, .. } => Some((*id, *version, *change)),
            _ => None,
        })
        .collect()
}

fn track_in(module_name: &str, key: &str) -> Option<hmr_runtime::TrackRecord> {
    snapshot()
        .tracks_with_key(key)
        .find(|t| t.module.as_ref().is_some_and(|m| m.name == module_name))
        .cloned()
}

#[test]
fn v1_same_code_again_is_an_update_of_the_same_track() {
    module("v1", feed_v1).unwrap();
    let first = track_in("v1", "modules::feed").unwrap();
    let ((), events) = capture_events(|| module("v1", feed_v1).unwrap());
    let second = track_in("v1", "modules::feed").unwrap();
    assert_eq!(first.id, second.id, "same path, same id");
    assert_eq!(second.version, first.version + 1);
    assert_eq!(updates(&events), [(first.id, 2, Change::FnOnly)]);
    assert_eq!(second.previous_entities, [first.entity.unwrap()]);
    assert_eq!(snapshot().module("v1").unwrap().version, 2);
}

#[test]
fn versions_bump_per_module_version_not_per_call() {
    module("per-version", || {
        feed_v1();
    })
    .unwrap();
    let t = track_in("per-version", "modules::feed").unwrap();
    // Called outside the module: a top-level call, its own track; the module's
    // track is untouched.
    for _ in 0..5 {
        feed_v1();
    }
    assert_eq!(track_in("per-version", "modules::feed").unwrap().version, t.version);
}

#[test]
fn v3_shape_edit_is_structural() {
    module("v3", feed_v1).unwrap();
    let ((), events) = capture_events(|| module("v3", feed_v2).unwrap());
    let t = track_in("v3", "modules::feed").unwrap();
    assert_eq!(updates(&events), [(t.id, 2, Change::Structural)]);
    assert_eq!(t.change, Some(Change::Structural));
}

#[hmr_track(key = "modules::reset", reset)]
fn always_rebuilt() {
    capture_entity(EntityKind::Constructor, "watch(0)");
}

#[test]
fn v4_reset_rebuilds_every_time() {
    module("v4", always_rebuilt).unwrap();
    for expected in 2..=4 {
        let ((), events) = capture_events(|| module("v4", always_rebuilt).unwrap());
        let u = updates(&events);
        assert_eq!(u.len(), 1);
        assert_eq!((u[0].1, u[0].2), (expected, Change::Reset));
    }
}

#[hmr_track(key = "modules::a")]
fn a() {
    capture_entity(EntityKind::Factory, "a");
}

#[hmr_track(key = "modules::b")]
fn b() {
    let entity = capture_entity(EntityKind::Factory, "b");
    on_dispose(entity, || DISPOSED.with_borrow_mut(|d| *d += 1));
}

thread_local! {
    static DISPOSED: std::cell::RefCell<u32> = const { std::cell::RefCell::new(0) };
}

#[test]
fn m1_orphans_are_disposed() {
    module("m1", || {
        a();
        b();
    })
    .unwrap();
    let b_track = track_in("m1", "modules::b").unwrap();
    let b_entity = b_track.entity.unwrap();
    let ((), events) = capture_events(|| module("m1", a).unwrap());
    assert!(
        events.contains(&Event::TrackDispose { id: b_track.id, reason: DisposeReason::Orphan })
    );
    assert!(track_in("m1", "modules::b").is_none(), "record gone");
    assert!(snapshot().entity(b_entity).is_none(), "entity gone");
    assert_eq!(DISPOSED.with_borrow(|d| *d), 1, "the entity's disposer ran");
    assert_eq!(track_in("m1", "modules::a").unwrap().version, 2);
    assert_eq!(snapshot().module("m1").unwrap().keys, ["modules::a"]);
}

#[test]
fn m2_panicking_reload_commits_nothing() {
    module("m2", || {
        a();
        b();
    })
    .unwrap();
    let before = snapshot();
    let (result, events) = capture_events(|| {
        module("m2", || {
            a();
            panic!("half-way");
        })
    });
    let Err(ReloadError::Panicked { module: name, message }) = result else { panic!("{result:?}") };
    assert_eq!((name.as_str(), message.as_str()), ("m2", "half-way"));
    assert!(
        events.contains(&Event::ReloadError { module: "m2".into(), message: "half-way".into() })
    );
    assert!(
        !events.iter().any(|e| matches!(e, Event::TrackDispose { .. })),
        "no orphans on failure"
    );
    let after = snapshot();
    let mine = |s: &hmr_runtime::Store| {
        s.tracks().filter(|t| t.path.starts_with("m2/")).cloned().collect::<Vec<_>>()
    };
    assert_eq!(mine(&after), mine(&before), "the store is as before the reload");
    assert_eq!(after.module("m2"), before.module("m2"));

    // The next version applies cleanly.
    module("m2", a).unwrap();
    assert_eq!(snapshot().module("m2").unwrap().version, 2);
    assert!(track_in("m2", "modules::b").is_none());
    assert_eq!(track_in("m2", "modules::a").unwrap().version, 2);
}

#[test]
fn m3_modules_do_not_collide() {
    module("m3-left", a).unwrap();
    module("m3-right", a).unwrap();
    let left = track_in("m3-left", "modules::a").unwrap();
    let right = track_in("m3-right", "modules::a").unwrap();
    assert_ne!(left.id, right.id);
    module("m3-left", || {}).unwrap();
    assert!(track_in("m3-left", "modules::a").is_none(), "left's orphan disposed");
    assert_eq!(track_in("m3-right", "modules::a").unwrap().id, right.id, "right untouched");
}

#[test]
fn reentering_a_running_module_is_an_error() {
    let result = module("outer-m", || module("outer-m", || ()));
    assert_eq!(result, Ok(Err(ReloadError::Reentrant { module: "outer-m".into() })));
}

static ROOT_RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[test]
fn root_and_reload_rerun_the_registered_function() {
    root("root-test", || {
        ROOT_RUNS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        a();
    })
    .unwrap();
    reload().unwrap();
    assert!(ROOT_RUNS.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    assert!(snapshot().module("root-test").unwrap().version >= 2);
    assert!(track_in("root-test", "modules::a").unwrap().version >= 2);
}
