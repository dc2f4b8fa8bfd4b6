//! Modules: versions, change detection, orphans, transactional reloads,
//! module isolation (V1, V4, M1–M3 as far as the foundation goes).

use hmr_runtime::{
    Change, EntityKind, Event, ReloadError, TrackId, capture_entity, capture_events,
    events::CallReason, events::DisposeReason, hmr_track, module, on_dispose, reload, root,
    snapshot,
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

fn track_in(module_name: &str, key: &str) -> Option<hmr_runtime::store::TrackRecord> {
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

#[hmr_track(key = "modules::maybe")]
fn maybe_capture(capture: bool) {
    if capture {
        capture_entity(EntityKind::Pipe, "source.hot_map(fn)");
    }
}

#[test]
fn versions_bump_once_per_module_version() {
    // Two calls in one version are two tracks (#0, #1), each created once.
    module("per-version", || {
        feed_v1();
        feed_v1();
    })
    .unwrap();
    let v1: Vec<_> = snapshot()
        .tracks_with_key("modules::feed")
        .filter(|t| t.path.starts_with("per-version/"))
        .cloned()
        .collect();
    assert_eq!(v1.iter().map(|t| t.version).collect::<Vec<_>>(), [1, 1]);
    let ((), events) = capture_events(|| {
        module("per-version", || {
            feed_v1();
            feed_v1();
        })
        .unwrap();
    });
    assert_eq!(updates(&events).len(), 2, "one update per track per module version");
    let v2: Vec<_> = snapshot()
        .tracks_with_key("modules::feed")
        .filter(|t| t.path.starts_with("per-version/"))
        .cloned()
        .collect();
    assert_eq!(v2.iter().map(|t| t.version).collect::<Vec<_>>(), [2, 2]);
}

#[test]
fn a_track_reached_without_capturing_keeps_its_entity() {
    module("no-capture", || maybe_capture(true)).unwrap();
    let v1 = track_in("no-capture", "modules::maybe").unwrap();
    let ((), events) = capture_events(|| module("no-capture", || maybe_capture(false)).unwrap());
    let v2 = track_in("no-capture", "modules::maybe").expect("reached: not an orphan");
    assert_eq!(v2.entity, v1.entity, "last entity wins; none was captured this time");
    assert_eq!(updates(&events), [(v1.id, 2, Change::FnOnly)], "reached by a new version: updated");
    assert!(v2.previous_entities.is_empty());
    assert!(!events.iter().any(|e| matches!(e, Event::TrackDispose { .. })));
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
    assert!(events.contains(&Event::ReloadError {
        module: "m2".into(),
        message: "half-way".into(),
        path: None
    }));
    assert!(
        !events.iter().any(|e| matches!(e, Event::TrackDispose { .. })),
        "no orphans on failure"
    );
    let after = snapshot();
    let mine = |s: &hmr_runtime::store::Store| {
        s.tracks().filter(|t| t.path.starts_with("m2/")).cloned().collect::<Vec<_>>()
    };
    assert_eq!(mine(&after), mine(&before), "the store is as before the reload");
    let (m_before, m_after) = (before.module("m2").unwrap(), after.module("m2").unwrap());
    assert_eq!((m_after.version, &m_after.keys), (m_before.version, &m_before.keys));
    // The error: the failed attempt used up version 2.
    assert_eq!((m_after.attempted, m_after.last_error.as_deref()), (2, Some("half-way")));

    // The next version, 3, applies cleanly.
    let ((), events) = capture_events(|| module("m2", a).unwrap());
    assert!(events.contains(&Event::HmrModuleCall {
        module: "m2".into(),
        version: 3,
        reason: CallReason::Call
    }));
    let m = snapshot().module("m2").unwrap().clone();
    assert_eq!((m.version, m.last_error), (3, None));
    assert!(track_in("m2", "modules::b").is_none());
    assert_eq!(track_in("m2", "modules::a").unwrap().version, 2, "a's second execution");
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
    let ((), events) = capture_events(|| reload().unwrap());
    let reasons: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::HmrModuleCall { module, reason, .. } if module == "root-test" => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, [CallReason::Reload], "reload() says why the module runs");
    assert!(ROOT_RUNS.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    assert!(snapshot().module("root-test").unwrap().version >= 2);
    assert!(track_in("root-test", "modules::a").unwrap().version >= 2);
}

// ---- disposal and locking ---------------------------------------------------

static RAN: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

#[hmr_track(key = "modules::disposed_loudly")]
fn disposed_loudly() {
    let entity = capture_entity(EntityKind::Factory, "loud");
    on_dispose(entity, || panic!("a broken disposer"));
}

#[hmr_track(key = "modules::disposed_quietly")]
fn disposed_quietly() {
    let entity = capture_entity(EntityKind::Factory, "quiet");
    on_dispose(entity, || RAN.lock().unwrap().push("quiet"));
}

#[test]
fn a_panicking_disposer_is_reported_and_the_others_still_run() {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    module("dispose-panics", || {
        disposed_loudly();
        disposed_quietly();
    })
    .unwrap();
    let (result, events) = capture_events(|| module("dispose-panics", || {}));
    std::panic::set_hook(hook);
    assert_eq!(result, Ok(()), "the new version committed");
    assert!(RAN.lock().unwrap().contains(&"quiet"));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ReloadError { module, message, .. } if module == "dispose-panics" && message.contains("a broken disposer")
    )));
}

