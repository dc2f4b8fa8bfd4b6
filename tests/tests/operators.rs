//! The hot operators people reach for (docs/design.md §5.6, §5.4): each swaps its
//! closure in place on an update (`fn-only`) and keeps its state, also when
//! its chain is rebuilt (an operator added in front: `structural`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use hmr_runtime::{
    Change, Event, HmrStreamExt, Subscription, capture_events, hmr_track, module, source,
    subscribe_async,
};
use tokio::sync::{Notify, mpsc};

fn channel<T: Send + 'static>() -> (mpsc::UnboundedSender<T>, impl Stream<Item = T> + Send + 'static)
{
    let (tx, mut rx) = mpsc::unbounded_channel();
    (tx, futures::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

use hmr_tests::changes;

async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("timed out waiting for an item")
}

async fn is_pending<S: Stream + Unpin>(stream: &mut S) -> bool {
    tokio::time::timeout(Duration::from_millis(30), stream.next()).await.is_err()
}

type Input<T> = std::pin::Pin<Box<dyn Stream<Item = T> + Send>>;

/// Runs a version of module `name` whose code is `build`, returning
/// the stream and the changes the run reported.
fn run<S>(name: &str, build: impl FnOnce() -> S) -> (S, Vec<Change>) {
    let (out, events) = capture_events(|| module(name, build).unwrap());
    (out, changes(&events))
}

// ---- hot_take_while -----------------------------------------------------------

#[hmr_track(key = "ops::take_while")]
fn take_while(input: Input<u32>, limit: u32) -> impl Stream<Item = u32> {
    source(input).hot_take_while(move |x| *x < limit)
}

#[tokio::test]
async fn hot_take_while_swaps_its_predicate() {
    let (tx1, rx1) = channel();
    let (mut held, _) = run("ops-take-while", || take_while(Box::pin(rx1), 100));
    tx1.send(50).unwrap();
    assert_eq!(next(&mut held).await, Some(50));
    let (tx2, rx2) = channel();
    let (_again, changed) = run("ops-take-while", || take_while(Box::pin(rx2), 5));
    assert_eq!(changed, [Change::FnOnly]);
    tx2.send(3).unwrap();
    tx2.send(50).unwrap(); // now past the new limit: the stream ends
    assert_eq!(next(&mut held).await, Some(3));
    assert_eq!(next(&mut held).await, None);
}

// ---- hot_flat_map -------------------------------------------------------------

/// Each item `x` becomes `x`, then (once `gate` is notified) `x * factor`.
fn expand(factor: u32, gate: Arc<Notify>) -> impl FnMut(u32) -> Input<u32> {
    move |x| {
        let gate = gate.clone();
        Box::pin(futures::stream::once(async move { x }).chain(futures::stream::once(async move {
            gate.notified().await;
            x * factor
        })))
    }
}

#[hmr_track(key = "ops::flat_map")]
fn flat_map(input: Input<u32>, factor: u32, gate: Arc<Notify>) -> impl Stream<Item = u32> {
    source(input).hot_flat_map(expand(factor, gate))
}

#[hmr_track(key = "ops::flat_map")]
fn flat_map_front(input: Input<u32>, factor: u32, gate: Arc<Notify>) -> impl Stream<Item = u32> {
    source(input).hot_inspect(|_| ()).hot_flat_map(expand(factor, gate))
}

#[tokio::test]
async fn hot_flat_map_swaps_its_closure_and_a_rebuild_reads_on_the_inner_stream() {
    let gate = Arc::new(Notify::new());
    let (tx1, rx1) = channel();
    let (mut held, _) = run("ops-flat-map", || flat_map(Box::pin(rx1), 10, gate.clone()));
    tx1.send(1).unwrap();
    assert_eq!(next(&mut held).await, Some(1));
    // The inner stream of 1 waits for the gate; a rebuild comes meanwhile.
    let (tx2, rx2) = channel();
    let (_v2, changed) = run("ops-flat-map", || flat_map_front(Box::pin(rx2), 100, gate.clone()));
    assert_eq!(changed, [Change::Structural]);
    gate.notify_one();
    assert_eq!(next(&mut held).await, Some(10), "the living inner stream went on (v1's code)");
    tx2.send(2).unwrap();
    assert_eq!(next(&mut held).await, Some(2));
    gate.notify_one();
    assert_eq!(next(&mut held).await, Some(200), "the next item through the new closure");
    // An update in place swaps the closure.
    let (tx3, rx3) = channel();
    let (_v3, changed) = run("ops-flat-map", || flat_map_front(Box::pin(rx3), 1000, gate.clone()));
    assert_eq!(changed, [Change::FnOnly]);
    tx3.send(3).unwrap();
    assert_eq!(next(&mut held).await, Some(3));
    gate.notify_one();
    assert_eq!(next(&mut held).await, Some(3000));
}

// ---- concurrent async maps -----------------------------------------------------

/// Item 1 waits for `slow`; the others are done at once.
fn work(
    factor: u32,
    slow: Arc<Notify>,
) -> impl FnMut(u32) -> futures::future::BoxFuture<'static, u32> {
    move |x| {
        let slow = slow.clone();
        Box::pin(async move {
            if x == 1 {
                slow.notified().await;
            }
            x * factor
        })
    }
}

