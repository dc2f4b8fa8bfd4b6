//! Living entities under concurrency: swaps while items flow, swaps racing
//! `unsubscribe()`, racing reloads, and many reload cycles with orphans.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::{self, BoxStream};
use hmr_runtime::{
    Change, Event, HmrStreamExt, Subscription, capture_events, hmr_track, module, reload, root,
    snapshot, subscribe,
};

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current().metrics().num_alive_tasks()
}

async fn settle(mut done: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("timed out");
}

type Seen = Arc<Mutex<Vec<(u64, u64)>>>;

/// Tags each item with the version of the code that handled it. Only the
/// first execution's input is polled: later ones are updates in place.
#[hmr_track(key = "living_races::flow")]
fn flow(input: BoxStream<'static, u64>, version: u64, seen: Seen) -> Subscription {
    let pipeline = input.hot_map(move |x| (version, x));
    subscribe(pipeline, move |item| seen.lock().unwrap().push(item))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn swaps_while_items_flow_lose_nothing_and_keep_order() {
    const ITEMS: u64 = 100_000;
    const SWAPS: u64 = 200;
    let seen: Seen = Arc::default();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let input = stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed();
    let subscription = module("races-flow", || flow(input, 0, seen.clone())).unwrap();
    let tasks = alive_tasks();
    let producer = std::thread::spawn(move || {
        for x in 0..ITEMS {
            tx.send(x).unwrap();
            if x % 1000 == 0 {
                std::thread::yield_now();
            }
        }
    });
    let reloader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut changes = Vec::new();
            for version in 1..=SWAPS {
                let (handle, events) = capture_events(|| {
                    module("races-flow", || flow(stream::empty().boxed(), version, seen.clone()))
                        .unwrap()
                });
                drop(handle);
                changes.extend(events.iter().filter_map(|e| match e {
                    Event::TrackUpdate { change, .. } => Some(*change),
                    _ => None,
                }));
                if version % 20 == 0 {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            changes
        })
    };
    let changes = tokio::task::spawn_blocking(move || reloader.join().unwrap()).await.unwrap();
    tokio::task::spawn_blocking(move || producer.join().unwrap()).await.unwrap();
    assert_eq!(changes.len(), usize::try_from(SWAPS).unwrap());
    assert!(changes.iter().all(|c| *c == Change::FnOnly));
    settle(|| seen.lock().unwrap().len() >= usize::try_from(ITEMS).unwrap()).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), usize::try_from(ITEMS).unwrap(), "none lost, none duplicated");
    for (n, pair) in seen.windows(2).enumerate() {
        assert_eq!(pair[1].1, pair[0].1 + 1, "order kept at {n}");
        assert!(pair[1].0 >= pair[0].0, "versions monotone at {n}: {pair:?}");
    }
    assert_eq!(seen[0].1, 0, "the first item first");
    let versions: std::collections::BTreeSet<u64> = seen.iter().map(|(v, _)| *v).collect();
    assert!(versions.len() > 1, "swaps landed while items flowed: {versions:?}");
    assert_eq!(alive_tasks(), tasks, "no second task");
    assert!(subscription.is_active());
}

#[hmr_track(key = "living_races::unsubscribe")]
fn ticking(version: u64, hits: Arc<AtomicUsize>) -> Subscription {
    let ticks = stream::repeat(1u64).then(|x| async move {
        tokio::task::yield_now().await;
        x
    });
    subscribe(ticks.hot_map(move |x| x + version), move |_| {
        hits.fetch_add(1, Ordering::Relaxed);
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_swap_racing_unsubscribe_leaks_no_task() {
    let baseline = alive_tasks();
    for round in 0..200u64 {
        let name = format!("races-unsubscribe-{round}");
        let hits = Arc::new(AtomicUsize::new(0));
        let first = module(&name, || ticking(1, hits.clone())).unwrap();
        let go = Arc::new(AtomicBool::new(false));
        let reloader = {
            let (name, hits, go) = (name.clone(), hits.clone(), go.clone());
            std::thread::spawn(move || {
                while !go.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
                module(&name, || ticking(2, hits)).unwrap()
            })
        };
        go.store(true, Ordering::Release);
        first.unsubscribe();
        let second = tokio::task::spawn_blocking(move || reloader.join().unwrap()).await.unwrap();
        assert!(!first.is_active());
        // Whichever won, dropping every handle leaves no task behind.
        drop((first, second));
        settle(|| alive_tasks() == baseline).await;
    }
}

static ROOT_HITS: Mutex<Vec<u64>> = Mutex::new(Vec::new());
static ROOT_VERSION: AtomicUsize = AtomicUsize::new(0);

#[hmr_track(key = "living_races::root")]
fn root_pipeline(version: u64) {
    let ticks = stream::unfold(0u64, |n| async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        Some((n, n + 1))
    });
    subscribe(ticks.hot_map(move |_| version), |v| ROOT_HITS.lock().unwrap().push(v)).detach();
}

fn racing_root() {
    let version = ROOT_VERSION.fetch_add(1, Ordering::SeqCst) as u64;
    root_pipeline(version);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_reloads_are_serialised_and_keep_one_task() {
    root("races-root", racing_root).unwrap();
    let tasks = alive_tasks();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..25 {
                    reload().unwrap();
                }
            })
        })
        .collect();
    tokio::task::spawn_blocking(move || threads.into_iter().for_each(|t| t.join().unwrap()))
        .await
        .unwrap();
    let module = snapshot().module("races-root").unwrap().clone();
    assert_eq!(module.version, 101, "100 serialised reloads after the first run");
    assert_eq!(alive_tasks(), tasks, "still one task");
    let last = ROOT_VERSION.load(Ordering::SeqCst) as u64 - 1;
    ROOT_HITS.lock().unwrap().clear();
    settle(|| ROOT_HITS.lock().unwrap().len() >= 3).await;
    assert!(ROOT_HITS.lock().unwrap().iter().all(|v| *v == last), "the newest code runs");
}

