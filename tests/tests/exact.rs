//! Exactness under live producers (docs/design.md §10: E1–E4; §7): a
//! producer that never stops while versions are reloaded at full speed; every
//! item counted (lost? doubled? which version's code touched it?). Then the
//! lifecycle rules: handles, runtimes, errors, unsubscribe.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use hmr_runtime::{
    Change, Event, HmrStreamExt, MemoryLog, Source, add_sink, broadcast, capture_events, channel,
    channels::Broadcast, channels::Receiver, channels::Sender, hmr_track, input, module, snapshot,
    source, subscribe,
};
use hmr_tests::{runtime, wait_until};

type Seen<T> = Arc<Mutex<Vec<T>>>;

fn seen<T>() -> Seen<T> {
    Arc::new(Mutex::new(Vec::new()))
}

/// Checks that `xs` is `first, first + 1, …`: nothing lost, nothing doubled,
/// in order. Returns how many.
fn assert_consecutive(what: &str, xs: &[u64]) -> usize {
    assert!(!xs.is_empty(), "{what}: nothing received");
    for pair in xs.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "{what}: {} followed by {}", pair[0], pair[1]);
    }
    xs.len()
}

/// A producer on its own thread sending 1, 2, 3, … through `send` without
/// ever waiting for the consumer (a short sleep every 64 items keeps a
/// broadcast receiver from lagging out of its buffer). Returns the stop flag
/// and the last number sent.
fn produce(
    send: impl Fn(u64) + Send + 'static,
) -> (Arc<AtomicBool>, Arc<AtomicU64>, std::thread::JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let last = Arc::new(AtomicU64::new(0));
    let thread = std::thread::spawn({
        let (stop, last) = (stop.clone(), last.clone());
        move || {
            let mut n = 0;
            while !stop.load(SeqCst) {
                n += 1;
                send(n);
                last.store(n, SeqCst);
                if n % 64 == 0 {
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
        }
    });
    (stop, last, thread)
}

// ---- E2: one version per item ----------------------------------------------

/// The input: a child track's returned stream, tagging each item with the
/// version of the code that built the stream.
#[hmr_track(key = "exact::e2::feed")]
fn e2_feed(b: &Broadcast<u64>, v: u32) -> impl Stream<Item = (u64, u32)> + use<> {
    source(b.subscribe().map(move |x| (x, v)))
}

/// Item: (number, the input's version, the `hot_map`'s version, the handler's version).
type Tagged = (u64, u32, u32, u32);

#[hmr_track(key = "exact::e2::app")]
fn e2_app(v: u32, seen: Seen<Tagged>) -> Broadcast<u64> {
    let b = broadcast::<u64>(1 << 16);
    let tagged = e2_feed(&b, v).hot_map(move |(x, vin)| (x, vin, v));
    subscribe(tagged, move |(x, vin, vmap)| seen.lock().unwrap().push((x, vin, vmap, v))).detach();
    b
}

#[test]
fn e2_one_version_per_item_across_tracks_at_full_speed() {
    const VERSIONS: u32 = 250;
    let runtime = runtime();
    let _entered = runtime.enter();
    let log = seen::<Tagged>();
    let b = module("exact-e2", || e2_app(1, log.clone())).unwrap();
    let (stop, last, producer) = produce(move |n| {
        let _ = b.send(n);
    });
    wait_until("the first items arrive", || !log.lock().unwrap().is_empty());
    for v in 2..=VERSIONS {
        module("exact-e2", || e2_app(v, log.clone())).unwrap();
    }
    // Let the newest version handle items too, then stop and drain.
    let at_end = log.lock().unwrap().len();
    wait_until("items after the last reload", || log.lock().unwrap().len() > at_end + 100);
    stop.store(true, SeqCst);
    producer.join().unwrap();
    let last = last.load(SeqCst);
    wait_until("the last item", || log.lock().unwrap().last().is_some_and(|t| t.0 == last));

    let log = log.lock().unwrap().clone();
    let mixed: Vec<_> = log.iter().filter(|(_, a, b, c)| a != b || b != c).collect();
    assert!(
        mixed.is_empty(),
        "{} items met two versions, e.g. {:?}",
        mixed.len(),
        &mixed[..mixed.len().min(5)]
    );
    let went_back = log.windows(2).filter(|w| w[1].3 < w[0].3).count();
    assert_eq!(went_back, 0, "a version went back");
    let numbers: Vec<u64> = log.iter().map(|t| t.0).collect();
    let received = assert_consecutive("e2", &numbers);
    let mut versions: Vec<u32> = log.iter().map(|t| t.3).collect();
    versions.dedup();
    assert_eq!(versions.last(), Some(&VERSIONS), "the newest version handles the last items");
    eprintln!("e2: {received} items, {} versions seen handling items", versions.len());
}

// ---- E1 and E4: a feed through a channel, three kinds of reload ------------

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// `subscribe(source(rx).hot_map(f), h)`, the same code every version.
    ThroughSource,
    /// `subscribe(rx.hot_map(f), h)`, the same code every version.
    Direct,
    /// An operator added on every other version.
    Structural,
}

/// Subscribes to `rx` the way `kind` says; the handler records (item, version).
fn pipeline<S>(rx: S, kind: Kind, v: u32, seen: Seen<(u64, u32)>)
where
    S: Stream<Item = u64> + Send + 'static,
{
    let sink = move |x| seen.lock().unwrap().push((x, v));
    let subscription = match kind {
        Kind::ThroughSource => subscribe(source(rx).hot_map(|x| x), sink),
        Kind::Direct => subscribe(rx.hot_map(|x| x), sink),
        Kind::Structural if v.is_multiple_of(2) => {
            subscribe(rx.hot_map(|x| x).hot_filter(|_| true), sink)
        }
        Kind::Structural => subscribe(rx.hot_map(|x| x), sink),
    };
    subscription.detach();
}

#[hmr_track(key = "exact::e1::app")]
fn e1_app(kind: Kind, v: u32, seen: Seen<(u64, u32)>) -> Broadcast<u64> {
    let b = broadcast::<u64>(1 << 16);
    pipeline(b.subscribe(), kind, v, seen);
    b
}

/// Reloads `VERSIONS` times while `last` grows; returns the handled items
/// once the producer stopped and the last one arrived.
fn reload_while_producing(
    name: &str,
    log: &Seen<(u64, u32)>,
    reload: impl Fn(u32),
    stop: &AtomicBool,
    last: &AtomicU64,
) -> Vec<(u64, u32)> {
    const VERSIONS: u32 = 150;
    wait_until("the first items arrive", || !log.lock().unwrap().is_empty());
    for v in 2..=VERSIONS {
        reload(v);
    }
    let at_end = log.lock().unwrap().len();
    wait_until("items after the last reload", || log.lock().unwrap().len() > at_end + 100);
    stop.store(true, SeqCst);
    let last = last.load(SeqCst);
    wait_until("the last item", || log.lock().unwrap().last().is_some_and(|t| t.0 >= last));
    let log = log.lock().unwrap().clone();
    assert_eq!(log.last().map(|t| t.1), Some(VERSIONS), "{name}: the newest handler runs last");
    log
}

fn e1_broadcast(kind: Kind) {
    let name = format!("exact-e1-{kind:?}");
    let runtime = runtime();
    let _entered = runtime.enter();
    let log = seen();
    let b = module(&name, || e1_app(kind, 1, log.clone())).unwrap();
    let (stop, last, producer) = produce(move |n| {
        let _ = b.send(n);
    });
    let reload = |v| {
        let (_, events) =
            capture_events(|| module(&name, || e1_app(kind, v, log.clone())).unwrap());
        let structural = events
            .iter()
            .any(|e| matches!(e, Event::TrackUpdate { change: Change::Structural, .. }));
        assert_eq!(structural, matches!(kind, Kind::Structural), "{kind:?} v{v}");
    };
    let handled = reload_while_producing(&name, &log, reload, &stop, &last);
    producer.join().unwrap();
    let numbers: Vec<u64> = handled.iter().map(|t| t.0).collect();
    let n = assert_consecutive(&name, &numbers);
    eprintln!("{name}: {n} items, every one once and in order");
}

#[test]
fn e1_broadcast_fn_only_through_source_loses_and_doubles_nothing() {
    e1_broadcast(Kind::ThroughSource);
}

#[test]
fn e1_broadcast_fn_only_direct_loses_and_doubles_nothing() {
    e1_broadcast(Kind::Direct);
}

#[test]
fn e1_broadcast_structural_loses_and_doubles_nothing() {
    e1_broadcast(Kind::Structural);
}

#[hmr_track(key = "exact::e4::app")]
fn e4_app(kind: Kind, v: u32, seen: Seen<(u64, u32)>) -> Sender<u64> {
    let (tx, rx): (Sender<u64>, Receiver<u64>) = channel(64);
    pipeline(rx, kind, v, seen);
    tx
}

fn e4_channel(kind: Kind) {
    let name = format!("exact-e4-{kind:?}");
    let runtime = runtime();
    let _entered = runtime.enter();
    let log = seen();
    // The sender of version 1, kept outside the module (a request handler's).
    let tx = module(&name, || e4_app(kind, 1, log.clone())).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let last = Arc::new(AtomicU64::new(0));
    let producer = runtime.spawn({
        let (tx, stop, last) = (tx.clone(), stop.clone(), last.clone());
        async move {
            let mut n = 0;
            while !stop.load(SeqCst) {
                n += 1;
                tx.send(n).await.expect("the living channel takes every item");
                last.store(n, SeqCst);
            }
        }
    });
    let reload = |v| {
        let again = module(&name, || e4_app(kind, v, log.clone())).unwrap();
        assert!(!again.is_closed());
    };
    let handled = reload_while_producing(&name, &log, reload, &stop, &last);
    runtime.block_on(producer).unwrap();
    let numbers: Vec<u64> = handled.iter().map(|t| t.0).collect();
    assert_eq!(numbers.first(), Some(&1), "{name}: a channel loses nothing, not even the first");
    let n = assert_consecutive(&name, &numbers);
    eprintln!("{name}: {n} items, every one once and in order");
    // The track removed: the channel is closed for the sender kept outside.
    module(&name, || ()).unwrap();
    assert!(tx.is_closed());
    assert!(runtime.block_on(tx.send(0)).is_err());
}

#[test]
fn e4_channel_fn_only_through_source_loses_and_doubles_nothing() {
    e4_channel(Kind::ThroughSource);
}

#[test]
fn e4_channel_fn_only_direct_loses_and_doubles_nothing() {
    e4_channel(Kind::Direct);
}

#[test]
fn e4_channel_structural_loses_and_doubles_nothing() {
    e4_channel(Kind::Structural);
}

// ---- E3: an input stays connected -------------------------------------------

static MAKES: AtomicU32 = AtomicU32::new(0);

/// A feed that counts 1, 2, 3, … every millisecond: a reconnect shows as a
/// restart at 1.
fn counter() -> impl Stream<Item = u64> + Send + 'static {
    futures::stream::unfold(0, |n| async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        Some((n + 1, n + 1))
    })
}