#[hmr_track(key = "modules::reenters_on_dispose")]
fn reenters_on_dispose() {
    let entity = capture_entity(EntityKind::Factory, "reentrant");
    on_dispose(entity, || {
        let again = module("dispose-reenters", || ());
        REENTRY.lock().unwrap().push(again);
        // Another module is fine from a disposer.
        module("dispose-reenters-other", || ()).unwrap();
    });
}

static REENTRY: std::sync::Mutex<Vec<Result<(), ReloadError>>> = std::sync::Mutex::new(Vec::new());

#[test]
fn a_disposer_calling_its_own_module_gets_an_error_not_a_deadlock() {
    module("dispose-reenters", reenters_on_dispose).unwrap();
    module("dispose-reenters", || ()).unwrap();
    assert_eq!(
        *REENTRY.lock().unwrap(),
        [Err(ReloadError::Reentrant { module: "dispose-reenters".into() })]
    );
}

#[test]
fn a_module_may_wait_for_other_modules_running_on_other_threads() {
    let result = module("parallel-parent", || {
        std::thread::scope(|scope| {
            let left = scope.spawn(|| module("parallel-left", a).unwrap());
            let right = scope.spawn(|| module("parallel-right", a).unwrap());
            left.join().unwrap();
            right.join().unwrap();
        });
    });
    assert_eq!(result, Ok(()));
    assert!(track_in("parallel-left", "modules::a").is_some());
    assert!(track_in("parallel-right", "modules::a").is_some());
}