#[hmr_track(key = "living_races::cycle::kept")]
fn kept(bus: &hmr_runtime::channels::Broadcast<u32>) -> Subscription {
    subscribe(bus.subscribe().hot_map(|x| x + 1), |_| {})
}

#[hmr_track(key = "living_races::cycle::orphan")]
fn orphan() -> (Subscription, hmr_runtime::channels::Broadcast<u32>) {
    let bus = hmr_runtime::broadcast(4);
    let ticks = stream::pending::<u32>().hot_filter(|x| *x > 0);
    (subscribe(ticks, |_| {}), bus)
}

#[hmr_track(key = "living_races::cycle::app")]
fn cycle_app(with_orphan: bool) -> Vec<Subscription> {
    let bus = hmr_runtime::broadcast::<u32>(8);
    let mut subs = vec![kept(&bus)];
    if with_orphan {
        subs.push(orphan().0);
    }
    subs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_reload_cycles_with_orphans_do_not_grow() {
    let cycle = || {
        let with = module("races-cycles", || cycle_app(true)).unwrap();
        assert_eq!(with.len(), 2);
        module("races-cycles", || cycle_app(false)).unwrap()
    };
    let size = |s: &hmr_runtime::store::Store| {
        s.tracks().filter(|t| t.path.starts_with("races-cycles/")).count()
    };
    let mut held = cycle();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let first = (size(&snapshot()), alive_tasks());
    for _ in 0..1000 {
        held = cycle();
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!((size(&snapshot()), alive_tasks()), first);
    assert_eq!(held.len(), 1);
    assert!(held[0].is_active());
}

#[hmr_track(key = "living_races::rebuild")]
fn rebuild_v1(input: BoxStream<'static, u32>) -> impl futures::Stream<Item = u32> {
    hmr_runtime::source(input).hot_map(|x| x)
}

/// The same track rebuilt without its source: the old source is disposed
/// while the consumer may be polling the old chain.
#[hmr_track(key = "living_races::rebuild")]
fn rebuild_v2(input: BoxStream<'static, u32>) -> impl futures::Stream<Item = u32> {
    input.hot_map(|x| x + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_racing_the_consumer_never_ends_its_stream() {
    let busy = || {
        stream::repeat(1u32)
            .then(|x| async move {
                tokio::task::yield_now().await;
                x
            })
            .boxed()
    };
    for round in 0..200 {
        let name = format!("races-rebuild-{round}");
        let held = module(&name, || rebuild_v1(busy())).unwrap();
        let consumer = tokio::spawn(async move {
            let mut held = held;
            // Read until the new code's items arrive; an end is a failure.
            loop {
                match held.next().await {
                    Some(2) => return true,
                    Some(_) => {}
                    None => return false,
                }
            }
        });
        tokio::task::yield_now().await;
        let reload = name.clone();
        let again = tokio::task::spawn_blocking(move || module(&reload, || rebuild_v2(busy())))
            .await
            .unwrap()
            .unwrap();
        let reached_new_code = tokio::time::timeout(Duration::from_secs(5), consumer)
            .await
            .expect("the consumer reached the new code")
            .unwrap();
        assert!(reached_new_code, "round {round}: the consumer's stream ended");
        drop(again);
    }
}

type Tagged = Arc<Mutex<Vec<(u32, u32)>>>;

#[hmr_track(key = "living_races::new_input")]
fn tagging(
    input: impl futures::Stream<Item = u32> + Send + 'static,
    version: u32,
    seen: Tagged,
) -> Subscription {
    let pipeline = hmr_runtime::source(input).hot_map(move |x| (version, x));
    subscribe(pipeline, move |tagged| seen.lock().unwrap().push(tagged))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn items_of_the_new_input_never_meet_old_code() {
    let seen: Tagged = Arc::default();
    let (_tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
    let first = stream::poll_fn(move |cx| rx.poll_recv(cx));
    let _subscription = module("races-new-input", || tagging(first, 0, seen.clone())).unwrap();
    let mut senders = Vec::new();
    for version in 1..=500u32 {
        // The new version's input already holds an item when it commits.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
        tx.send(version).unwrap();
        let input = stream::poll_fn(move |cx| rx.poll_recv(cx));
        let tagged = seen.clone();
        let handle = tokio::task::spawn_blocking(move || {
            module("races-new-input", || tagging(input, version, tagged)).unwrap()
        })
        .await
        .unwrap();
        senders.push((tx, handle));
        let arrived = || seen.lock().unwrap().iter().any(|(_, x)| *x == version);
        settle(arrived).await;
    }
    let mixed: Vec<(u32, u32)> =
        seen.lock().unwrap().iter().copied().filter(|(code, input)| code != input).collect();
    assert!(mixed.is_empty(), "items of a new input handled by older code: {mixed:?}");
}
