//! Per-item scopes (docs/design.md §2.5): a subscription's handler runs inside its
//! track's scope, so a pipeline it builds per item (switchMap-style) is a
//! child of that track, keyed or by repeat, lives as long as that track and
//! is disposed with it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmr_runtime::{
    Event, Subscription, broadcast, capture_events, channels::Broadcast, hmr_track, keyed, module,
    snapshot, source, subscribe,
};
use hmr_tests::{runtime, wait_until};

type Seen = Arc<Mutex<Vec<(u64, u64)>>>;

/// One order's pipeline: the fills of that order.
#[hmr_track(key = "items::order")]
fn order(id: u64, fills: &Broadcast<(u64, u64)>, seen: Seen) -> Subscription {
    let mine = futures::StreamExt::filter(fills.subscribe(), move |(order, _)| {
        std::future::ready(*order == id)
    });
    subscribe(source(mine), move |fill| seen.lock().unwrap().push(fill))
}

/// A desk: a pipeline per order that comes in, keyed by the order's id.
#[hmr_track(key = "items::desk")]
fn desk(orders: &Broadcast<u64>, fills: &Broadcast<(u64, u64)>, seen: &Seen) -> Subscription {
    let (fills, seen) = (fills.clone(), seen.clone());
    subscribe(source(orders.subscribe()), move |id| {
        keyed(id, || order(id, &fills, seen.clone())).detach();
    })
}

#[test]
fn a_pipeline_built_in_a_handler_is_a_child_of_its_track_and_is_disposed_with_it() {
    let runtime = runtime();
    let _entered = runtime.enter();
    let (orders, fills) = (broadcast::<u64>(64), broadcast::<(u64, u64)>(64));
    let seen: Seen = Arc::default();
    let run = || module("items-desk", || desk(&orders, &fills, &seen).detach());
    run().unwrap();
    let desk_id = snapshot().tracks_with_key("items::desk").next().expect("the desk's track").id;
    // (Other tests of this file build order pipelines too: count this desk's.)
    let orders_of = |store: &hmr_runtime::store::Store| {
        let mine = store.tracks_with_key("items::order").filter(|t| t.item_of == Some(desk_id));
        mine.cloned().collect::<Vec<_>>()
    };
    orders.send(1).unwrap();
    orders.send(2).unwrap();
    wait_until("two order pipelines", || orders_of(&snapshot()).len() == 2);
    let built = orders_of(&snapshot());
    let desk_path = snapshot().track(desk_id).unwrap().path.clone();
    for track in &built {
        assert_eq!(track.item_of, Some(desk_id), "made while the desk handled an item");
        assert!(track.path.starts_with(&format!("{desk_path}/[")), "{}", track.path);
    }
    fills.send((1, 10)).unwrap();
    fills.send((2, 20)).unwrap();
    wait_until("both fills", || seen.lock().unwrap().len() == 2);

    // The desk runs again (a reload): the pipelines its items made stay.
    let (result, events) = capture_events(run);
    result.unwrap();
    assert!(
        !events.iter().any(|e| matches!(e, Event::TrackDispose { .. })),
        "nothing disposed: {events:?}"
    );
    assert_eq!(orders_of(&snapshot()).len(), 2);
    // The same order again reaches its living pipeline: no second one.
    orders.send(1).unwrap();
    fills.send((1, 11)).unwrap();
    wait_until("the next fill", || seen.lock().unwrap().len() == 3);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        seen.lock().unwrap().iter().filter(|f| f.1 == 11).count(),
        1,
        "one pipeline per order"
    );

    // A version without the desk: its track is disposed, and with it the
    // pipelines its items made; their subscriptions stop.
    let (result, events) = capture_events(|| module("items-desk", || ()));
    result.unwrap();
    let disposed: Vec<_> = hmr_tests::disposed(&events);
    assert!(disposed.contains(&desk_id));
    for track in &built {
        assert!(disposed.contains(&track.id), "the order pipeline {} goes with it", track.path);
    }
    // With every order's receiver gone already, the send fails: stopped too.
    if fills.send((2, 21)).is_ok() {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!seen.lock().unwrap().contains(&(2, 21)), "its subscription stopped");
}

/// The same desk with an async handler (`subscribe_async`: a `hot_then`
/// in front of the subscription), and one that builds in a `hot_map`.
#[hmr_track(key = "items::async_desk")]
fn async_desk(orders: &Broadcast<u64>, fills: &Broadcast<(u64, u64)>, seen: &Seen) -> Subscription {
    let (fills, seen) = (fills.clone(), seen.clone());
    hmr_runtime::subscribe_async(source(orders.subscribe()), move |id| {
        let (fills, seen) = (fills.clone(), seen.clone());
        async move {
            tokio::task::yield_now().await;
            keyed(id, || order(id, &fills, seen)).detach();
        }
    })
}

#[hmr_track(key = "items::map_desk")]
fn map_desk(orders: &Broadcast<u64>, fills: &Broadcast<(u64, u64)>, seen: &Seen) -> Subscription {
    let (fills, seen) = (fills.clone(), seen.clone());
    let opened = hmr_runtime::HmrStreamExt::hot_map(source(orders.subscribe()), move |id| {
        keyed(id, || order(id, &fills, seen.clone())).detach();
        id
    });
    subscribe(opened, |_| {})
}

#[test]
fn pipelines_built_in_an_async_handler_or_a_hot_closure_belong_to_its_track() {
    let runtime = runtime();
    let _entered = runtime.enter();
    for (name, key) in [("items-async", "items::async_desk"), ("items-map", "items::map_desk")] {
        let (orders, fills) = (broadcast::<u64>(64), broadcast::<(u64, u64)>(64));
        let seen: Seen = Arc::default();
        let run = || {
            module(name, || {
                if key == "items::async_desk" {
                    async_desk(&orders, &fills, &seen).detach();
                } else {
                    map_desk(&orders, &fills, &seen).detach();
                }
            })
        };
        run().unwrap();
        let owner = snapshot().tracks_with_key(key).next().expect("the desk's track").id;
        let mine = |store: &hmr_runtime::store::Store| {
            store
                .tracks_with_key("items::order")
                .filter(|t| t.item_of == Some(owner))
                .map(|t| t.id)
                .collect::<Vec<_>>()
        };
        orders.send(7).unwrap();
        wait_until("the order's pipeline", || mine(&snapshot()).len() == 1);
        fills.send((7, 70)).unwrap();
        wait_until("its fill", || seen.lock().unwrap().contains(&(7, 70)));
        let built = mine(&snapshot());
        let (result, events) = capture_events(|| module(name, || ()));
        result.unwrap();
        let disposed: Vec<_> = hmr_tests::disposed(&events);
        assert!(disposed.contains(&owner) && disposed.contains(&built[0]), "{name}: {disposed:?}");
    }
}