#[hmr_track(key = "exact::e3::app")]
fn e3_app(url: &'static str, factor: u64, seen: Seen<(u64, u64)>) {
    let feed = input(url, || {
        MAKES.fetch_add(1, SeqCst);
        counter()
    });
    subscribe(feed.hot_map(move |n| (n, factor)), move |t| seen.lock().unwrap().push(t)).detach();
}

#[test]
fn e3_input_is_made_once_across_edits_and_again_when_its_deps_change() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let log = seen();
    let count = |log: &Seen<(u64, u64)>| log.lock().unwrap().len();
    module("exact-e3", || e3_app("feed://a", 1, log.clone())).unwrap();
    wait_until("v1 items", || count(&log) >= 5);
    for factor in 2..=20 {
        let ((), events) = capture_events(|| {
            module("exact-e3", || e3_app("feed://a", factor, log.clone())).unwrap();
        });
        assert!(events.iter().all(|e| !matches!(
            e,
            Event::TrackUpdate { change: Change::Structural | Change::Reset, .. }
        )));
        let n = count(&log);
        wait_until("items of the new version", || count(&log) >= n + 2);
    }
    assert_eq!(MAKES.load(SeqCst), 1, "make ran once across fn-only reloads");
    let items = log.lock().unwrap().clone();
    let numbers: Vec<u64> = items.iter().map(|t| t.0).collect();
    assert_eq!(numbers.first(), Some(&1));
    assert_consecutive("e3: the feed goes on, no restart", &numbers);
    assert_eq!(items.last().map(|t| t.1), Some(20), "the newest closure runs");

    // Other deps: a new connection, from 1 again.
    let before = count(&log);
    module("exact-e3", || e3_app("feed://b", 20, log.clone())).unwrap();
    assert_eq!(MAKES.load(SeqCst), 2, "changed deps make a new input");
    wait_until("items of the new input", || count(&log) >= before + 3);
    let after: Vec<u64> = log.lock().unwrap()[before..].iter().map(|t| t.0).collect();
    let restart = after.iter().position(|n| *n == 1).expect("the new input counts from 1");
    assert_consecutive("e3: the new input", &after[restart..]);
}

