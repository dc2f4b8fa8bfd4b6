//! Rebuilt chains keep their operators' state, and no code goes stale
//! (docs/design.md §5.4, §5.5): when a re-execution rebuilds a chain (an operator added or
//! removed, or plain `StreamExt` code in it), each stateful operator whose
//! own definition (kind, state type, seed) did not change takes its living
//! twin's state, matched by position among the operators of its kind; a
//! `hot_then` item in flight finishes; the plain code runs in its new
//! version from the next item.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use hmr_runtime::{
    Change, Event, HmrStreamExt, Subscription, broadcast, capture_events, channels::Broadcast,
    hmr_track, module, source, subscribe,
};
use hmr_tests::{runtime, wait_until};
use tokio::sync::Notify;

use hmr_tests::changes;

/// A producer on its own thread sending 1, 2, 3, … into `feed` without ever
/// waiting for the consumer (a short sleep every 64 items keeps a broadcast
/// receiver within its buffer). Returns the stop flag, and the thread, which
/// returns the last number sent.
fn produce(feed: Broadcast<u64>) -> (Arc<AtomicBool>, std::thread::JoinHandle<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let producer = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let mut n = 0;
            while !stop.load(SeqCst) {
                n += 1;
                let _ = feed.send(n);
                if n.is_multiple_of(64) {
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
            n
        }
    });
    (stop, producer)
}

/// (count, item, version)
type Seen = Arc<Mutex<Vec<(u64, u64, u32)>>>;

#[hmr_track(key = "rebuild::feed")]
fn feed() -> Broadcast<u64> {
    broadcast(1 << 16)
}

/// Odd versions count the items; even ones add an operator before the
/// count: every reload rebuilds the chain.
#[hmr_track(key = "rebuild::counted")]
fn counted(v: u32, seen: Seen) -> Broadcast<u64> {
    let feed = feed();
    let count = |count: &mut u64, x: u64| {
        *count += 1;
        Some((*count, x))
    };
    let counted: std::pin::Pin<Box<dyn futures::Stream<Item = (u64, u64)> + Send>> = if v % 2 == 1 {
        Box::pin(source(feed.subscribe()).hot_scan(0, count))
    } else {
        Box::pin(source(feed.subscribe()).hot_inspect(|_| ()).hot_scan(0, count))
    };
    subscribe(counted, move |(count, x)| seen.lock().unwrap().push((count, x, v))).detach();
    feed
}

#[test]
fn rebuilt_chains_keep_the_scan_state_under_a_live_producer() {
    const VERSIONS: u32 = 60;
    let runtime = runtime();
    let _entered = runtime.enter();
    let seen: Seen = Arc::default();
    let feed = module("rebuild-live", || counted(1, seen.clone())).unwrap();
    let (stop, producer) = produce(feed);
    wait_until("items flow", || seen.lock().unwrap().len() > 50);
    let mut structural = 0;
    for v in 2..=VERSIONS {
        let (result, events) =
            capture_events(|| module("rebuild-live", || counted(v, seen.clone())));
        result.unwrap();
        structural += changes(&events).iter().filter(|c| **c == Change::Structural).count();
        assert!(
            !events.iter().any(|e| matches!(e, Event::TrackUpdate { plain_code: true, .. })),
            "an added operator is no plain code"
        );
        let at = seen.lock().unwrap().len();
        wait_until("items after the reload", || seen.lock().unwrap().len() > at + 20);
    }
    stop.store(true, SeqCst);
    let last = producer.join().unwrap();
    wait_until("the last item", || seen.lock().unwrap().last().is_some_and(|t| t.1 == last));
    assert!(structural >= usize::try_from(VERSIONS).unwrap() - 1, "every reload rebuilt");

    let seen = seen.lock().unwrap();
    for (i, &(count, x, _)) in seen.iter().enumerate() {
        let n = i as u64 + 1;
        assert_eq!((count, x), (n, n), "item {i}: the count went on through every rebuild");
    }
    let versions: Vec<u32> = seen.iter().map(|t| t.2).collect();
    assert!(versions.windows(2).all(|w| w[0] <= w[1]), "versions never go back");
    assert_eq!(versions.last(), Some(&VERSIONS));
}

