//! Living streams across a reload (docs/design.md §10: S1–S6, C1, C2, and the
//! living-entity halves of T1, T3, T5, T6, V1–V4, M1–M3).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use hmr_runtime::{
    Change, Event, HmrStreamExt, Subscription, capture_events, hmr_track, module, snapshot, source,
    subscribe,
};
use hmr_tests::changes;
use hmr_tests::kinds;
use tokio::sync::mpsc;

/// What a handler saw.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    fn get(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    /// Waits (polling the runtime) until `n` entries were logged.
    async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..2000 {
            if self.0.lock().unwrap().len() >= n {
                return self.get();
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("timed out waiting for {n} entries, have {:?}", self.get());
    }
}

/// A stream over an unbounded channel, and its sender.
fn channel() -> (mpsc::UnboundedSender<u32>, impl Stream<Item = u32> + Send + 'static) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    (tx, futures::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current().metrics().num_alive_tasks()
}

#[hmr_track(key = "living::s2")]
fn s2_v1(input: impl Stream<Item = u32> + Send + 'static, log: Log) -> Subscription {
    let pipeline = source(input).hot_scan(0, |a, x| {
        *a += x;
        Some(*a)
    });
    subscribe(pipeline, move |v| log.push(v.to_string()))
}

#[hmr_track(key = "living::s2")]
fn s2_v2(input: impl Stream<Item = u32> + Send + 'static, log: Log) -> Subscription {
    let pipeline = source(input).hot_scan(0, |a, x| {
        *a += x * 10;
        Some(*a)
    });
    subscribe(pipeline, move |v| log.push(v.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s2_closure_swap_keeps_state() {
    let log = Log::default();
    let (tx1, rx1) = channel();
    let sub1 = module("s2", || s2_v1(rx1, log.clone())).unwrap();
    let tasks = alive_tasks();
    tx1.send(1).unwrap();
    tx1.send(2).unwrap();
    assert_eq!(log.wait_for(2).await, ["1", "3"]);
    let (tx2, rx2) = channel();
    let (sub2, events) = capture_events(|| module("s2", || s2_v2(rx2, log.clone())).unwrap());
    assert_eq!(changes(&events), [Change::FnOnly]);
    assert_eq!(sub1.id(), sub2.id(), "the same subscription is handed back");
    tx2.send(4).unwrap();
    assert_eq!(log.wait_for(3).await, ["1", "3", "43"]);
    assert_eq!(alive_tasks(), tasks, "no second task");
    // The old input is gone: the living source dropped it.
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(tx1.is_closed(), "the old inner stream was dropped");
    drop((sub1, sub2));
    let store = snapshot();
    let track = store.tracks_with_key("living::s2").next().unwrap();
    assert_eq!(track.version, 2);
    assert_eq!(store.entity_name(track.id), Some("subscribe(source.hot_scan(0,fn))"));
}

/// The first item of `stream` within a second, or `None` if it ended.
async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    tokio::time::timeout(Duration::from_secs(2), stream.next())
        .await
        .expect("timed out waiting for an item")
}

/// Whether `stream` has an item (or its end) ready within a few
/// milliseconds of runtime progress.
async fn is_pending<S: Stream + Unpin>(stream: &mut S) -> bool {
    tokio::time::timeout(Duration::from_millis(20), stream.next()).await.is_err()
}

fn subscribes(events: &[Event]) -> usize {
    events.iter().filter(|e| matches!(e, Event::Subscribe { .. })).count()
}

// ---- T: tracks with living entities ----------------------------------------

#[hmr_track]
fn prices() -> impl Stream<Item = u32> {
    source(futures::stream::iter([1, 2, 3]))
}

#[tokio::test]
async fn t1_track_and_entity_with_a_source() {
    let (stream, events) = capture_events(|| module("t1-living", prices).unwrap());
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
    let track = store.tracks_ending_with("::prices").find(|t| t.path.starts_with("t1-living/"));
    let track = track.unwrap();
    assert_eq!((track.parent, track.version), (None, 1));
    assert_eq!(store.entity_name(track.id), Some("source"));
    assert_eq!(stream.collect::<Vec<_>>().await, [1, 2, 3]);
}

#[hmr_track(key = "living::t3")]
fn t3_chain() -> impl Stream<Item = u32> {
    source(futures::stream::iter([1, 2, 3])).hot_map(|x| x * 2).hot_filter(|x| *x > 2)
}

#[tokio::test]
async fn t3_last_entity_wins_for_an_operator_chain() {
    let stream = module("t3-living", t3_chain).unwrap();
    let store = snapshot();
    let track = store.tracks_with_key("living::t3").next().unwrap();
    assert_eq!(store.entity_name(track.id), Some("source.hot_map(fn).hot_filter(fn)"));
    assert_eq!(stream.collect::<Vec<_>>().await, [4, 6]);
}

#[hmr_track(key = "living::t5::feed")]
fn t5_feed() -> hmr_runtime::Source<u32> {
    source(futures::stream::pending())
}

#[hmr_track(key = "living::t5::app")]
fn t5_app(n: usize) -> Vec<hmr_runtime::Source<u32>> {
    (0..n).map(|_| t5_feed()).collect()
}

#[tokio::test]
async fn t5_repeats_and_the_disposed_repeat_ends_its_stream() {
    let mut v1 = module("t5-living", || t5_app(3)).unwrap();
    let paths = |store: &hmr_runtime::store::Store| {
        let mut p: Vec<String> =
            store.tracks_with_key("living::t5::feed").map(|t| t.path.to_string()).collect();
        p.sort();
        p
    };
    let before = paths(&snapshot());
    assert_eq!(before.len(), 3);
    for (n, path) in before.iter().enumerate() {
        assert!(path.ends_with(&format!("living::t5::feed#{n}")), "{path}");
    }
    let (_v2, events) = capture_events(|| module("t5-living", || t5_app(2)).unwrap());
    let disposed: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::TrackDispose { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(disposed.len(), 1);
    let after = paths(&snapshot());
    assert_eq!(after, before[..2]);
    // The disposed source ends; the living ones stay pending.
    assert_eq!(next(&mut v1[2]).await, None);
    assert!(is_pending(&mut v1[0]).await);
    assert!(is_pending(&mut v1[1]).await);
}

#[hmr_track(key = "living::t6::make")]
fn t6_make() -> impl Fn(u32) -> hmr_runtime::Source<u32> {
    |x| source(futures::stream::iter([x, x + 10]))
}

#[tokio::test]
async fn t6_each_call_of_a_returned_closure_hands_out_its_own_stable_stream() {
    let (a, b) = module("t6-living", || {
        let make = t6_make();
        (make(1), make(2))
    })
    .unwrap();
    let store = snapshot();
    let tracks: Vec<_> = store
        .tracks_with_key("living::t6::make")
        .filter(|t| t.path.starts_with("t6-living/"))
        .collect();
    assert_eq!(tracks.len(), 2, "one track per call, none for the definition");
    assert_ne!(tracks[0].entity, tracks[1].entity);
    assert_eq!(a.collect::<Vec<_>>().await, [1, 11]);
    assert_eq!(b.collect::<Vec<_>>().await, [2, 12]);
}

// ---- V: versions and change detection --------------------------------------

#[hmr_track(key = "living::v1")]
fn v1_feed(input: impl Stream<Item = u32> + Send + 'static) -> impl Stream<Item = u32> {
    source(input).hot_map(|x| x + 1)
}

#[tokio::test]
async fn v1_same_code_again_hands_back_the_same_stable_stream() {
    let (tx1, rx1) = channel();
    let mut h1 = module("v1-living", || v1_feed(rx1)).unwrap();
    tx1.send(1).unwrap();
    assert_eq!(next(&mut h1).await, Some(2));
    let id = snapshot().tracks_with_key("living::v1").next().unwrap().id;
    let (tx2, rx2) = channel();
    let (mut h2, events) = capture_events(|| module("v1-living", || v1_feed(rx2)).unwrap());
    assert_eq!(changes(&events), [Change::FnOnly]);
    assert_eq!(subscribes(&events), 0);
    let track = snapshot().tracks_with_key("living::v1").next().unwrap().clone();
    assert_eq!((track.id, track.version), (id, 2));
    // The first holder receives from the newest inner; the second waits.
    tx2.send(10).unwrap();
    assert_eq!(next(&mut h1).await, Some(11));
    assert!(is_pending(&mut h2).await);
    // It is the same stream: once the first holder is gone, the second receives.
    drop(h1);
    tx2.send(20).unwrap();
    assert_eq!(next(&mut h2).await, Some(21));
}

#[hmr_track(key = "living::v2")]
fn v2_times_two(input: impl Stream<Item = u32> + Send + 'static, log: Log) -> Subscription {
    subscribe(source(input).hot_map(|x| x * 2), move |v| log.push(v.to_string()))
}

#[hmr_track(key = "living::v2")]
fn v2_times_three(input: impl Stream<Item = u32> + Send + 'static, log: Log) -> Subscription {
    subscribe(source(input).hot_map(|x| x * 3), move |v| log.push(v.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_closure_body_edit_is_fn_only() {
    let log = Log::default();
    let (tx1, rx1) = channel();
    let _s1 = module("v2-living", || v2_times_two(rx1, log.clone())).unwrap();
    tx1.send(5).unwrap();
    log.wait_for(1).await;
    let (tx2, rx2) = channel();
    let (_s2, events) =
        capture_events(|| module("v2-living", || v2_times_three(rx2, log.clone())).unwrap());
    assert_eq!(changes(&events), [Change::FnOnly]);
    tx2.send(5).unwrap();
    assert_eq!(log.wait_for(2).await, ["10", "15"]);
}

#[hmr_track(key = "living::v3::filter")]
fn v3_without_filter(input: impl Stream<Item = u32> + Send + 'static, log: Log) -> Subscription {
    subscribe(source(input).hot_map(|x| x + 1), move |v| log.push(v.to_string()))
}

#[hmr_track(key = "living::v3::filter")]
fn v3_with_filter(input: impl Stream<Item = u32> + Send + 'static, log: Log) -> Subscription {
    subscribe(source(input).hot_map(|x| x + 1).hot_filter(|x| x % 2 == 0), move |v| {
        log.push(v.to_string());
    })
}

#[hmr_track(key = "living::v3::seed")]
fn v3_seed(seed: u32, input: impl Stream<Item = u32> + Send + 'static, log: Log) -> Subscription {
    let pipeline = source(input).hot_scan(seed, |a, x| {
        *a += x;
        Some(*a)
    });
    subscribe(pipeline, move |v| log.push(v.to_string()))
}

#[hmr_track(key = "living::v3::capacity")]
fn v3_capacity(capacity: usize) -> hmr_runtime::channels::Broadcast<u32> {
    hmr_runtime::broadcast(capacity)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_shape_edits_are_structural() {
    // An added operator.
    let log = Log::default();
    let (_tx, rx) = channel();
    let _a = module("v3-living-filter", || v3_without_filter(rx, log.clone())).unwrap();
    let (_tx, rx) = channel();
    let (_a, events) =
        capture_events(|| module("v3-living-filter", || v3_with_filter(rx, log.clone())).unwrap());
    assert_eq!(changes(&events), [Change::Structural]);

    // A changed seed: rebuilt, the scan restarts from the new seed.
    let (tx1, rx1) = channel();
    let _b = module("v3-living-seed", || v3_seed(0, rx1, log.clone())).unwrap();
    tx1.send(1).unwrap();
    log.wait_for(1).await;
    let (tx2, rx2) = channel();
    let (_b, events) =
        capture_events(|| module("v3-living-seed", || v3_seed(10, rx2, log.clone())).unwrap());
    assert_eq!(changes(&events), [Change::Structural]);
    tx2.send(1).unwrap();
    assert_eq!(log.wait_for(2).await, ["1", "11"]);
    // The same seed again: an update, the state is kept.
    let (tx3, rx3) = channel();
    let (_b, events) =
        capture_events(|| module("v3-living-seed", || v3_seed(10, rx3, log.clone())).unwrap());
    assert_eq!(changes(&events), [Change::FnOnly]);
    tx3.send(1).unwrap();
    assert_eq!(log.wait_for(3).await, ["1", "11", "12"]);

    // A channel capacity.
    let c1 = module("v3-living-capacity", || v3_capacity(16)).unwrap();
    let (c2, events) = capture_events(|| module("v3-living-capacity", || v3_capacity(32)).unwrap());
    assert_eq!(changes(&events), [Change::Structural]);
    assert!(c1.is_closed(), "the old channel is closed at commit");
    assert!(!c2.is_closed());
}

#[hmr_track(key = "living::v4", reset)]
fn v4_reset(input: impl Stream<Item = u32> + Send + 'static, log: Log) -> Subscription {
    let pipeline = source(input).hot_scan(0, |a, x| {
        *a += x;
        Some(*a)
    });
    subscribe(pipeline, move |v| log.push(v.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_reset_rebuilds_on_every_reload_and_keeps_the_subscription() {
    let log = Log::default();
    let (tx, rx) = channel();
    let s1 = module("v4-living", || v4_reset(rx, log.clone())).unwrap();
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    log.wait_for(2).await;
    for round in 0..2 {
        let (tx, rx) = channel();
        let (s2, events) =
            capture_events(|| module("v4-living", || v4_reset(rx, log.clone())).unwrap());
        assert_eq!(changes(&events), [Change::Reset]);
        assert_eq!(s2.id(), s1.id(), "the subscription stays");
        tx.send(5).unwrap();
        // The scan restarted.
        assert_eq!(log.wait_for(3 + round).await.last().map(String::as_str), Some("5"));
    }
    assert!(s1.is_active());
}

// ---- S: living streams across a reload --------------------------------------

#[hmr_track(key = "living::s1")]
fn s1_feed(input: impl Stream<Item = u32> + Send + 'static) -> hmr_runtime::Source<u32> {
    source(input)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s1_silent_source_swap() {
    let (tx1, rx1) = channel();
    let stream = module("s1-living", || s1_feed(rx1)).unwrap();
    let log = Log::default();
    let ended = Arc::new(Mutex::new(false));
    let consumer = {
        let (log, ended) = (log.clone(), ended.clone());
        tokio::spawn(async move {
            let mut stream = stream;
            while let Some(v) = stream.next().await {
                log.push(v.to_string());
            }
            *ended.lock().unwrap() = true;
        })
    };
    tx1.send(1).unwrap();
    log.wait_for(1).await;
    let (tx2, rx2) = channel();
    let _again = module("s1-living", || s1_feed(rx2)).unwrap();
    let _ = tx1.send(2); // after the swap: never delivered
    tx2.send(3).unwrap();
    assert_eq!(log.wait_for(2).await, ["1", "3"]);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(log.get(), ["1", "3"]);
    assert!(!*ended.lock().unwrap(), "the consumer's stream never ends");
    assert!(tx1.is_closed(), "rx1's stream was dropped");
    consumer.abort();
}

#[hmr_track(key = "living::s3")]
fn s3_a(input: impl Stream<Item = u32> + Send + 'static, log: Log) -> Subscription {
    subscribe(source(input), move |v| log.push(format!("a{v}")))
}

#[hmr_track(key = "living::s3")]
fn s3_b(input: impl Stream<Item = u32> + Send + 'static, log: Log) -> Subscription {
    subscribe(source(input), move |v| log.push(format!("b{v}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_handler_swap() {
    let log = Log::default();
    let (tx1, rx1) = channel();
    let _s = module("s3-living", || s3_a(rx1, log.clone())).unwrap();
    tx1.send(1).unwrap();
    log.wait_for(1).await;
    let (tx2, rx2) = channel();
    let _s = module("s3-living", || s3_b(rx2, log.clone())).unwrap();
    tx2.send(2).unwrap();
    assert_eq!(log.wait_for(2).await, ["a1", "b2"]);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(log.get(), ["a1", "b2"], "logged once");
}

#[hmr_track(key = "living::s4")]
fn s4_v1(input: impl Stream<Item = u32> + Send + 'static, log: Log) -> Subscription {
    let pipeline = source(input).hot_scan(0, |a, x| {
        *a += x;
        Some(*a)
    });
    subscribe(pipeline, move |v| log.push(v.to_string()))
}

#[hmr_track(key = "living::s4")]
fn s4_v2(input: impl Stream<Item = u32> + Send + 'static, log: Log) -> Subscription {
    let pipeline = source(input).hot_filter(|x| x % 2 == 1).hot_scan(0, |a, x| {
        *a += x;
        Some(*a)
    });
    subscribe(pipeline, move |v| log.push(v.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s4_structural_edit_rebuilds_and_the_task_keeps_running() {
    let log = Log::default();
    let (tx1, rx1) = channel();
    let s1 = module("s4-living", || s4_v1(rx1, log.clone())).unwrap();
    let tasks = alive_tasks();
    tx1.send(1).unwrap();
    tx1.send(2).unwrap();
    assert_eq!(log.wait_for(2).await, ["1", "3"]);
    let (tx2, rx2) = channel();
    let (s2, events) = capture_events(|| module("s4-living", || s4_v2(rx2, log.clone())).unwrap());
    assert_eq!(changes(&events), [Change::Structural]);
    assert_eq!(subscribes(&events), 0, "no new subscription");
    assert_eq!(s1.id(), s2.id());
    tx2.send(4).unwrap(); // filtered out by the new operator
    tx2.send(5).unwrap();
    // The scan's own definition did not change: its state is kept
    // (docs/design.md §5.4), 3 + 5.
    assert_eq!(log.wait_for(3).await, ["1", "3", "8"]);
    assert_eq!(alive_tasks(), tasks, "the same task");
    assert!(s1.is_active());

    // A changed seed restarts it, in a chain rebuilt or not.
    let (tx3, rx3) = channel();
    let (_s3, events) = capture_events(|| module("s4-living", || s4_v3(rx3, log.clone())).unwrap());
    assert_eq!(changes(&events), [Change::Structural]);
    tx3.send(7).unwrap();
    assert_eq!(log.wait_for(4).await, ["1", "3", "8", "107"]);
}

#[hmr_track(key = "living::s4")]
fn s4_v3(input: impl Stream<Item = u32> + Send + 'static, log: Log) -> Subscription {
    let pipeline = source(input).hot_filter(|x| x % 2 == 1).hot_scan(100, |a, x| {
        *a += x;
        Some(*a)
    });
    subscribe(pipeline, move |v| log.push(v.to_string()))
}

#[hmr_track(key = "living::s4::returned")]
fn s4_returned_v1(input: impl Stream<Item = u32> + Send + 'static) -> impl Stream<Item = u32> {
    source(input).hot_map(|x| x + 1)
}

#[hmr_track(key = "living::s4::returned")]
fn s4_returned_v2(input: impl Stream<Item = u32> + Send + 'static) -> impl Stream<Item = u32> {
    source(input).hot_map(|x| x + 1).hot_filter(|x| x % 2 == 0)
}

#[tokio::test]
async fn s4_structural_edit_of_a_returned_stream_never_ends_its_consumer() {
    let (tx1, rx1) = channel();
    let mut held = module("s4-living-returned", || s4_returned_v1(rx1)).unwrap();
    tx1.send(1).unwrap();
    assert_eq!(next(&mut held).await, Some(2));
    let (tx2, rx2) = channel();
    let (_new, events) =
        capture_events(|| module("s4-living-returned", || s4_returned_v2(rx2)).unwrap());
    assert_eq!(changes(&events), [Change::Structural]);
    tx2.send(2).unwrap(); // 3: filtered out by the new operator
    tx2.send(3).unwrap();
    assert_eq!(next(&mut held).await, Some(4));
}

#[tokio::test]
async fn s5_a_late_consumer_reads_only_from_the_new_inner() {
    let (tx1, rx1) = channel();
    let mut held = module("s5-living", || s1_feed(rx1)).unwrap();
    tx1.send(1).unwrap();
    let (tx2, rx2) = channel();
    let _again = module("s5-living", || s1_feed(rx2)).unwrap();
    tx2.send(2).unwrap();
    assert_eq!(next(&mut held).await, Some(2));
    assert!(tx1.is_closed());
}

#[hmr_track(key = "living::s6::results")]
fn s6_results() -> hmr_runtime::Source<Result<u32, String>> {
    source(futures::stream::iter([Ok(1), Err("bad tick".to_owned()), Ok(2)]))
}

#[tokio::test]
async fn s6_ends_and_errors() {
    // An inner that ends before a swap ends the consumer's stream.
    let stream = module("s6-living-end", prices).unwrap();
    assert_eq!(stream.collect::<Vec<_>>().await, [1, 2, 3]);
    // An item of type Result::Err is an item like any other.
    let stream = module("s6-living-results", s6_results).unwrap();
    assert_eq!(stream.collect::<Vec<_>>().await, [Ok(1), Err("bad tick".to_owned()), Ok(2)]);
    // Items of an old inner after a swap are never delivered.
    let (tx1, rx1) = channel();
    let mut held = module("s6-living-swap", || s1_feed(rx1)).unwrap();
    let (tx2, rx2) = channel();
    let _again = module("s6-living-swap", || s1_feed(rx2)).unwrap();
    for n in 0..100 {
        let _ = tx1.send(n);
    }
    tx2.send(1000).unwrap();
    assert_eq!(next(&mut held).await, Some(1000));
    assert!(is_pending(&mut held).await);
}

// ---- C: channels -------------------------------------------------------------

#[hmr_track(key = "living::c1")]
fn c1_bus() -> hmr_runtime::channels::Broadcast<u32> {
    hmr_runtime::broadcast::<u32>(16)
}

#[tokio::test]
async fn c1_broadcast_is_handed_back() {
    let v1 = module("c1-living", c1_bus).unwrap();
    let mut rx = v1.subscribe();
    let (v2, events) = capture_events(|| module("c1-living", c1_bus).unwrap());
    assert_eq!(changes(&events), [Change::FnOnly]);
    v2.send(7).unwrap();
    v1.send(8).unwrap();
    assert_eq!(next(&mut rx).await, Some(7));
    assert_eq!(next(&mut rx).await, Some(8));
}

#[hmr_track(key = "living::c2")]
fn c2_u32() -> hmr_runtime::channels::Watch<u32> {
    hmr_runtime::watch(0u32)
}

#[hmr_track(key = "living::c2")]
fn c2_u64() -> hmr_runtime::channels::Watch<u64> {
    hmr_runtime::watch(0u64)
}

#[tokio::test]
async fn c2_watch_keeps_its_value_and_a_new_type_rebuilds() {
    let v1 = module("c2-living", c2_u32).unwrap();
    v1.send(42).unwrap();
    let (v2, events) = capture_events(|| module("c2-living", c2_u32).unwrap());
    assert_eq!(changes(&events), [Change::FnOnly]);
    assert_eq!(v2.get(), 42);
    let (v3, events) = capture_events(|| module("c2-living", c2_u64).unwrap());
    assert_eq!(changes(&events), [Change::Structural]);
    assert_eq!(v3.get(), 0);
    assert!(v1.is_closed(), "the u32 channel was replaced");
}

// ---- M: modules -----------------------------------------------------------------

#[hmr_track(key = "living::m1::a")]
fn m1_a(log: Log) -> (Subscription, hmr_runtime::channels::Broadcast<u32>) {
    let bus = hmr_runtime::broadcast(8);
    (subscribe(bus.subscribe(), move |v| log.push(format!("a{v}"))), bus)
}

#[hmr_track(key = "living::m1::b")]
fn m1_b(log: Log) -> (Subscription, hmr_runtime::channels::Broadcast<u32>) {
    let bus = hmr_runtime::broadcast(8);
    (subscribe(bus.subscribe(), move |v| log.push(format!("b{v}"))), bus)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m1_orphans_are_disposed() {
    let log = Log::default();
    let ((sa, bus_a), (sb, bus_b)) =
        module("m1-living", || (m1_a(log.clone()), m1_b(log.clone()))).unwrap();
    let b_id = snapshot().tracks_with_key("living::m1::b").next().unwrap().id;
    let mut b_receiver = bus_b.subscribe();
    let tasks = alive_tasks();
    let (_a2, events) = capture_events(|| module("m1-living", || m1_a(log.clone())).unwrap());
    assert!(events.contains(&Event::TrackDispose {
        id: b_id,
        reason: hmr_runtime::events::DisposeReason::Orphan
    }));
    assert!(!sb.is_active(), "b's subscription was stopped");
    assert!(sa.is_active());
    assert_eq!(next(&mut b_receiver).await, None, "b's channel is closed for receivers");
    assert!(bus_b.send(1).is_err());
    assert!(snapshot().track(b_id).is_none(), "b's record is gone");
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(alive_tasks(), tasks - 1, "b's task ended");
    bus_a.send(1).unwrap();
    assert_eq!(log.wait_for(1).await, ["a1"]);
}

#[hmr_track(key = "living::m2")]
fn m2_pipeline(
    input: impl Stream<Item = u32> + Send + 'static,
    factor: u32,
    log: Log,
) -> Subscription {
    subscribe(source(input).hot_map(move |x| x * factor), move |v| log.push(v.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m2_a_panicking_reload_commits_nothing() {
    let log = Log::default();
    let (tx1, rx1) = channel();
    let _s = module("m2-living", || m2_pipeline(rx1, 2, log.clone())).unwrap();
    let before = snapshot();
    let (_tx_failed, rx_failed) = channel();
    let (result, events) = capture_events(|| {
        module("m2-living", || {
            let half = m2_pipeline(rx_failed, 100, log.clone());
            assert!(!half.is_active(), "half-way through version 2");
            half
        })
    });
    assert!(result.is_err());
    assert!(events.iter().any(|e| matches!(e, Event::ReloadError { .. })));
    // Version 1's code still runs, on version 1's input.
    tx1.send(1).unwrap();
    assert_eq!(log.wait_for(1).await, ["2"]);
    let after = snapshot();
    let mine = |store: &hmr_runtime::store::Store| {
        let tracks: Vec<_> = store
            .tracks()
            .filter(|t| t.module.as_ref().is_some_and(|m| m.name == "m2-living"))
            .cloned()
            .collect();
        let entities: Vec<_> = store
            .entities()
            .filter(|(_, e)| tracks.iter().any(|t| t.id == e.track))
            .map(|(id, e)| (id, e.clone()))
            .collect();
        (tracks, entities)
    };
    assert_eq!(mine(&after), mine(&before));
    assert!(after.module("m2-living").unwrap().last_error.is_some());
    // Version 3 applies cleanly.
    let (tx3, rx3) = channel();
    let (_s3, events) =
        capture_events(|| module("m2-living", || m2_pipeline(rx3, 3, log.clone())).unwrap());
    assert_eq!(changes(&events), [Change::FnOnly]);
    tx3.send(1).unwrap();
    assert_eq!(log.wait_for(2).await, ["2", "3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m3_modules_do_not_collide() {
    let log = Log::default();
    let (tx_a, rx_a) = channel();
    let (tx_b, rx_b) = channel();
    let sa = module("m3-living-a", || m2_pipeline(rx_a, 1, log.clone())).unwrap();
    let sb = module("m3-living-b", || m2_pipeline(rx_b, 1000, log.clone())).unwrap();
    assert_ne!(sa.id(), sb.id());
    let (_tx_a2, rx_a2) = channel();
    let _sa2 = module("m3-living-a", || m2_pipeline(rx_a2, 2, log.clone())).unwrap();
    let store = snapshot();
    let mut versions: Vec<(String, u64)> = store
        .tracks_with_key("living::m2")
        .filter(|t| t.path.starts_with("m3-living"))
        .map(|t| (t.module.as_ref().unwrap().name.to_string(), t.version))
        .collect();
    versions.sort();
    assert_eq!(versions, [("m3-living-a".to_owned(), 2), ("m3-living-b".to_owned(), 1)]);
    tx_b.send(1).unwrap();
    assert_eq!(log.wait_for(1).await, ["1000"]);
    assert!(tx_a.is_closed() || tx_a.send(1).is_ok());
}

#[hmr_track(key = "living::plain")]
fn plain_pipeline(
    input: impl Stream<Item = u32> + Send + 'static,
    factor: u32,
    log: Log,
) -> Subscription {
    subscribe(input.map(move |x| x * factor), move |v| log.push(v.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_pipeline_is_taken_over_by_the_living_task() {
    let log = Log::default();
    let (tx1, rx1) = channel();
    let s1 = module("plain-living", || plain_pipeline(rx1, 2, log.clone())).unwrap();
    tx1.send(1).unwrap();
    log.wait_for(1).await;
    let (tx2, rx2) = channel();
    let (s2, events) =
        capture_events(|| module("plain-living", || plain_pipeline(rx2, 3, log.clone())).unwrap());
    assert_eq!(changes(&events), [Change::FnOnly]);
    assert_eq!((subscribes(&events), s1.id()), (0, s2.id()), "the same task");
    tx2.send(1).unwrap();
    assert_eq!(log.wait_for(2).await, ["2", "3"]);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(tx1.is_closed(), "the old pipeline was dropped");
}

#[hmr_track(key = "living::top_level")]
fn top_level_feed(n: u32) -> impl Stream<Item = u32> {
    source(futures::stream::iter([n, n + 1])).hot_map(|x| x * 10)
}

#[tokio::test]
async fn top_level_calls_build_independent_entities() {
    // Outside a module, calls of one key share a track but are not versions
    // of each other: each builds and keeps its own streams.
    let a = top_level_feed(1);
    let b = top_level_feed(5);
    let c = top_level_feed(7);
    assert_eq!(b.collect::<Vec<_>>().await, [50, 60]);
    assert_eq!(a.collect::<Vec<_>>().await, [10, 20]);
    assert_eq!(c.collect::<Vec<_>>().await, [70, 80]);
    let store = snapshot();
    assert_eq!(store.tracks_with_key("living::top_level").count(), 1);
}

#[hmr_track(key = "living::plain_returned")]
fn plain_returned(
    input: impl Stream<Item = u32> + Send + 'static,
    factor: u32,
) -> impl Stream<Item = u32> {
    input.map(move |x| x * factor)
}

#[tokio::test]
async fn a_returned_plain_stream_follows_the_newest_version() {
    // No stream part of this crate in the pipeline: nothing to swap into,
    // so the first holder switches to the new pipeline.
    let (tx1, rx1) = channel();
    let mut held = module("plain-returned-living", || plain_returned(rx1, 2)).unwrap();
    tx1.send(1).unwrap();
    assert_eq!(next(&mut held).await, Some(2));
    let (tx2, rx2) = channel();
    let (_again, events) =
        capture_events(|| module("plain-returned-living", || plain_returned(rx2, 3)).unwrap());
    assert_eq!(changes(&events), [Change::FnOnly]);
    tx2.send(1).unwrap();
    assert_eq!(next(&mut held).await, Some(3));
}

#[tokio::test]
async fn a_waiting_handle_ends_when_its_track_is_disposed() {
    let (_tx1, rx1) = channel();
    let (_tx2, rx2) = channel();
    let mut first = module("waiting-disposed-living", || s1_feed(rx1)).unwrap();
    let mut second = module("waiting-disposed-living", || s1_feed(rx2)).unwrap();
    assert!(is_pending(&mut second).await, "the first handle receives");
    module("waiting-disposed-living", || ()).unwrap();
    assert_eq!(next(&mut first).await, None);
    assert_eq!(next(&mut second).await, None, "the waiting handle ends too");
}

#[tokio::test]
async fn subscribing_to_a_closed_broadcast_ends_at_once() {
    let bus = module("closed-bus-living", c1_bus).unwrap();
    module("closed-bus-living", || ()).unwrap();
    assert!(bus.is_closed());
    assert_eq!(next(&mut bus.subscribe()).await, None);
}

#[hmr_track(key = "living::panicking_closure")]
fn panicking_closure(
    input: impl Stream<Item = u32> + Send + 'static,
    fixed: bool,
    log: Log,
) -> Subscription {
    let pipeline = source(input).hot_map(move |x| {
        assert!(fixed || x != 2, "a bug in the closure");
        x
    });
    subscribe(pipeline, move |v| log.push(v.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_hot_closure_is_fixed_by_a_reload() {
    let log = Log::default();
    let (tx1, rx1) = channel();
    let s1 =
        module("panicking-closure-living", || panicking_closure(rx1, false, log.clone())).unwrap();
    tx1.send(1).unwrap();
    tx1.send(2).unwrap(); // panics in the closure: lost, the task goes on
    tx1.send(3).unwrap();
    assert_eq!(log.wait_for(2).await, ["1", "3"]);
    let (tx2, rx2) = channel();
    let s2 =
        module("panicking-closure-living", || panicking_closure(rx2, true, log.clone())).unwrap();
    assert_eq!(s1.id(), s2.id());
    tx2.send(2).unwrap();
    assert_eq!(log.wait_for(3).await, ["1", "3", "2"], "the fix runs in the living task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_committed_after_unsubscribe_keeps_no_pipeline() {
    let log = Log::default();
    let (_tx1, rx1) = channel();
    let s1 = module("unsubscribed-living", || plain_pipeline(rx1, 1, log.clone())).unwrap();
    let (tx2, rx2) = channel();
    let s2 = module("unsubscribed-living", || {
        // The re-execution stages its pipeline for the living task…
        let again = plain_pipeline(rx2, 2, log.clone());
        // …which is stopped before the module commits.
        s1.unsubscribe();
        again
    })
    .unwrap();
    assert!(!s2.is_active());
    assert!(tx2.is_closed(), "a stopped subscription keeps no pipeline");
}

#[hmr_track(key = "living::bare_or_chain")]
fn bare_source(input: impl Stream<Item = u32> + Send + 'static) -> impl Stream<Item = u32> {
    source(input)
}

#[hmr_track(key = "living::bare_or_chain")]
fn chained_source(input: impl Stream<Item = u32> + Send + 'static) -> impl Stream<Item = u32> {
    source(input).hot_map(|x| x + 100)
}

#[tokio::test]
async fn a_returned_source_becomes_a_chain_and_back() {
    let (tx1, rx1) = channel();
    let mut held = module("bare-or-chain-living", || bare_source(rx1)).unwrap();
    tx1.send(1).unwrap();
    assert_eq!(next(&mut held).await, Some(1));
    // An operator added: the first holder reads through it.
    let (tx2, rx2) = channel();
    let (_v2, events) =
        capture_events(|| module("bare-or-chain-living", || chained_source(rx2)).unwrap());
    assert_eq!(changes(&events), [Change::Structural]);
    tx2.send(2).unwrap();
    assert_eq!(next(&mut held).await, Some(102));
    // And removed again: the stream goes on, without it.
    let (tx3, rx3) = channel();
    let (_v3, events) =
        capture_events(|| module("bare-or-chain-living", || bare_source(rx3)).unwrap());
    assert_eq!(changes(&events), [Change::Structural]);
    tx3.send(3).unwrap();
    assert_eq!(next(&mut held).await, Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dispose_joins_the_teardown_of_a_living_entity() {
    let log = Log::default();
    let (_tx, rx) = channel();
    let subscription = module("on-dispose-living", || s3_a(rx, log.clone())).unwrap();
    let store = snapshot();
    let track =
        store.tracks_with_key("living::s3").find(|t| t.path.starts_with("on-dispose-living/"));
    let entity = track.unwrap().entity.unwrap();
    let called = Arc::new(Mutex::new(false));
    let flag = called.clone();
    hmr_runtime::on_dispose(entity, move || *flag.lock().unwrap() = true);
    module("on-dispose-living", || ()).unwrap();
    assert!(*called.lock().unwrap(), "the callback ran");
    assert!(!subscription.is_active(), "the subscription's own teardown ran too");
}

/// Panics when dropped, if armed.
struct PanicsOnDrop(bool);

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        assert!(!self.0 || std::thread::panicking(), "a Drop that panics");
    }
}

#[hmr_track(key = "living::drop_panics")]
fn drop_panics(armed: bool) -> impl Stream<Item = u32> {
    let guard = PanicsOnDrop(armed);
    source(futures::stream::pending::<u32>()).hot_map(move |x| {
        let _ = &guard;
        x
    })
}

#[test]
fn a_swap_whose_drop_panics_is_reported_and_the_module_commits() {
    let _held = module("drop-panics-living", || drop_panics(false)).unwrap();
    // Version 2's closure waits in the living slot (nobody polls). Later
    // versions stage their own: a reader whose item began before their
    // commits may still need version 2's, so it is kept…
    let _v2 = module("drop-panics-living", || drop_panics(true)).unwrap();
    let mut events = Vec::new();
    let mut result = Ok(());
    for _ in 0..300 {
        // …until the unread slot holds more versions than it keeps (256):
        // then the
        // oldest are dropped, and the panic is caught and reported.
        let (r, e) =
            capture_events(|| module("drop-panics-living", || drop_panics(false)).map(drop));
        result = result.and(r);
        events.extend(e);
    }
    assert!(result.is_ok());
    assert!(
        events.iter().any(|e| matches!(e, Event::ReloadError { message, .. } if message.contains("a Drop that panics"))),
        "{events:#?}"
    );
}

static GROWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static GROWN_SEEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[hmr_track(key = "living::grown_tap")]
fn grown_tap() {
    let tap = subscribe(futures::stream::iter(0..3u64), |_| {
        GROWN_SEEN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    tap.detach();
}

/// Its second version has a subscription on a new path.
fn growing_root() {
    if GROWN.load(std::sync::atomic::Ordering::SeqCst) {
        grown_tap();
    }
}

#[test]
fn a_reload_from_a_thread_without_a_runtime_starts_new_subscriptions_on_the_roots_runtime() {
    // A reload engine's thread (subsecond's, a file watcher's) has no tokio
    // runtime; the root was registered inside one.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
    runtime.block_on(async { hmr_runtime::root("living-grows", growing_root) }).unwrap();
    GROWN.store(true, std::sync::atomic::Ordering::SeqCst);
    let reloaded = std::thread::spawn(hmr_runtime::reload).join().unwrap();
    assert_eq!(reloaded, Ok(()));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while GROWN_SEEN.load(std::sync::atomic::Ordering::SeqCst) < 3 {
        assert!(std::time::Instant::now() < deadline, "the new subscription never ran");
        std::thread::sleep(Duration::from_millis(1));
    }
}

// ---- a listener installed half-way through a call ---------------------------

/// Builds a source, then starts watching and builds a hot operator on it.
#[hmr_track(key = "living::watched_half_way")]
fn watched_half_way(
    factor: u32,
) -> (hmr_runtime::streams::HotMap<hmr_runtime::Source<u32>, u32>, Vec<Event>) {
    let input = source(futures::stream::iter(1..=3u32));
    capture_events(|| input.hot_map(move |x| x * factor))
}

/// Unwatched, a call in a module defers its events to its return
/// (docs/design.md §4.1). A listener installed inside it sees what the call
/// captures from then on, the store still takes every event, and the next
/// version finds the living chain (`fn-only`) and swaps into it.
#[test]
fn a_listener_installed_inside_a_call_sees_its_later_captures() {
    let (mut living, seen) = module("living-half-way", || watched_half_way(10)).unwrap();
    let names: Vec<String> = seen
        .iter()
        .filter_map(|e| match e {
            Event::OperatorFunCall { name, .. }
            | Event::PipeCallReturn { name, .. }
            | Event::FactoryCallReturn { name, .. } => Some(name.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["source.hot_map(fn)"], "only what came after the listener: {seen:?}");
    let store = snapshot();
    let track = store.tracks_with_key("living::watched_half_way").next().expect("stored");
    assert_eq!(store.entity_name(track.id), Some("source.hot_map(fn)"));

    let (_spent, _) = module("living-half-way", || watched_half_way(100)).unwrap();
    let store = snapshot();
    let track = store.tracks_with_key("living::watched_half_way").next().expect("stored");
    assert_eq!(track.change, Some(Change::FnOnly), "the living chain was found");
    let first = futures::executor::block_on(living.next());
    assert_eq!(first, Some(100), "the living chain runs the new closure");
}