// ---- No dead handles ----------------------------------------------------------

#[hmr_track(key = "exact::runtimes::app")]
fn runtimes_app(
    rx: futures::channel::mpsc::UnboundedReceiver<u32>,
    seen: Seen<u32>,
) -> hmr_runtime::Subscription {
    subscribe(source(rx).hot_map(|x| x + 1), move |x| seen.lock().unwrap().push(x))
}

#[test]
fn a_subscription_whose_runtime_is_gone_is_restarted_in_the_next_one() {
    let log = seen();
    let first = {
        let runtime = runtime();
        let _entered = runtime.enter();
        let (tx, rx) = futures::channel::mpsc::unbounded();
        let sub = module("exact-runtimes", || runtimes_app(rx, log.clone())).unwrap();
        tx.unbounded_send(1).unwrap();
        wait_until("round 1's item", || log.lock().unwrap().len() == 1);
        assert!(sub.is_active());
        sub
        // The runtime shuts down here, and its tasks with it.
    };
    assert!(!first.is_active(), "a subscription whose runtime is gone says so");
    let runtime = runtime();
    let _entered = runtime.enter();
    let sink = MemoryLog::new();
    let guard = add_sink(sink.clone());
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let second = module("exact-runtimes", || runtimes_app(rx, log.clone())).unwrap();
    drop(guard);
    assert!(second.is_active());
    assert_ne!(first.id(), second.id(), "a new task, not the dead one handed back");
    let events = sink.events();
    assert!(
        events.iter().any(|e| matches!(e, Event::TrackUpdate { change: Change::Structural, .. })),
        "the track says its subscription was rebuilt: {events:#?}"
    );
    assert!(events.iter().any(
        |e| matches!(e, Event::Subscribe { subscription, .. } if *subscription == second.id())
    ));
    tx.unbounded_send(2).unwrap();
    wait_until("round 2's item", || log.lock().unwrap().len() == 2);
    assert_eq!(*log.lock().unwrap(), [2, 3]);
}