/// Item 1's future waits for `gate`; the others go through at once. Version
/// 2 adds an operator in front: a rebuild while item 1 is in flight.
#[hmr_track(key = "rebuild::then")]
fn then(v: u32, feed: &Broadcast<u64>, gate: Arc<Notify>, seen: Seen) -> Subscription {
    let wait = move |x: u64| {
        let gate = gate.clone();
        async move {
            if x == 1 {
                gate.notified().await;
            }
            (x, v)
        }
    };
    let out: std::pin::Pin<Box<dyn futures::Stream<Item = (u64, u32)> + Send>> = if v == 1 {
        Box::pin(source(feed.subscribe()).hot_then(wait))
    } else {
        Box::pin(source(feed.subscribe()).hot_inspect(|_| ()).hot_then(wait))
    };
    subscribe(out, move |(x, started_in)| seen.lock().unwrap().push((x, x, started_in)))
}

#[test]
fn an_item_in_flight_in_hot_then_finishes_across_a_rebuild() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let seen: Seen = Arc::default();
    let feed = broadcast::<u64>(16);
    let gate = Arc::new(Notify::new());
    let _s = module("rebuild-then", || then(1, &feed, gate.clone(), seen.clone())).unwrap();
    feed.send(1).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert!(seen.lock().unwrap().is_empty(), "item 1 waits in v1's future");
    let (result, events) =
        capture_events(|| module("rebuild-then", || then(2, &feed, gate.clone(), seen.clone())));
    let _s2 = result.unwrap();
    assert_eq!(changes(&events), [Change::Structural]);
    std::thread::sleep(Duration::from_millis(20));
    gate.notify_one();
    feed.send(2).unwrap();
    wait_until("both items", || seen.lock().unwrap().len() == 2);
    let seen = seen.lock().unwrap();
    assert_eq!(
        *seen,
        [(1, 1, 1), (2, 2, 2)],
        "item 1 finished in v1's future, item 2 went through v2"
    );
}

/// (count, item, the version of the plain `map` that tagged it)
type Tagged = Arc<Mutex<Vec<(u64, u64, u32)>>>;

/// Plain `StreamExt` code between hot operators: the `map` tags the version,
/// the `filter` drops odd items from version 3 on.
#[hmr_track(key = "rebuild::plain")]
fn plain_chain(v: u32, seen: Tagged) -> Broadcast<u64> {
    use futures::StreamExt;
    let feed = feed();
    let even_only = v >= 3;
    let chain = source(feed.subscribe())
        .hot_map(|x| x)
        .map(move |x| (x, v))
        .filter(move |(x, _)| std::future::ready(!even_only || x % 2 == 0))
        .hot_scan(0u64, |count, (x, tag)| {
            *count += 1;
            Some((*count, x, tag))
        });
    subscribe(chain, move |item| seen.lock().unwrap().push(item)).detach();
    feed
}

#[test]
fn p1_an_edit_of_plain_map_and_filter_applies_from_the_next_item_and_the_total_is_kept() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let seen: Tagged = Arc::default();
    let feed = module("rebuild-plain", || plain_chain(1, seen.clone())).unwrap();
    let (stop, producer) = produce(feed);
    wait_until("items flow", || seen.lock().unwrap().len() > 50);
    for v in 2..=4 {
        let (result, events) =
            capture_events(|| module("rebuild-plain", || plain_chain(v, seen.clone())));
        result.unwrap();
        // The feed is kept (`fn-only`); the chain holds plain code: it is
        // rebuilt, and its update says so.
        assert_eq!(changes(&events), [Change::FnOnly, Change::Structural], "v{v}");
        let plain: Vec<bool> = events
            .iter()
            .filter_map(|e| match e {
                Event::TrackUpdate { plain_code, .. } => Some(*plain_code),
                _ => None,
            })
            .collect();
        assert_eq!(plain, [false, true], "the update says why it rebuilt");
        wait_until("the new code runs", || {
            seen.lock().unwrap().last().is_some_and(|&(_, _, tag)| tag == v)
        });
        let at = seen.lock().unwrap().len();
        wait_until("more items", || seen.lock().unwrap().len() > at + 50);
    }
    stop.store(true, SeqCst);
    producer.join().unwrap();

    let seen = seen.lock().unwrap();
    for (i, &(count, _, _)) in seen.iter().enumerate() {
        assert_eq!(count, i as u64 + 1, "the scan's count went on through every rebuild");
    }
    for pair in seen.windows(2) {
        let ((_, a, va), (_, b, vb)) = (pair[0], pair[1]);
        assert!(vb >= va, "versions never go back: {pair:?}");
        if vb < 3 {
            assert_eq!(b, a + 1, "nothing lost or doubled: {pair:?}");
        } else {
            assert!(b % 2 == 0, "v3's filter drops odd items: {pair:?}");
            assert!(b == a + 1 || b == a + 2, "nothing lost or doubled: {pair:?}");
        }
    }
    assert_eq!(seen.last().unwrap().2, 4);
}

