//! Races for real: threads and a multi-thread tokio runtime hammering tracked
//! code. No scope crosses threads or tasks, every call is paired.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hmr_runtime::{
    EntityKind, Event, MemoryLog, TrackId, add_sink, capture_entity, capture_events, current_track,
    events::Outcome, hmr_track, module, snapshot,
};
use hmr_tests::{calls, is_fn};

#[hmr_track]
fn race_parent(children: usize) -> TrackId {
    let me = current_track().unwrap();
    for _ in 0..children {
        assert_ne!(race_child(), me);
        assert_eq!(current_track(), Some(me));
    }
    me
}

#[hmr_track]
fn race_child() -> TrackId {
    let me = current_track().unwrap();
    race_leaf();
    assert_eq!(current_track(), Some(me));
    me
}

#[hmr_track]
fn race_leaf() {}

#[test]
fn eight_threads_thousands_of_calls() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 500;
    const CHILDREN: usize = 8;
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            std::thread::spawn(|| {
                let (parents, events) = capture_events(|| {
                    (0..ROUNDS).map(|_| race_parent(CHILDREN)).collect::<Vec<_>>()
                });
                hmr_tests::assert_nested(&events);
                let calls = calls(&events);
                assert_eq!(calls.len(), ROUNDS * (1 + CHILDREN * 2));
                for call in &calls {
                    assert_eq!(call.outcome, Outcome::Returned);
                    if is_fn(&call.key, "race_child") {
                        assert!(parents.contains(&call.parent.unwrap()));
                    }
                }
                assert_eq!(current_track(), None);
                calls.len()
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, THREADS * ROUNDS * (1 + CHILDREN * 2));
}

#[test]
fn threads_building_entities_in_one_module_path_space() {
    // Eight threads each run their own module concurrently; every module ends
    // up with exactly its own tracks.
    let handles: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                let name = format!("race-module-{t}");
                for _ in 0..50 {
                    module(&name, || {
                        for _ in 0..4 {
                            race_entity();
                        }
                    })
                    .unwrap();
                }
                name
            })
        })
        .collect();
    let names: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let store = snapshot();
    for name in names {
        let mine: Vec<_> =
            store.tracks().filter(|t| t.path.starts_with(&format!("{name}/"))).collect();
        assert_eq!(mine.len(), 4, "{name}");
        assert!(mine.iter().all(|t| t.version == 50), "{name}: {mine:#?}");
        assert_eq!(store.module(&name).unwrap().version, 50);
    }
}

#[hmr_track]
fn race_entity() {
    capture_entity(EntityKind::Factory, "source");
}

#[hmr_track]
fn panic_deep(depth: usize) {
    assert!(depth != 0, "deep");
    panic_deep(depth - 1);
}

#[hmr_track]
fn catches() -> TrackId {
    let me = current_track().unwrap();
    let caught = std::panic::catch_unwind(|| panic_deep(2));
    assert!(caught.is_err());
    assert_eq!(current_track(), Some(me), "the unwound scopes are closed, the catcher's stays");
    me
}

#[test]
fn ten_thousand_caught_panics_leave_the_stack_empty() {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let ((), events) = capture_events(|| {
        for _ in 0..10_000 {
            assert!(std::panic::catch_unwind(|| panic_deep(3)).is_err());
            assert_eq!(current_track(), None);
        }
    });
    let catcher = catches();
    std::panic::set_hook(hook);
    let calls = calls(&events);
    assert_eq!(calls.len(), 40_000);
    assert!(calls.iter().all(|c| c.outcome == Outcome::Unwound));
    assert_eq!(current_track(), None);
    assert_ne!(Some(catcher), current_track());
}

#[hmr_track]
async fn task_worker(depth: usize, yields: usize) -> TrackId {
    if depth > 0 {
        return Box::pin(task_worker(depth - 1, yields)).await;
    }
    let me = current_track().expect("inside the scope");
    for _ in 0..yields {
        tokio::task::yield_now().await;
        assert_eq!(current_track(), Some(me), "a scope of another task leaked in");
        let (child, events) = capture_events(task_child);
        assert_ne!(child, me);
        assert_eq!(calls(&events)[0].parent, Some(me), "the child's parent is this task's scope");
    }
    me
}

#[hmr_track]
fn task_child() -> TrackId {
    current_track().unwrap()
}

#[test]
fn interleaved_tasks_on_a_multi_thread_runtime() {
    let log = MemoryLog::new();
    let _sink = add_sink(log.clone());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).build().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let done = done.clone();
                tokio::spawn(async move {
                    // A depth per task: every task's innermost scope has its
                    // own path and id, so a scope leaking from one task into
                    // another shows up as the wrong `current_track()`.
                    let id = task_worker(i, 50).await;
                    done.fetch_add(1, Ordering::SeqCst);
                    id
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert_eq!(done.load(Ordering::SeqCst), 64);
    // Every call of this test's functions is paired with exactly one return,
    // by `CallId`.
    let events = log.events();
    let ours: std::collections::BTreeSet<TrackId> = events
        .iter()
        .filter_map(|e| match e {
            Event::TrackCall { id, key, .. }
                if is_fn(key, "task_worker") || is_fn(key, "task_child") =>
            {
                Some(*id)
            }
            _ => None,
        })
        .collect();
    let mut open = std::collections::BTreeSet::new();
    let mut worker_calls = 0;
    for e in &events {
        match e {
            Event::TrackCall { id, call, key, .. } if ours.contains(id) => {
                assert!(open.insert(*call), "{call} announced twice");
                worker_calls += usize::from(is_fn(key, "task_worker"));
            }
            Event::TrackCallReturn { id, call, outcome, .. } if ours.contains(id) => {
                assert!(open.remove(call), "a return without its call: {e:?}");
                assert_eq!(*outcome, Outcome::Returned);
            }
            _ => {}
        }
    }
    assert!(!ours.is_empty());
    assert_eq!(worker_calls, (0..64).map(|i| i + 1).sum::<usize>(), "one call per level per task");
    assert!(open.is_empty(), "calls without a return: {open:?}");
    // Workers' stacks are empty once the tasks are done.
    rt.block_on(async {
        let checks: Vec<_> = (0..16).map(|_| tokio::spawn(async { current_track() })).collect();
        for c in checks {
            assert_eq!(c.await.unwrap(), None);
        }
    });
}