// ---- Runtime errors with context ----------------------------------------------

#[hmr_track(key = "exact::errors::app")]
fn errors_app(
    rx: futures::channel::mpsc::UnboundedReceiver<u32>,
    seen: Seen<u32>,
) -> hmr_runtime::Subscription {
    let checked = source(rx).hot_map(|x: u32| {
        assert!(x != 2, "two is not allowed");
        x
    });
    subscribe(checked, move |x| {
        assert!(x != 4, "the handler refuses four");
        seen.lock().unwrap().push(x);
    })
}

#[test]
fn a_run_time_panic_reports_module_track_and_message() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let sink = MemoryLog::new();
    let _guard = add_sink(sink.clone());
    let log = seen();
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let _sub = module("exact-errors", || errors_app(rx, log.clone())).unwrap();
    for x in 1..=5 {
        tx.unbounded_send(x).unwrap();
    }
    wait_until("the items that pass", || log.lock().unwrap().len() == 3);
    assert_eq!(*log.lock().unwrap(), [1, 3, 5], "each panic lost its item, not the subscription");
    let errors: Vec<(hmr_runtime::events::Name, Option<hmr_runtime::events::Path>, String)> = sink
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::ReloadError { module, path, message } => Some((module, path, message)),
            _ => None,
        })
        .filter(|(module, ..)| module == "exact-errors")
        .collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    for (needle, (_, path, message)) in
        ["two is not allowed", "the handler refuses four"].iter().zip(&errors)
    {
        let path = path.as_deref().expect("the track's path");
        assert!(path.starts_with("exact-errors/") && path.contains("exact::errors::app"), "{path}");
        assert!(message.contains(needle), "{message}");
    }
}

// ---- Exact lifecycles -----------------------------------------------------------

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

/// A pending stream that sets `dropped` when it is dropped.
fn watched(dropped: &Arc<AtomicBool>) -> impl Stream<Item = u32> + Send + 'static {
    let flag = DropFlag(dropped.clone());
    futures::stream::pending::<u32>().map(move |x| {
        let _ = &flag;
        x
    })
}

#[hmr_track(key = "exact::life::source")]
fn life_source(dropped: &Arc<AtomicBool>) -> Source<u32> {
    source(watched(dropped))
}