// ---- what is plain code, and what is a chain's input --------------------------

type Items = Arc<Mutex<Vec<u64>>>;

/// Two chains in one scope, each over an iterator (a closure-free input):
/// an unchanged re-execution is `fn-only`, and neither input replays.
#[hmr_track(key = "rebuild::two_chains")]
fn two_chains(first: Items, second: Items) {
    let a = futures::stream::iter(0..3u64).hot_map(|x| x);
    subscribe(a, move |x| first.lock().unwrap().push(x)).detach();
    let b = futures::stream::iter(100..103u64).hot_map(|x| x);
    subscribe(b, move |x| second.lock().unwrap().push(x)).detach();
}

#[test]
fn a_second_chain_over_an_iterator_is_its_input_not_plain_code() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let (first, second): (Items, Items) = Default::default();
    module("rebuild-two", || two_chains(first.clone(), second.clone())).unwrap();
    wait_until("both chains ran", || {
        first.lock().unwrap().len() == 3 && second.lock().unwrap().len() == 3
    });
    let (result, events) =
        capture_events(|| module("rebuild-two", || two_chains(first.clone(), second.clone())));
    result.unwrap();
    assert_eq!(changes(&events), [Change::FnOnly]);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(first.lock().unwrap().len(), 3, "no replay");
    assert_eq!(second.lock().unwrap().len(), 3, "no replay");
}

fn double(x: u64) -> u64 {
    x * 2
}

/// A fn item in a plain adapter between hot operators is plain code too.
#[hmr_track(key = "rebuild::fn_item")]
fn fn_item(feed: &Broadcast<u64>, seen: Items) -> Subscription {
    let chain = source(feed.subscribe()).hot_map(|x| x).map(double).hot_map(|x| x);
    subscribe(chain, move |x| seen.lock().unwrap().push(x))
}

#[test]
fn a_fn_item_between_hot_operators_is_plain_code() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let feed = broadcast::<u64>(16);
    let seen: Items = Arc::default();
    let _s1 = module("rebuild-fn-item", || fn_item(&feed, seen.clone())).unwrap();
    let (result, events) =
        capture_events(|| module("rebuild-fn-item", || fn_item(&feed, seen.clone())));
    let _s2 = result.unwrap();
    assert_eq!(changes(&events), [Change::Structural], "rebuilt, so an edit of `double` applies");
}

/// Version 1's plain code panics once the total reaches 6 (its pipeline is
/// dropped, the scan's total left in its cell); version 2 panics while
/// building (rolled back); version 3 is the fix.
#[hmr_track(key = "rebuild::rolled_back")]
fn rolled_back(v: u32, feed: &Broadcast<u64>, seen: Items) -> Subscription {
    let chain = source(feed.subscribe()).hot_scan(0u64, |total, x| {
        *total += x;
        Some(*total)
    });
    let checked = chain.map(move |total| {
        assert!(v != 1 || total < 6, "a bug in version 1's plain code");
        total
    });
    let subscription = subscribe(checked, move |total| seen.lock().unwrap().push(total));
    assert!(v != 2, "version 2 panics while building");
    subscription
}

#[test]
fn a_rolled_back_version_takes_no_state_the_next_one_takes_it() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let feed = broadcast::<u64>(16);
    let seen: Items = Arc::default();
    let _s1 = module("rebuild-rolled-back", || rolled_back(1, &feed, seen.clone())).unwrap();
    feed.send(1).unwrap();
    feed.send(2).unwrap();
    wait_until("two totals", || seen.lock().unwrap().len() == 2);
    feed.send(3).unwrap(); // total 6: version 1's plain code panics
    std::thread::sleep(Duration::from_millis(50));
    assert!(module("rebuild-rolled-back", || rolled_back(2, &feed, seen.clone())).is_err());
    let _s3 = module("rebuild-rolled-back", || rolled_back(3, &feed, seen.clone())).unwrap();
    feed.send(4).unwrap();
    wait_until("the next total", || seen.lock().unwrap().len() == 3);
    assert_eq!(*seen.lock().unwrap(), [1, 3, 10], "version 3 took version 1's total (6)");
}