// Versions of one track (the same key): the chain, then one with an
// operator added in front.
#[hmr_track(key = "ops::ordered")]
fn ordered(input: Input<u32>, factor: u32, slow: Arc<Notify>) -> impl Stream<Item = u32> {
    source(input).hot_then_concurrent(4, work(factor, slow))
}

#[hmr_track(key = "ops::ordered")]
fn ordered_front(input: Input<u32>, factor: u32, slow: Arc<Notify>) -> impl Stream<Item = u32> {
    source(input).hot_inspect(|_| ()).hot_then_concurrent(4, work(factor, slow))
}

#[tokio::test]
async fn hot_then_concurrent_keeps_order_swaps_its_closure_and_a_rebuild_finishes_what_is_in_flight()
 {
    let slow = Arc::new(Notify::new());
    let (tx1, rx1) = channel();
    let (mut held, _) = run("ops-ordered", || ordered(Box::pin(rx1), 10, slow.clone()));
    tx1.send(1).unwrap();
    tx1.send(2).unwrap();
    assert!(is_pending(&mut held).await, "2 is done but waits for 1: in order");
    // A rebuild while 1 and 2 are in flight: they finish, in order, once.
    let (tx2, rx2) = channel();
    let (_v2, changed) = run("ops-ordered", || ordered_front(Box::pin(rx2), 100, slow.clone()));
    assert_eq!(changed, [Change::Structural]);
    slow.notify_one();
    assert_eq!(next(&mut held).await, Some(10));
    assert_eq!(next(&mut held).await, Some(20));
    tx2.send(3).unwrap();
    assert_eq!(next(&mut held).await, Some(300), "the new closure");
    // An update in place (the same chain again) swaps the closure.
    let (tx3, rx3) = channel();
    let (_v3, changed) = run("ops-ordered", || ordered_front(Box::pin(rx3), 1000, slow.clone()));
    assert_eq!(changed, [Change::FnOnly]);
    tx3.send(4).unwrap();
    assert_eq!(next(&mut held).await, Some(4000));
    assert!(is_pending(&mut held).await, "nothing twice");
}

#[hmr_track(key = "ops::unordered")]
fn unordered(input: Input<u32>, factor: u32, slow: Arc<Notify>) -> impl Stream<Item = u32> {
    source(input).hot_then_unordered(4, work(factor, slow))
}

#[tokio::test]
async fn hot_then_unordered_yields_what_is_done_first_and_swaps_its_closure() {
    let slow = Arc::new(Notify::new());
    let (tx1, rx1) = channel();
    let (mut held, _) = run("ops-unordered", || unordered(Box::pin(rx1), 10, slow.clone()));
    tx1.send(1).unwrap();
    tx1.send(2).unwrap();
    assert_eq!(next(&mut held).await, Some(20), "2 first: 1 still waits");
    let (tx2, rx2) = channel();
    let (_v2, changed) = run("ops-unordered", || unordered(Box::pin(rx2), 100, slow.clone()));
    assert_eq!(changed, [Change::FnOnly]);
    tx2.send(3).unwrap();
    assert_eq!(next(&mut held).await, Some(300));
    slow.notify_one();
    assert_eq!(next(&mut held).await, Some(10), "1 finished with the closure that started it");
}

// ---- tokio-time operators ---------------------------------------------------------

#[hmr_track(key = "ops::debounce")]
fn debounce(input: Input<u32>) -> impl Stream<Item = u32> {
    source(input).hot_debounce(Duration::from_millis(300))
}

#[hmr_track(key = "ops::debounce")]
fn debounce_front(input: Input<u32>) -> impl Stream<Item = u32> {
    source(input).hot_inspect(|_| ()).hot_debounce(Duration::from_millis(300))
}