#[test]
fn a_source_with_no_handle_left_drops_its_inner_stream_at_once() {
    let dropped = Arc::new(AtomicBool::new(false));
    let handle = module("exact-life-source", || life_source(&dropped)).unwrap();
    assert!(!dropped.load(SeqCst));
    drop(handle);
    assert!(dropped.load(SeqCst), "the upstream is torn down when the last handle goes");
    // A later re-execution builds a new one, which its handle receives from.
    let again = Arc::new(AtomicBool::new(false));
    let handle = module("exact-life-source", || life_source(&again)).unwrap();
    assert!(!again.load(SeqCst));
    drop(handle);
    assert!(again.load(SeqCst));
}

#[hmr_track(key = "exact::life::kept")]
fn life_kept(
    rx: Option<futures::channel::mpsc::UnboundedReceiver<u32>>,
    dropped: &Arc<AtomicBool>,
) -> Source<u32> {
    let dropped = dropped.clone();
    input((), move || {
        let flag = DropFlag(dropped);
        rx.expect("made once").map(move |x| {
            let _ = &flag;
            x
        })
    })
}

#[tokio::test]
async fn a_waiting_handle_keeps_the_inner_stream_and_takes_over() {
    let dropped = Arc::new(AtomicBool::new(false));
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let first = module("exact-life-kept", || life_kept(Some(rx), &dropped)).unwrap();
    let mut second = module("exact-life-kept", || life_kept(None, &dropped)).unwrap();
    drop(first);
    assert!(!dropped.load(SeqCst), "a waiting handle remains: the inner stream is kept for it");
    tx.unbounded_send(7).unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), second.next()).await.unwrap();
    assert_eq!(next, Some(7), "the waiting handle took over");
    drop(second);
    assert!(dropped.load(SeqCst));
}

#[hmr_track(key = "exact::life::orphan")]
fn life_orphan() -> impl Stream<Item = u32> + use<> {
    source(futures::stream::pending())
}

#[test]
fn a_subscription_whose_input_track_is_disposed_closes() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let stream = module("exact-life-orphan", life_orphan).unwrap();
    // Outside any module: nothing will rebuild its input.
    let subscription = subscribe(stream, |_| {});
    module("exact-life-orphan", || ()).unwrap();
    // The store hears of it just after the subscription stopped.
    let listed = || snapshot().subscriptions().any(|(id, _)| id == subscription.id());
    wait_until("the subscription closes and is unlisted", || {
        !subscription.is_active() && !listed()
    });
}

#[test]
fn no_handler_call_starts_after_unsubscribe_returns() {
    let runtime = runtime();
    let _entered = runtime.enter();
    for round in 0..5 {
        let unsubscribed = Arc::new(AtomicBool::new(false));
        let late = Arc::new(AtomicU32::new(0));
        let handled = Arc::new(AtomicU32::new(0));
        // A 2 ms operator: the task spends most of its time producing the
        // next item, between its last look at the stop and the handler call.
        let slow = futures::stream::iter(0u32..).hot_map(|x| {
            std::thread::sleep(Duration::from_millis(2));
            x
        });
        let subscription = subscribe(slow, {
            let (unsubscribed, late, handled) =
                (unsubscribed.clone(), late.clone(), handled.clone());
            move |_| {
                if unsubscribed.load(SeqCst) {
                    late.fetch_add(1, SeqCst);
                }
                std::thread::sleep(Duration::from_micros(500));
                handled.fetch_add(1, SeqCst);
            }
        });
        wait_until("a few items", || handled.load(SeqCst) >= 3);
        subscription.unsubscribe();
        unsubscribed.store(true, SeqCst);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            late.load(SeqCst),
            0,
            "round {round}: a handler call started after unsubscribe returned"
        );
    }
}

#[hmr_track(key = "exact::life::consumes")]
fn life_consumes() -> hmr_runtime::Subscription {
    subscribe(source(futures::stream::pending::<u32>()).hot_map(|x| x), |_| {})
}

#[test]
fn subscribe_records_the_entity_it_consumes() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let (_sub, events) = capture_events(|| module("exact-life-consumes", life_consumes).unwrap());
    let chain = events
        .iter()
        .find_map(|e| match e {
            Event::OperatorFunCall { entity, name, .. } if name == "source.hot_map(fn)" => {
                Some(*entity)
            }
            _ => None,
        })
        .expect("the chain's entity");
    let (own, input) = events
        .iter()
        .find_map(|e| match e {
            Event::Subscribe { entity, input, .. } => Some((*entity, *input)),
            _ => None,
        })
        .expect("a subscribe event");
    assert_eq!(input, Some(chain), "the entity it consumes");
    assert_ne!(own, chain);
}

