//! `module_async` (docs/design.md §6.1, async setup): a module whose code is a future.
//! Its tracked calls belong to its version across awaits, so a second run
//! hands back the living subscription (one task) with the new closure; runs
//! of one module never overlap; a panic or a cancellation rolls back.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmr_runtime::{
    Event, HmrStreamExt, MemoryLog, ReloadError, add_sink, broadcast, channels::Broadcast,
    hmr_track, module_async, source, subscribe,
};
use hmr_tests::{runtime, wait_until};

/// (item, the version of the `hot_map` that handled it)
type Seen = Arc<Mutex<Vec<(u64, u32)>>>;

#[hmr_track(key = "module_async::feed")]
fn feed() -> Broadcast<u64> {
    broadcast(1 << 16)
}

/// An async setup: a handshake (an await), then the pipeline.
#[hmr_track(key = "module_async::setup")]
async fn setup(v: u32, seen: Seen) -> Broadcast<u64> {
    let feed = feed();
    tokio::time::sleep(Duration::from_millis(2)).await;
    let tagged = source(feed.subscribe()).hot_map(move |x| (x, v));
    subscribe(tagged, move |item| seen.lock().unwrap().push(item)).detach();
    feed
}

#[test]
fn p3_a_second_run_hands_back_the_subscription_one_task_with_the_new_closure() {
    let runtime = runtime();
    let log = MemoryLog::new();
    let _sink = add_sink(log.clone());
    let seen: Seen = Arc::default();
    let run = |v: u32| {
        let seen = seen.clone();
        runtime.block_on(module_async("async-setup", move || setup(v, seen))).unwrap()
    };
    let feed = run(1);
    // A producer that never pauses for the reloads.
    let stop = Arc::new(AtomicBool::new(false));
    let producer = std::thread::spawn({
        let (stop, feed) = (stop.clone(), feed.clone());
        move || {
            let mut n = 0;
            while !stop.load(SeqCst) {
                n += 1;
                let _ = feed.send(n);
                if n % 64 == 0 {
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
            n
        }
    });
    wait_until("v1 handles items", || seen.lock().unwrap().len() > 100);
    for v in 2..=3 {
        // The feed is handed back (else the producer's items would stop).
        run(v);
        let at = seen.lock().unwrap().len();
        wait_until("items after the run", || seen.lock().unwrap().len() > at + 100);
    }
    wait_until("v3's code runs", || seen.lock().unwrap().last().is_some_and(|&(_, v)| v == 3));
    stop.store(true, SeqCst);
    let last = producer.join().unwrap();
    wait_until("the last item", || seen.lock().unwrap().last().is_some_and(|&(x, _)| x == last));

    let seen = seen.lock().unwrap();
    for pair in seen.windows(2) {
        assert_eq!(pair[1].0, pair[0].0 + 1, "nothing lost or doubled: {pair:?}");
        assert!(pair[1].1 >= pair[0].1, "versions never go back: {pair:?}");
    }
    let events = log.events();
    // The log is the process's: count the tasks started for this module's
    // subscriptions (the entities its `setup` track returned).
    let setup_tracks: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::TrackCall { id, key, .. } if key == "module_async::setup" => Some(*id),
            _ => None,
        })
        .collect();
    let built: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::TrackCallReturn { id, entity, .. } if setup_tracks.contains(id) => *entity,
            _ => None,
        })
        .collect();
    assert_eq!(built.len(), 3, "each run's setup built its subscription");
    let subscribes = events
        .iter()
        .filter(|e| matches!(e, Event::Subscribe { entity, .. } if built.contains(entity)))
        .count();
    assert_eq!(subscribes, 1, "one task for all three runs");
    let setups: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::TrackCall { key, module, .. } if key == "module_async::setup" => {
                module.as_ref().map(|m| (m.name.to_string(), m.version))
            }
            _ => None,
        })
        .collect();
    let expected: Vec<_> = (1..=3).map(|v| ("async-setup".to_owned(), v)).collect();
    assert_eq!(setups, expected, "each run's setup belongs to its version");
}

static INSIDE: AtomicU32 = AtomicU32::new(0);
static OVERLAPS: AtomicU32 = AtomicU32::new(0);

#[hmr_track(key = "module_async::slow")]
async fn slow() {
    if INSIDE.fetch_add(1, SeqCst) != 0 {
        OVERLAPS.fetch_add(1, SeqCst);
    }
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    INSIDE.fetch_sub(1, SeqCst);
    // The module holds a track, so its record (and version count) stays.
    hmr_runtime::capture_entity(hmr_runtime::EntityKind::Factory, "slow");
}

#[test]
fn runs_of_one_module_never_overlap_on_a_multi_thread_runtime() {
    let runtime = runtime();
    runtime.block_on(async {
        let runs: Vec<_> = (0..16)
            .map(|_| tokio::spawn(async { module_async("async-serial", slow).await.unwrap() }))
            .collect();
        for run in runs {
            run.await.unwrap();
        }
    });
    assert_eq!(OVERLAPS.load(SeqCst), 0, "two runs were inside the module at once");
    assert_eq!(hmr_runtime::snapshot().module("async-serial").unwrap().version, 16);
}

static BROKEN: AtomicBool = AtomicBool::new(false);