#[test]
fn executions_of_one_module_do_not_overlap() {
    static INSIDE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..100 {
                    module("serial", || {
                        assert_eq!(INSIDE.fetch_add(1, std::sync::atomic::Ordering::SeqCst), 0);
                        a();
                        std::thread::yield_now();
                        INSIDE.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(snapshot().module("serial").unwrap().version, 400);
}

#[hmr_track(key = "modules::pending")]
async fn pending_app(gate: futures::channel::oneshot::Receiver<()>) {
    capture_entity(EntityKind::Pipe, "source.hot_map(fn)");
    let _ = gate.await;
}

#[test]
fn a_track_still_running_when_its_module_commits_is_not_an_orphan() {
    use std::future::Future;

    module("pending", || futures::executor::block_on(pending_app(ready_gate()))).unwrap();
    let v1 = track_in("pending", "modules::pending").unwrap();
    let (tx, rx) = futures::channel::oneshot::channel();
    let mut fut = Box::pin(pending_app(rx));
    let ((), events) = capture_events(|| {
        module("pending", || {
            let waker = std::task::Waker::noop();
            assert!(fut.as_mut().poll(&mut std::task::Context::from_waker(waker)).is_pending());
        })
        .unwrap();
    });
    assert!(
        !events.iter().any(|e| matches!(e, Event::TrackDispose { .. })),
        "reached by version 2, still running: {events:#?}"
    );
    tx.send(()).unwrap();
    futures::executor::block_on(fut);
    let v2 = track_in("pending", "modules::pending").unwrap();
    assert_eq!((v2.id, v2.version), (v1.id, 2));
}

fn ready_gate() -> futures::channel::oneshot::Receiver<()> {
    let (tx, rx) = futures::channel::oneshot::channel();
    tx.send(()).unwrap();
    rx
}

// ---- executions that outlive their module version ---------------------------

#[hmr_track(key = "modules::long_running")]
async fn long_running(shape: &'static str, gate: futures::channel::oneshot::Receiver<()>) {
    let entity = capture_entity(EntityKind::Pipe, shape);
    on_dispose(entity, move || LONG_DISPOSED.lock().unwrap().push(shape));
    let _ = gate.await;
}

static LONG_DISPOSED: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

/// Polls `fut` once inside the current scope and hands it back, pending.
fn started(
    mut fut: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
    let waker = std::task::Waker::noop();
    assert!(fut.as_mut().poll(&mut std::task::Context::from_waker(waker)).is_pending());
    fut
}

#[test]
fn overlapping_executions_of_one_track_keep_the_newest() {
    let name = "overlap";
    let (tx2, rx2) = futures::channel::oneshot::channel();
    let (tx3, rx3) = futures::channel::oneshot::channel();
    module(name, || futures::executor::block_on(long_running("shape-v1", ready_gate()))).unwrap();
    let v2 = module(name, || started(Box::pin(long_running("shape-v2", rx2)))).unwrap();
    // v3 commits while its own execution is still pending (v2's too).
    let (v3, events) =
        capture_events(|| module(name, || started(Box::pin(long_running("shape-v3", rx3)))));
    tx3.send(()).unwrap();
    futures::executor::block_on(v3.unwrap());
    assert!(
        !events.iter().any(|e| matches!(e, Event::TrackDispose { .. })),
        "v3 reached it: {events:#?}"
    );
    let t = track_in(name, "modules::long_running").unwrap();
    assert_eq!(snapshot().entity_name(t.id), Some("shape-v3"));
    assert_eq!(t.module.as_ref().map(|m| m.version), Some(3));
    // v2's execution, overtaken by v3, finishes late: it changes nothing and
    // what it built is disposed.
    tx2.send(()).unwrap();
    futures::executor::block_on(v2);
    let late = track_in(name, "modules::long_running").unwrap();
    assert_eq!((late.id, late.version, late.entity), (t.id, t.version, t.entity));
    assert_eq!(snapshot().entity_name(t.id), Some("shape-v3"));
    assert!(LONG_DISPOSED.lock().unwrap().contains(&"shape-v2"));
    assert!(!LONG_DISPOSED.lock().unwrap().contains(&"shape-v3"));
}

#[test]
fn an_execution_of_a_rolled_back_version_finishing_late_changes_nothing() {
    let name = "late-failed";
    module(name, || futures::executor::block_on(long_running("late-v1", ready_gate()))).unwrap();
    let before = track_in(name, "modules::long_running").unwrap();
    let (tx, rx) = futures::channel::oneshot::channel();
    let mut pending = None;
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = module(name, || {
        pending = Some(started(Box::pin(long_running("late-v2", rx))));
        panic!("v2 is broken");
    });
    std::panic::set_hook(hook);
    assert!(result.is_err());
    assert!(
        LONG_DISPOSED.lock().unwrap().contains(&"late-v2"),
        "built by a rolled-back version: disposed"
    );
    tx.send(()).unwrap();
    futures::executor::block_on(pending.unwrap());
    let after = track_in(name, "modules::long_running").unwrap();
    assert_eq!(after, before, "the committed track is untouched");
}

/// The empty name is the module name of reload errors raised outside any
/// module: no module may take it. Nothing runs.
#[test]
fn a_module_needs_a_name() {
    static ROOT_RAN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let ran = std::sync::atomic::AtomicUsize::new(0);
    let count = || {
        ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    };
    assert_eq!(module("", count), Err(ReloadError::EmptyName));
    let future = hmr_runtime::module_async("", || async { count() });
    assert_eq!(futures::executor::block_on(future), Err(ReloadError::EmptyName));
    assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 0);

    let root_result = root("", || {
        ROOT_RAN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    assert_eq!(root_result, Err(ReloadError::EmptyName));
    assert_eq!(ROOT_RAN.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(snapshot().module("").is_none());
    assert!(ReloadError::EmptyName.to_string().contains("name it"));
}

/// Counts the callbacks that ran; `Arc` counts tell whether the ones never
/// run were freed.
static CALLBACKS: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

#[hmr_track(key = "modules::nested_disposers")]
fn nested_disposers(token: std::sync::Arc<()>) {
    let entity = capture_entity(EntityKind::Factory, "nested");
    on_dispose(entity, || CALLBACKS.lock().unwrap().push("first"));
    on_dispose(entity, move || {
        CALLBACKS.lock().unwrap().push("second");
        // Registered by the entity's own disposal: runs now, not never.
        on_dispose(entity, move || {
            drop(token);
            CALLBACKS.lock().unwrap().push("from inside");
        });
    });
}

#[test]
fn every_disposer_runs_also_one_registered_while_disposing() {
    let token = std::sync::Arc::new(());
    let held = token.clone();
    module("nested-disposers", move || nested_disposers(held.clone())).unwrap();
    module("nested-disposers", || ()).unwrap();
    assert_eq!(*CALLBACKS.lock().unwrap(), ["first", "second", "from inside"]);
    assert_eq!(std::sync::Arc::strong_count(&token), 1, "nothing kept the last callback");
}

static GRAPH_CALLBACKS: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

/// An entity of this crate: a channel, whose disposal closes it.
#[hmr_track(key = "modules::graph_disposers")]
fn graph_entity() {
    let (sender, receiver) = hmr_runtime::channel::<u32>(4);
    drop((sender, receiver));
}

#[test]
fn a_living_graphs_disposer_registered_while_disposing_runs() {
    module("graph-disposers", graph_entity).unwrap();
    let entity = track_in("graph-disposers", "modules::graph_disposers")
        .and_then(|t| t.entity)
        .expect("the channel is the track's entity");
    on_dispose(entity, move || {
        GRAPH_CALLBACKS.lock().unwrap().push("outer");
        on_dispose(entity, || GRAPH_CALLBACKS.lock().unwrap().push("from inside"));
    });
    module("graph-disposers", || ()).unwrap();
    assert_eq!(*GRAPH_CALLBACKS.lock().unwrap(), ["outer", "from inside"]);
}

#[test]
fn a_module_holding_nothing_is_forgotten_and_starts_over() {
    // Names made up per job: each builds a track, then lets it go.
    for job in 0..2_000 {
        let name = format!("job-{job}");
        module(&name, feed_v1).unwrap();
        assert_eq!(snapshot().module(&name).unwrap().version, 1);
        module(&name, || {}).unwrap();
    }
    let store = snapshot();
    let left = store.modules().filter(|m| m.name.starts_with("job-")).count();
    assert_eq!(left, 0, "a module that holds nothing keeps no record");
    assert!(track_in("job-7", "modules::feed").is_none(), "its track was disposed");
    // Called again, a forgotten module is a new one.
    let ((), events) = capture_events(|| module("job-7", feed_v1).unwrap());
    let versions: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::HmrModuleCall { version, .. } => Some(*version),
            _ => None,
        })
        .collect();
    assert_eq!(versions, [1]);
    assert!(updates(&events).is_empty(), "a new track, not an update");
    // A module that never held anything leaves nothing either, and one that
    // holds a track keeps its record and its count.
    module("job-empty", || {}).unwrap();
    assert!(snapshot().module("job-empty").is_none());
    module("job-7", feed_v1).unwrap();
    assert_eq!(snapshot().module("job-7").unwrap().version, 2);
}

// ---- superseded entities ------------------------------------------------------

/// Captures an entity by hand, with a callback holding `token`, then builds
/// a chain: the chain is the track's entity, the first one superseded.
#[hmr_track(key = "modules::superseded_by_hand")]
fn superseded_by_hand(token: std::sync::Arc<()>, ran: std::sync::Arc<std::sync::Mutex<bool>>) {
    let entity = capture_entity(EntityKind::Factory, "by hand");
    on_dispose(entity, move || {
        drop(token);
        *ran.lock().unwrap() = true;
    });
    let chain = hmr_runtime::source(futures::stream::pending::<u32>());
    drop(hmr_runtime::HmrStreamExt::hot_map(chain, |x| x + 1));
}

/// An entity superseded within its call (last entity wins) is forgotten:
/// its callback is dropped, not run, and not kept either, whether the call
/// defers its events (no listener) or not.
#[test]
fn a_superseded_entity_drops_its_callback_unrun() {
    for watched in [false, true] {
        let token = std::sync::Arc::new(());
        let ran = std::sync::Arc::new(std::sync::Mutex::new(false));
        let run =
            || module("modules-superseded", || superseded_by_hand(token.clone(), ran.clone()));
        if watched {
            capture_events(run).0.unwrap();
        } else {
            run().unwrap();
        }
        assert!(!*ran.lock().unwrap(), "watched: {watched}: forgotten, not disposed");
        assert_eq!(std::sync::Arc::strong_count(&token), 1, "watched: {watched}: dropped");
        let store = snapshot();
        let track = store.tracks_with_key("modules::superseded_by_hand").next().expect("stored");
        assert_eq!(store.entity_name(track.id), Some("source.hot_map(fn)"));
    }
}

// ---- a rollback of a track with a full history --------------------------------

#[hmr_track(key = "modules::long_history")]
fn long_history(fail: bool) {
    capture_entity(EntityKind::Pipe, "source.hot_map(fn)");
    assert!(!fail, "a broken version");
}

/// A track keeps its 8 latest previous entities; a version that drops the
/// oldest and then panics puts back the list as it was, and the dropped
/// entity's record with it, whether the call was watched or not.
#[test]
fn a_rollback_restores_a_full_history_of_previous_entities() {
    for (name, watched) in [("modules-history", false), ("modules-history-watched", true)] {
        for _ in 0..12 {
            module(name, || long_history(false)).unwrap();
        }
        let before = snapshot();
        let track = before.tracks().find(|t| t.path.starts_with(name)).expect("stored").clone();
        assert_eq!(track.previous_entities.len(), 8, "a full history");
        let run = || module(name, || long_history(true));
        let result = if watched { capture_events(run).0 } else { run() };
        assert!(result.is_err());
        let after = snapshot();
        assert_eq!(after.track(track.id), Some(&track), "{name}: the record as it was");
        for entity in track.entity.iter().chain(&track.previous_entities) {
            assert_eq!(after.entity(*entity), before.entity(*entity), "{name}: {entity:?}");
        }
    }
}

// ---- a sync call under an async frame, open while its module commits ---------

/// Captures an entity, then waits at `gate` twice: once to say it is inside,
/// once for the module to have committed meanwhile.
#[hmr_track(key = "modules::built_elsewhere")]
fn built_elsewhere(gate: &std::sync::Barrier) {
    capture_entity(EntityKind::Pipe, "source.hot_map(fn)");
    gate.wait();
    gate.wait();
}

#[hmr_track(key = "modules::elsewhere_task")]
async fn elsewhere_task(
    start: futures::channel::oneshot::Receiver<()>,
    gate: std::sync::Arc<std::sync::Barrier>,
) {
    let _ = start.await;
    built_elsewhere(&gate);
}

/// A module version's future polled on another thread makes a sync tracked
/// call that is still open when the version commits. The call is not
/// deferred (its frame sits under an async frame, not on the module's
/// thread): the commit sees it running, keeps its track, and its return
/// updates the track in place (version 2), instead of the commit disposing
/// a track it could not see and the return making a new one.
#[test]
fn a_sync_call_under_a_future_is_seen_running_by_its_modules_commit() {
    let name = "modules-elsewhere";
    let alone = std::sync::Arc::new(std::sync::Barrier::new(1));
    module(name, || {
        let (tx, rx) = futures::channel::oneshot::channel();
        tx.send(()).unwrap();
        futures::executor::block_on(elsewhere_task(rx, alone.clone()));
    })
    .unwrap();
    let first = snapshot().tracks_with_key("modules::built_elsewhere").next().cloned();
    let first = first.expect("v1 built it");

    let gate = std::sync::Arc::new(std::sync::Barrier::new(2));
    let worker = module(name, || {
        let (tx, rx) = futures::channel::oneshot::channel();
        let fut = started_send(Box::pin(elsewhere_task(rx, gate.clone())));
        tx.send(()).unwrap();
        let worker = std::thread::spawn(move || futures::executor::block_on(fut));
        gate.wait(); // `built_elsewhere` is open on the worker
        worker
    })
    .unwrap();
    // The version committed while the call was open; now let it return.
    gate.wait();
    worker.join().unwrap();
    let store = snapshot();
    let record = store.track(first.id).expect("kept, not disposed and made again");
    assert_eq!(record.version, 2, "updated in place by the version that ran it");
    assert_eq!(record.change, Some(Change::FnOnly));
    assert_eq!(record.module.as_ref().map(|m| m.version), Some(2));
}

/// Polls `fut` once inside the current scope and hands it back, pending,
/// to be polled on another thread.
fn started_send(
    mut fut: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    let waker = std::task::Waker::noop();
    assert!(fut.as_mut().poll(&mut std::task::Context::from_waker(waker)).is_pending());
    fut
}

// ---- a graph dropped at its call's return -----------------------------------

/// Panics when dropped (unless the thread is already unwinding).
struct BrokenDrop;

impl Drop for BrokenDrop {
    fn drop(&mut self) {
        assert!(std::thread::panicking(), "a broken Drop");
    }
}

/// Builds a chain and lets go of it, then captures an entity by hand: the
/// entity is not a part, so the parts (and the closure holding a
/// `BrokenDrop`) go when the call returns.
#[hmr_track(key = "modules::parts_then_by_hand")]
fn parts_then_by_hand() {
    let broken = BrokenDrop;
    let chain = hmr_runtime::source(futures::stream::pending::<u32>());
    drop(hmr_runtime::HmrStreamExt::hot_map(chain, move |x| {
        let _ = &broken;
        x
    }));
    capture_entity(EntityKind::Factory, "by hand");
}

/// What a call built and nobody holds is dropped at its return outside the
/// store's and the stack's locks, and a `Drop` that panics there loses
/// nothing else: the call is still reduced, the version commits.
#[test]
fn a_panicking_drop_of_a_calls_spent_parts_does_not_lose_the_call() {
    for (name, watched) in [("modules-broken-drop", false), ("modules-broken-drop-watched", true)] {
        let run = || module(name, parts_then_by_hand);
        let result = if watched { capture_events(run).0 } else { run() };
        result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let store = snapshot();
        let track = store.tracks().find(|t| t.path.starts_with(name)).expect("stored");
        assert_eq!(store.entity_name(track.id), Some("by hand"), "{name}");
    }
}