// ---- Watch receivers and reset inputs -------------------------------------------

#[hmr_track(key = "exact::watch::app")]
fn watch_app(v: u32, seen: Seen<(u64, u32)>) -> hmr_runtime::channels::Watch<u64> {
    let w = hmr_runtime::watch(0u64);
    let sink = move |x| seen.lock().unwrap().push((x, v));
    subscribe(source(w.subscribe()).hot_map(|x| x), sink).detach();
    w
}

#[test]
fn a_watch_receiver_handed_back_never_repeats_a_value() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let log = seen();
    let w = module("exact-watch", || watch_app(1, log.clone())).unwrap();
    wait_until("the initial value", || !log.lock().unwrap().is_empty());
    for v in 2..=100u32 {
        w.send(u64::from(v)).unwrap();
        module("exact-watch", || watch_app(v, log.clone())).unwrap();
    }
    w.send(1000).unwrap();
    wait_until("the last value", || log.lock().unwrap().last().is_some_and(|t| t.0 == 1000));
    let values: Vec<u64> = log.lock().unwrap().iter().map(|t| t.0).collect();
    // A watch may skip values (it holds the latest); a receiver taken over
    // by a new version must not yield the value the old one yielded again.
    assert!(values.windows(2).all(|w| w[0] < w[1]), "a value repeated or went back: {values:?}");
}

static RESET_MAKES: AtomicU32 = AtomicU32::new(0);

#[hmr_track(key = "exact::reset::feed", reset)]
fn reset_feed() -> Source<u64> {
    input((), || {
        RESET_MAKES.fetch_add(1, SeqCst);
        futures::stream::pending()
    })
}

#[test]
fn a_reset_track_makes_its_input_every_time() {
    let _first = module("exact-reset", reset_feed).unwrap();
    let _second = module("exact-reset", reset_feed).unwrap();
    let _third = module("exact-reset", reset_feed).unwrap();
    assert_eq!(RESET_MAKES.load(SeqCst), 3);
}

static SPAWN_RUNS: AtomicU32 = AtomicU32::new(0);

#[hmr_track(key = "exact::spawn::app")]
fn spawn_app() {
    hmr_runtime::spawn(async {
        SPAWN_RUNS.fetch_add(1, SeqCst);
        futures::future::pending::<()>().await;
    });
}

#[test]
fn a_spawned_task_of_a_dead_runtime_respawns_in_the_live_one() {
    {
        let runtime = runtime();
        let _entered = runtime.enter();
        module("exact-spawn", spawn_app).unwrap();
        wait_until("round 1's task runs", || SPAWN_RUNS.load(SeqCst) == 1);
    }
    let runtime = runtime();
    let _entered = runtime.enter();
    module("exact-spawn", spawn_app).unwrap();
    wait_until("round 2's task runs", || SPAWN_RUNS.load(SeqCst) == 2);
}

// ---- A rebuilt input under a living subscription ---------------------------------

#[hmr_track(key = "exact::retyped::app")]
fn retyped_app(v: u32, seen: Seen<(u64, u32)>) -> Broadcast<u32> {
    let b = broadcast::<u32>(1 << 16);
    let sink = move |x| seen.lock().unwrap().push((x, v));
    // Every other version the source carries another item type: it is
    // rebuilt (the old one disposed) under the same subscription.
    let subscription = if v.is_multiple_of(2) {
        subscribe(source(b.subscribe().map(u64::from)).hot_map(|x| x), sink)
    } else {
        subscribe(source(b.subscribe()).hot_map(u64::from), sink)
    };
    subscription.detach();
    b
}

#[test]
fn a_subscription_whose_input_is_rebuilt_goes_on_and_loses_nothing() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let log = seen();
    let b = module("exact-retyped", || retyped_app(1, log.clone())).unwrap();
    let (stop, last, producer) = produce(move |n| {
        let _ = b.send(u32::try_from(n).unwrap());
    });
    let reload = |v| {
        let ((), events) = capture_events(|| {
            module("exact-retyped", || retyped_app(v, log.clone())).unwrap();
        });
        let disposed_subscription = events.iter().any(|e| matches!(e, Event::Unsubscribe { .. }));
        assert!(!disposed_subscription, "v{v}: the subscription goes on");
    };
    let handled = reload_while_producing("retyped", &log, reload, &stop, &last);
    producer.join().unwrap();
    let numbers: Vec<u64> = handled.iter().map(|t| t.0).collect();
    assert_consecutive("retyped", &numbers);
}

