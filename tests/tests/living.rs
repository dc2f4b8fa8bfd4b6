//! Living streams across a reload (SCENARIOS.md S1–S6, C1, C2, and the
//! living-entity halves of T1, T3, T5, T6, V1–V4, M1–M3).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use hmr_runtime::{
    Change, Event, HmrStreamExt, Subscription, capture_events, hmr_track, module, snapshot, source,
    subscribe,
};
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

fn changes(events: &[Event]) -> Vec<Change> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TrackUpdate { change, .. } => Some(*change),
            _ => None,
        })
        .collect()
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
