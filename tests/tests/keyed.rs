//! Keyed tracks (docs/design.md §2.4): `keyed(key, f)` gives the tracked calls inside
//! `f` their identity from the key. One pipeline per symbol, built in a loop,
//! fed by a producer that never pauses: removing the first symbol disposes
//! exactly its tracks, and the other pipelines keep their state.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use hmr_runtime::{
    Change, Event, HmrStreamExt, broadcast, capture_events, channels::Broadcast, hmr_track, keyed,
    module, snapshot, source, subscribe,
};
use hmr_tests::{runtime, wait_until};

/// Per item: the symbol, the `hot_scan` count when it was handled, and the
/// item's sequence number within its symbol (1, 2, 3, …).
type Seen = Arc<Mutex<Vec<(&'static str, u64, u64)>>>;

const SYMBOLS: [&str; 3] = ["AAPL", "MSFT", "GOOG"];

#[hmr_track(key = "keyed::feed")]
fn feed() -> Broadcast<(&'static str, u64)> {
    broadcast(1 << 16)
}

/// One symbol's pipeline: its items, counted by a `hot_scan`. With no item
/// lost or doubled and the count kept, the count equals the sequence number.
#[hmr_track(key = "keyed::pipeline")]
fn pipeline(feed: &Broadcast<(&'static str, u64)>, symbol: &'static str, seen: Seen) {
    let mine =
        feed.subscribe().filter(move |(s, _)| std::future::ready(*s == symbol)).map(|(_, seq)| seq);
    let counted = source(mine).hot_scan(0u64, |count, seq| {
        *count += 1;
        Some((*count, seq))
    });
    subscribe(counted, move |(count, seq)| seen.lock().unwrap().push((symbol, count, seq)))
        .detach();
}

#[hmr_track(key = "keyed::desk")]
fn desk(symbols: &[&'static str], seen: &Seen) -> Broadcast<(&'static str, u64)> {
    let feed = feed();
    for symbol in symbols {
        keyed(symbol, || pipeline(&feed, symbol, seen.clone()));
    }
    feed
}

fn handled(seen: &Seen, symbol: &str) -> usize {
    seen.lock().unwrap().iter().filter(|(s, _, _)| *s == symbol).count()
}

/// A producer feeds every symbol's pipeline while a reload removes
/// `removed`: exactly its pipeline is disposed, the others keep their tracks
/// and their state (each item counted once, by its own pipeline).
fn removing_a_key_disposes_exactly_its_tracks(removed: &'static str, name: &'static str) {
    let kept: Vec<&'static str> = SYMBOLS.iter().copied().filter(|s| *s != removed).collect();
    let runtime = runtime();
    let _entered = runtime.enter();
    let seen: Seen = Arc::default();
    let feed = module(name, || desk(&SYMBOLS, &seen)).unwrap();

    // A producer that never pauses for the reload: round robin over every
    // symbol, each with its own sequence.
    let stop = Arc::new(AtomicBool::new(false));
    let producer = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let mut seqs = BTreeMap::new();
            let mut n = 0u64;
            while !stop.load(SeqCst) {
                let symbol = SYMBOLS[usize::try_from(n % 3).unwrap()];
                let seq = seqs.entry(symbol).or_insert(0);
                *seq += 1;
                let _ = feed.send((symbol, *seq));
                n += 1;
                if n.is_multiple_of(64) {
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
        }
    });
    wait_until("every pipeline handles items", || SYMBOLS.iter().all(|s| handled(&seen, s) > 100));

    let tracks_before = snapshot();
    let path_of = |symbol: &str| format!(r#"{name}/keyed::desk#0/["{symbol}"]/keyed::pipeline#0"#);
    let id_of = |store: &hmr_runtime::store::Store, symbol: &str| {
        store.tracks().find(|t| t.path == path_of(symbol)).map(|t| t.id)
    };
    let ids: BTreeMap<&str, _> =
        SYMBOLS.iter().map(|s| (*s, id_of(&tracks_before, s).expect("a keyed pipeline"))).collect();

    let (result, events) = capture_events(|| module(name, || desk(&kept, &seen)));
    result.unwrap();
    let removed_at_reload = handled(&seen, removed);
    let after: BTreeMap<&str, usize> = SYMBOLS.iter().map(|s| (*s, handled(&seen, s))).collect();
    wait_until("the kept symbols go on", || {
        kept.iter().all(|s| handled(&seen, s) > after[s] + 200)
    });
    stop.store(true, SeqCst);
    producer.join().unwrap();

    // Exactly the removed symbol's pipeline was disposed.
    let disposed: Vec<_> = hmr_tests::disposed(&events);
    // (The keyed scope and `desk` built nothing: the store keeps no record
    // of them, so there is nothing of theirs to dispose.)
    assert_eq!(disposed, [ids[removed]], "exactly {removed}'s pipeline");
    let gone = tracks_before.track(ids[removed]).unwrap();
    let desk_scope = snapshot().track(ids[kept[0]]).unwrap().parent;
    assert!(gone.parent.is_some() && gone.parent != desk_scope, "under its own keyed scope");
    // The others kept their tracks, updated in place.
    let store = snapshot();
    for &symbol in &kept {
        assert_eq!(id_of(&store, symbol), Some(ids[symbol]), "{symbol} keeps its track");
        assert_eq!(store.track(ids[symbol]).unwrap().change, Some(Change::FnOnly));
    }
    assert_eq!(id_of(&store, removed), None);

    // Every item of the kept symbols, before and after the reload, was counted
    // by its own pipeline's kept state: count == sequence, so nothing lost,
    // doubled, reset or handed over from another symbol.
    let seen = seen.lock().unwrap();
    for &symbol in &kept {
        let mine: Vec<_> = seen.iter().filter(|(s, _, _)| *s == symbol).collect();
        assert!(mine.len() > after[symbol] + 200);
        for (i, (_, count, seq)) in mine.iter().enumerate() {
            assert_eq!((count, seq), (&(i as u64 + 1), &(i as u64 + 1)), "{symbol}'s item {i}");
        }
    }
    // The removed symbol's subscription stopped with its track.
    let handled_in_all = seen.iter().filter(|(s, _, _)| *s == removed).count();
    assert!(
        handled_in_all <= removed_at_reload + 1,
        "{removed} handled {handled_in_all} items, {removed_at_reload} at the reload"
    );
}

#[test]
fn p2_removing_the_middle_key_disposes_exactly_its_tracks_and_the_others_keep_their_state() {
    removing_a_key_disposes_exactly_its_tracks("MSFT", "keyed-desk-middle");
}

#[test]
fn removing_the_first_key_disposes_exactly_its_tracks_and_the_others_keep_their_state() {
    removing_a_key_disposes_exactly_its_tracks("AAPL", "keyed-desk-first");
}

#[test]
fn a_repeated_key_is_numbered_and_keys_show_in_paths_and_events() {
    let seen: Seen = Arc::default();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let _entered = runtime.enter();
    let (result, events) =
        capture_events(|| module("keyed-repeat", || desk(&["AAPL", "AAPL"], &seen)));
    result.unwrap();
    let keyed_calls: Vec<(String, String)> = events
        .iter()
        .filter_map(|e| match e {
            Event::TrackCall { key, path, .. } if key.starts_with('[') => {
                Some((key.to_string(), path.to_string()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        keyed_calls,
        [
            (r#"["AAPL"]"#.to_owned(), r#"keyed-repeat/keyed::desk#0/["AAPL"]"#.to_owned()),
            (r#"["AAPL"]"#.to_owned(), r#"keyed-repeat/keyed::desk#0/["AAPL"]#1"#.to_owned()),
        ]
    );
    let pipelines = snapshot().tracks().filter(|t| t.key == "keyed::pipeline").count();
    assert!(pipelines >= 2, "two pipelines under the two scopes");
}

#[hmr_track(key = "keyed::connect")]
async fn connect(symbol: &'static str) {
    tokio::task::yield_now().await;
    hmr_runtime::capture_entity(hmr_runtime::EntityKind::Factory, format!("feed({symbol})"));
}

async fn connect_all(symbols: &[&'static str]) {
    for symbol in symbols {
        hmr_runtime::keyed_async(symbol, connect(symbol)).await;
    }
}

#[test]
fn keyed_async_keys_tracked_async_fns_and_removing_one_disposes_exactly_it() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let run = |symbols: &'static [&'static str]| {
        capture_events(|| {
            runtime.block_on(hmr_runtime::module_async("keyed-async", || connect_all(symbols)))
        })
    };
    let (first, _) = run(&["AAPL", "MSFT", "GOOG"]);
    first.unwrap();
    let store = snapshot();
    let id = |symbol: &str| {
        let path = format!(r#"keyed-async/["{symbol}"]/keyed::connect#0"#);
        store.tracks().find(|t| t.path == path).map(|t| t.id).expect("a keyed async track")
    };
    let (aapl, msft) = (id("AAPL"), id("MSFT"));
    let (second, events) = run(&["MSFT", "GOOG"]);
    second.unwrap();
    let disposed: Vec<_> = hmr_tests::disposed(&events);
    assert_eq!(disposed, [aapl], "exactly AAPL's");
    assert!(snapshot().track(msft).is_some(), "MSFT keeps its track");
}