// ---- Review cases: torn-down receivers, ended channels, panics, deadlocks -----

#[hmr_track(key = "exact::torn::app")]
fn torn_app(seen: Seen<u64>) -> (Broadcast<u64>, hmr_runtime::Subscription) {
    let b = broadcast::<u64>(16);
    let subscription = subscribe(b.subscribe(), move |x| seen.lock().unwrap().push(x));
    (b, subscription)
}

#[test]
fn a_receiver_torn_down_with_its_runtime_is_made_anew() {
    let log = seen();
    let first = {
        let runtime = runtime();
        let _entered = runtime.enter();
        let (b, subscription) = module("exact-torn", || torn_app(log.clone())).unwrap();
        b.send(1).unwrap();
        wait_until("round 1's item", || log.lock().unwrap().len() == 1);
        subscription
    };
    assert!(!first.is_active());
    let runtime = runtime();
    let _entered = runtime.enter();
    let (b, second) = module("exact-torn", || torn_app(log.clone())).unwrap();
    assert!(second.is_active());
    b.send(2).expect("the restarted subscription has a living receiver");
    wait_until("round 2's item", || log.lock().unwrap().len() == 2);
}

#[hmr_track(key = "exact::ended::channel")]
fn ended_channel() -> (Sender<u32>, Receiver<u32>) {
    channel(4)
}

#[tokio::test]
async fn a_channel_whose_halves_were_dropped_is_made_anew() {
    let (tx, rx) = module("exact-ended-a", ended_channel).unwrap();
    drop((tx, rx));
    let (tx, mut rx) = module("exact-ended-a", ended_channel).unwrap();
    tx.try_send(5).expect("a new channel");
    let next = tokio::time::timeout(Duration::from_secs(5), rx.next()).await.unwrap();
    assert_eq!(next, Some(5));
}

#[tokio::test]
async fn a_channel_receiver_ends_when_its_senders_are_dropped() {
    let (tx, mut rx) = module("exact-ended-b", ended_channel).unwrap();
    tx.send(1).await.unwrap();
    drop(tx);
    assert_eq!(rx.next().await, Some(1));
    let next = tokio::time::timeout(Duration::from_secs(5), rx.next()).await;
    assert_eq!(next, Ok(None), "the receiver ends");
}

#[test]
fn a_hot_then_future_that_panics_loses_its_item_only() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let sink = MemoryLog::new();
    let _guard = add_sink(sink.clone());
    let handled = seen::<u32>();
    let slow = futures::stream::iter([1u32, 2, 3]).hot_then(|x| async move {
        assert!(x != 2, "two fails");
        x
    });
    let _subscription = subscribe(slow, {
        let handled = handled.clone();
        move |x| handled.lock().unwrap().push(x)
    });
    wait_until("items 1 and 3", || handled.lock().unwrap().len() == 2);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(*handled.lock().unwrap(), [1, 3]);
    let errors = sink
        .events()
        .iter()
        .filter(
            |e| matches!(e, Event::ReloadError { message, .. } if message.contains("two fails")),
        )
        .count();
    assert_eq!(errors, 1, "one panic, one report (the future is not polled again)");
}

#[hmr_track(key = "exact::inputs::child")]
fn inputs_child() -> impl Stream<Item = u32> + use<> {
    futures::stream::pending()
}

#[hmr_track(key = "exact::inputs::app")]
fn inputs_app() -> Vec<hmr_runtime::Subscription> {
    let b = broadcast::<u32>(4);
    vec![subscribe(b.subscribe(), |_| {}), subscribe(inputs_child(), |_| {})]
}

#[test]
fn subscribe_names_no_input_it_does_not_know() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let (_subscriptions, events) = capture_events(|| module("exact-inputs", inputs_app).unwrap());
    let inputs: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Subscribe { input, .. } => Some(*input),
            _ => None,
        })
        .collect();
    // A channel's receiver and a child track's stream are not parts of this
    // scope's chain: no entity of this scope is what they consume.
    assert_eq!(inputs, [None, None]);
}