#[hmr_track(key = "module_async::maybe_broken")]
async fn maybe_broken(v: u32, seen: Seen) -> Broadcast<u64> {
    let feed = feed();
    tokio::task::yield_now().await;
    let tagged = source(feed.subscribe()).hot_map(move |x| (x, v));
    subscribe(tagged, move |item| seen.lock().unwrap().push(item)).detach();
    tokio::task::yield_now().await;
    assert!(!BROKEN.load(SeqCst), "v{v} panics after an await");
    feed
}

#[test]
fn a_panic_after_an_await_rolls_back_and_a_cancelled_run_rolls_back_and_frees_the_module() {
    let runtime = runtime();
    let log = MemoryLog::new();
    let _sink = add_sink(log.clone());
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let feed = runtime.block_on(module_async("async-broken", move || maybe_broken(1, s))).unwrap();

    BROKEN.store(true, SeqCst);
    let s = seen.clone();
    let broken = runtime.block_on(module_async("async-broken", move || maybe_broken(2, s)));
    BROKEN.store(false, SeqCst);
    match broken {
        Err(ReloadError::Panicked { module, message }) => {
            assert_eq!(module, "async-broken");
            assert!(message.contains("v2 panics after an await"), "{message}");
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    feed.send(7).unwrap();
    wait_until("the item", || !seen.lock().unwrap().is_empty());
    assert_eq!(seen.lock().unwrap()[0], (7, 1), "v2 rolled back: v1's closure runs");

    // A run dropped at its await: rolled back, and the module is free again.
    let cancelled = runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_millis(20),
            module_async("async-broken", std::future::pending::<()>),
        )
        .await
    });
    assert!(cancelled.is_err(), "the run was cut off by the timeout");
    let s = seen.clone();
    runtime.block_on(module_async("async-broken", move || maybe_broken(4, s))).unwrap();
    feed.send(8).unwrap();
    wait_until("the item", || seen.lock().unwrap().len() == 2);
    assert_eq!(seen.lock().unwrap()[1], (8, 4));

    let returns: Vec<(bool, Option<String>)> = log
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::HmrModuleCallReturn { module, committed, error } if module == "async-broken" => {
                Some((*committed, error.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(returns.len(), 4, "{returns:?}");
    assert!(returns[0].0 && returns[3].0, "{returns:?}");
    assert!(!returns[1].0 && !returns[2].0, "{returns:?}");
    assert!(returns[2].1.as_deref().is_some_and(|e| e.starts_with("cancelled")), "{returns:?}");
}

#[test]
fn a_run_inside_its_own_module_is_an_error_not_a_deadlock() {
    let runtime = runtime();
    let inner = runtime.block_on(module_async("async-reentrant", || async {
        tokio::task::yield_now().await;
        module_async("async-reentrant", || async {}).await
    }));
    assert_eq!(
        inner.unwrap(),
        Err(ReloadError::Reentrant { module: "async-reentrant".into() }),
        "the inner run is refused, the outer one completes"
    );
    let sync_inner = runtime.block_on(module_async("async-reentrant", || async {
        tokio::task::yield_now().await;
        hmr_runtime::module("async-reentrant", || ())
    }));
    assert_eq!(
        sync_inner.unwrap(),
        Err(ReloadError::Reentrant { module: "async-reentrant".into() })
    );
}

static ROOT_VERSION: AtomicU32 = AtomicU32::new(1);

/// An async root: reads "the code's version" from a static, as a patch
/// would change the code.
async fn async_root(seen: Seen) {
    let v = ROOT_VERSION.load(SeqCst);
    setup(v, seen).await;
}

/// The committed runs of module `name` in `log`, and the versions its
/// `setup` ran under.
fn root_runs(log: &MemoryLog, name: &str) -> (usize, Vec<u64>) {
    let events = log.events();
    let committed = events
        .iter()
        .filter(|e| {
            matches!(e, Event::HmrModuleCallReturn { module, committed: true, .. } if module == name)
        })
        .count();
    let setups = events
        .iter()
        .filter_map(|e| match e {
            Event::TrackCall { key, module: Some(m), .. }
                if key == "module_async::setup" && m.name == name =>
            {
                Some(m.version)
            }
            _ => None,
        })
        .collect();
    (committed, setups)
}

#[test]
fn an_async_root_is_run_again_by_reload_and_refused_on_a_current_thread_runtime() {
    let runtime = runtime();
    let log = MemoryLog::new();
    let _sink = add_sink(log.clone());
    let seen: Seen = Arc::default();
    runtime
        .block_on(hmr_runtime::root_async("async-root", move || async_root(seen.clone())))
        .unwrap();

    ROOT_VERSION.store(2, SeqCst);
    // From this plain thread: the root runs on its runtime, and reload waits.
    hmr_runtime::reload().unwrap();
    assert_eq!(root_runs(&log, "async-root"), (2, vec![1, 2]), "registered, then reloaded");

    // From a task, and from a blocking thread, of the multi-thread runtime.
    let inside = runtime.block_on(async { tokio::spawn(async { hmr_runtime::reload() }).await });
    inside.unwrap().unwrap();
    let blocking =
        runtime.block_on(async { tokio::task::spawn_blocking(hmr_runtime::reload).await });
    blocking.unwrap().unwrap();
    assert_eq!(root_runs(&log, "async-root"), (4, vec![1, 2, 3, 4]));

    // On a current-thread runtime it would stop the runtime: refused, with
    // the way out in the error.
    let single = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let error = single.block_on(async { hmr_runtime::reload() }).unwrap_err();
    assert_eq!(error, ReloadError::Blocking { module: "async-root".into() });
    assert!(error.to_string().contains("plain thread"), "{error}");
}