#[tokio::test]
async fn hot_debounce_yields_the_last_of_a_burst_and_a_rebuild_keeps_the_held_item() {
    let (tx1, rx1) = channel();
    let (mut held, _) = run("ops-debounce", || debounce(Box::pin(rx1)));
    for x in 1..=3 {
        tx1.send(x).unwrap();
    }
    assert_eq!(next(&mut held).await, Some(3), "the last of the burst");
    tx1.send(4).unwrap();
    tx1.send(5).unwrap();
    assert!(is_pending(&mut held).await, "held for the quiet time");
    // Held (5) when the chain is rebuilt: the new operator yields it.
    let (_tx2, rx2) = channel();
    let (_v2, changed) = run("ops-debounce", || debounce_front(Box::pin(rx2)));
    assert_eq!(changed, [Change::Structural]);
    assert_eq!(next(&mut held).await, Some(5));
    assert!(is_pending(&mut held).await, "once");
}

#[hmr_track(key = "ops::throttle")]
fn throttle(input: Input<u32>) -> impl Stream<Item = u32> {
    source(input).hot_throttle(Duration::from_secs(30))
}

#[hmr_track(key = "ops::throttle")]
fn throttle_front(input: Input<u32>) -> impl Stream<Item = u32> {
    source(input).hot_inspect(|_| ()).hot_throttle(Duration::from_secs(30))
}

#[tokio::test]
async fn hot_throttle_drops_within_its_interval_and_a_rebuild_keeps_the_interval() {
    let (tx1, rx1) = channel();
    let (mut held, _) = run("ops-throttle", || throttle(Box::pin(rx1)));
    tx1.send(1).unwrap();
    tx1.send(2).unwrap();
    assert_eq!(next(&mut held).await, Some(1));
    assert!(is_pending(&mut held).await, "2 came within the interval: dropped");
    let (tx2, rx2) = channel();
    let (_v2, changed) = run("ops-throttle", || throttle_front(Box::pin(rx2)));
    assert_eq!(changed, [Change::Structural]);
    tx2.send(3).unwrap();
    assert!(is_pending(&mut held).await, "the rebuilt throttle is still inside the interval");
}

// ---- subscribe_async ---------------------------------------------------------

#[hmr_track(key = "ops::subscribe_async")]
fn handled(input: Input<u32>, tag: &'static str, seen: Arc<Mutex<Vec<String>>>) -> Subscription {
    subscribe_async(source(input), move |x| {
        let seen = seen.clone();
        async move {
            tokio::task::yield_now().await;
            seen.lock().unwrap().push(format!("{tag}{x}"));
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_async_swaps_its_handler_in_the_same_task() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (tx1, rx1) = channel();
    let (s1, _) = run("ops-subscribe-async", || handled(Box::pin(rx1), "a", seen.clone()));
    tx1.send(1).unwrap();
    let wait = |n: usize| {
        let seen = seen.clone();
        async move {
            for _ in 0..2000 {
                if seen.lock().unwrap().len() >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            panic!("timed out");
        }
    };
    wait(1).await;
    let (tx2, rx2) = channel();
    let (s2, events) = capture_events(|| {
        module("ops-subscribe-async", || handled(Box::pin(rx2), "b", seen.clone())).unwrap()
    });
    assert_eq!(changes(&events), [Change::FnOnly]);
    assert!(!events.iter().any(|e| matches!(e, Event::Subscribe { .. })), "the same task");
    assert_eq!(s1.id(), s2.id());
    tx2.send(2).unwrap();
    wait(2).await;
    assert_eq!(*seen.lock().unwrap(), ["a1", "b2"]);
}

#[tokio::test]
async fn the_time_operators_take_any_duration_and_never_hold_the_thread() {
    // `Duration::MAX` means never: no overflow panic.
    let mut never = Box::pin(futures::stream::iter([1u32, 2]).hot_debounce(Duration::MAX));
    assert_eq!(next(&mut never).await, Some(2), "the input ended: the held item goes");
    let mut once = Box::pin(futures::stream::iter([1u32, 2]).hot_throttle(Duration::MAX));
    assert_eq!(next(&mut once).await, Some(1));
    assert_eq!(next(&mut once).await, None, "2 dropped: the interval never ends");
    // An input that is always ready: on this one-thread runtime, other tasks
    // still run while both operators poll it.
    let debounced = tokio::spawn(async {
        let mut s = Box::pin(futures::stream::repeat(1u32).hot_debounce(Duration::from_secs(60)));
        s.next().await
    });
    let throttled = tokio::spawn(async {
        let mut s = Box::pin(futures::stream::repeat(1u32).hot_throttle(Duration::from_secs(60)));
        s.next().await;
        s.next().await
    });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!debounced.is_finished() && !throttled.is_finished());
    debounced.abort();
    throttled.abort();
}