#[hmr_track(key = "exact::deadlock::app")]
fn deadlock_app(v: u32, entered: Arc<AtomicBool>) {
    let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
    tx.unbounded_send(1).unwrap();
    std::mem::forget(tx);
    if v == 1 {
        subscribe(rx, move |_| {
            entered.store(true, SeqCst);
            std::thread::sleep(Duration::from_millis(100));
            // A handler reacting to a change runs a module.
            let _ = module("exact-deadlock-other", || ());
        })
        .detach();
    } else {
        // Another item type: the subscription is replaced, the old one disposed.
        subscribe(rx.map(u64::from), |_| {}).detach();
    }
}

#[test]
fn disposing_a_subscription_does_not_wait_for_its_handler() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let entered = Arc::new(AtomicBool::new(false));
    module("exact-deadlock", || deadlock_app(1, entered.clone())).unwrap();
    wait_until("the handler runs", || entered.load(SeqCst));
    let started = Instant::now();
    module("exact-deadlock", || deadlock_app(2, entered.clone())).unwrap();
    assert!(started.elapsed() < Duration::from_secs(30), "the reload waited for the handler");
}

#[test]
fn unsubscribe_returns_once_a_running_handler_call_ended() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let running = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU32::new(0));
    let subscription = subscribe(futures::stream::iter(0u32..), {
        let (running, calls) = (running.clone(), calls.clone());
        move |_| {
            running.store(true, SeqCst);
            calls.fetch_add(1, SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            running.store(false, SeqCst);
        }
    });
    wait_until("a handler call is running", || running.load(SeqCst));
    subscription.unsubscribe();
    assert!(!running.load(SeqCst), "unsubscribe returned while a handler call ran");
}

#[hmr_track(key = "exact::choice::a")]
fn choice_a(b: &Broadcast<u64>) -> impl Stream<Item = u64> + use<> {
    b.subscribe()
}

#[hmr_track(key = "exact::choice::b")]
fn choice_b(b: &Broadcast<u64>) -> impl Stream<Item = u64> + use<> {
    b.subscribe()
}

#[hmr_track(key = "exact::choice::app")]
fn choice_app(v: u32, b: &Broadcast<u64>, seen: Seen<(u64, u32)>) -> hmr_runtime::Subscription {
    // A choice of tracked inputs, wrapped in `source`: the living source
    // switches to the chosen one (README, "A chain keeps the input …").
    let input: futures::stream::BoxStream<'static, u64> =
        if v.is_multiple_of(2) { choice_a(b).boxed() } else { choice_b(b).boxed() };
    subscribe(source(input).hot_map(|x| x), move |x| seen.lock().unwrap().push((x, v)))
}

#[test]
fn a_choice_of_tracked_inputs_through_source_keeps_the_subscription() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let log = seen();
    let b = broadcast::<u64>(1 << 16);
    let first = module("exact-choice", || choice_app(1, &b, log.clone())).unwrap();
    let (stop, _last, producer) = produce({
        let b = b.clone();
        move |n| {
            let _ = b.send(n);
        }
    });
    for v in 2..=60 {
        let again = module("exact-choice", || choice_app(v, &b, log.clone())).unwrap();
        assert_eq!(again.id(), first.id());
        std::thread::sleep(Duration::from_millis(1));
    }
    let at_end = log.lock().unwrap().len();
    wait_until("items through the last version", || {
        log.lock().unwrap()[at_end..].iter().any(|t| t.1 == 60)
    });
    stop.store(true, SeqCst);
    producer.join().unwrap();
    assert!(first.is_active(), "the subscription went on");
}

static ENDED_MAKES: AtomicU32 = AtomicU32::new(0);

#[hmr_track(key = "exact::ended::input")]
fn ended_input() -> Source<u32> {
    input("feed", || {
        ENDED_MAKES.fetch_add(1, SeqCst);
        futures::stream::iter([1, 2])
    })
}

#[tokio::test]
async fn an_input_whose_stream_ended_is_made_again() {
    let mut first = module("exact-ended-input", ended_input).unwrap();
    assert_eq!(first.next().await, Some(1));
    assert_eq!(first.next().await, Some(2));
    assert_eq!(first.next().await, None);
    // The first handle is alive (the input is not torn down), its feed over.
    let second = module("exact-ended-input", ended_input).unwrap();
    assert_eq!(ENDED_MAKES.load(SeqCst), 2, "the same deps, but the feed had ended: made again");
    drop(first);
    let items = tokio::time::timeout(Duration::from_secs(5), second.collect::<Vec<_>>()).await;
    assert_eq!(items.unwrap(), [1, 2]);
}
