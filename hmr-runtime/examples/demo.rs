//! A living pipeline, edited five times while it runs.
//!
//! `cargo run -p hmr-runtime --example demo`
//!
//! A ticker feeds a tracked pipeline: `source → hot_map → hot_scan` (a
//! running total) → `subscribe`. Each "edit" runs the module again with the
//! next version of the code, as a reload engine would after a patch:
//! (a) a closure body changes: the total is kept, the next tick goes through
//!     the new closure;
//! (b) the handler changes;
//! (c) an operator is added: the chain is rebuilt (the total restarts), the
//!     subscription's task never stops;
//! (d) a track is removed: it is disposed, its task stopped;
//! (e) a version panics: nothing is committed, the old code keeps running;
//! then a fixed version applies.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use hmr_runtime::{
    Event, HmrStreamExt, Subscription, TrackId, broadcast, capture_events, channels::Broadcast,
    events::Path, hmr_track, module, render_tree, snapshot, source, subscribe,
};
use tokio::sync::mpsc;

/// Which version of the "source code" is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Version {
    Original,
    ClosureEdit,
    HandlerEdit,
    AddedFilter,
    RemovedAudit,
    Broken,
}

/// What the handlers report back, so the demo can wait for each tick.
type Out = mpsc::UnboundedSender<String>;

#[hmr_track(key = "demo::ticker")]
fn ticker() -> Broadcast<u64> {
    // Handed back on every re-execution: the same channel.
    broadcast(64)
}

#[hmr_track(key = "demo::totals")]
fn totals(version: Version, ticks: BoxStream<'static, u64>, out: Out) -> Subscription {
    let price: fn(u64) -> u64 = if version >= Version::ClosureEdit {
        |tick| tick * 100 // (a) was `tick * 10`
    } else {
        |tick| tick * 10
    };
    let priced = if version >= Version::AddedFilter {
        // (c) a new operator: a different shape, so the chain is rebuilt.
        source(ticks).hot_filter(|tick| tick % 2 == 1).hot_map(price).boxed()
    } else {
        source(ticks).hot_map(price).boxed()
    };
    let running = priced.hot_scan(0, |total: &mut u64, price| {
        *total += price;
        Some(*total)
    });
    let handler: Box<dyn FnMut(u64) + Send> = if version >= Version::HandlerEdit {
        Box::new(move |total| drop(out.send(format!("total is now {total} (new handler)"))))
    } else {
        Box::new(move |total| drop(out.send(format!("total = {total}"))))
    };
    subscribe(running, handler)
}

#[hmr_track(key = "demo::audit")]
fn audit(ticks: BoxStream<'static, u64>, out: Out) -> Subscription {
    subscribe(ticks.hot_map(|tick| tick), move |tick| drop(out.send(format!("audit saw {tick}"))))
}

#[hmr_track(key = "demo::app")]
fn app(version: Version, out: &Out) -> (Broadcast<u64>, Vec<Subscription>) {
    let ticks = ticker();
    let mut subscriptions = vec![totals(version, ticks.subscribe(), out.clone())];
    if version < Version::RemovedAudit {
        subscriptions.push(audit(ticks.subscribe(), out.clone()));
    }
    assert!(version != Version::Broken, "a typo in the new version");
    (ticks, subscriptions)
}

/// Runs one version of the code and prints what changed.
fn run(
    label: &str,
    version: Version,
    out: &Out,
    held: &mut Vec<Subscription>,
) -> Option<Broadcast<u64>> {
    println!("\n== {label}");
    let paths: BTreeMap<TrackId, Path> =
        snapshot().tracks().map(|t| (t.id, t.path.clone())).collect();
    let (result, events) = capture_events(|| module("demo", || app(version, out)));
    let store = snapshot();
    let path_of =
        |id: &TrackId| store.track(*id).map(|t| t.path.clone()).or_else(|| paths.get(id).cloned());
    for event in &events {
        match event {
            Event::TrackUpdate { id, version, change, .. } => {
                let path = path_of(id).unwrap_or_default();
                println!("  track-update   {path}  v{version}  {change:?}");
            }
            Event::TrackDispose { id, reason } => {
                let path = path_of(id).unwrap_or_default();
                println!("  track-dispose  {path}  {reason:?}");
            }
            Event::Subscribe { subscription, .. } => {
                println!("  subscribe      {subscription}");
            }
            Event::Unsubscribe { subscription, .. } => {
                println!("  unsubscribe    {subscription}");
            }
            Event::ReloadError { message, .. } => println!("  reload-error   {message}"),
            _ => {}
        }
    }
    let ticks = match result {
        Ok((ticks, subscriptions)) => {
            // Keep the new handles; the old ones may go: they name the same tasks.
            *held = subscriptions;
            Some(ticks)
        }
        Err(e) => {
            println!("  -> {e}");
            println!(
                "  (the events above were rolled back: the store and the graph are as before)"
            );
            None
        }
    };
    println!("  tree:");
    for line in render_tree().lines().filter(|l| l.contains("demo")) {
        println!("    {line}");
    }
    ticks
}

/// Sends ticks and prints what the handlers made of them.
async fn tick(
    ticks: &Broadcast<u64>,
    from: u64,
    to: u64,
    seen: &mut mpsc::UnboundedReceiver<String>,
) {
    for n in from..=to {
        println!("  tick {n}");
        ticks.send(n).expect("subscribed");
        // Each tick reaches the total and, while it exists, the audit.
        while let Ok(Some(line)) =
            tokio::time::timeout(Duration::from_millis(100), seen.recv()).await
        {
            println!("    {line}");
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // With `--features console`, `hmr-console` can watch it (HMR_CONSOLE or
    // 127.0.0.1:6670); the demo does not wait for one.
    #[cfg(feature = "console")]
    let _console = match hmr_runtime::console::serve() {
        Ok(console) => {
            println!("console: hmr-console {}", console.local_addr());
            Some(console)
        }
        Err(e) => {
            println!("console: {e}");
            None
        }
    };
    // The broken version's panic is expected; keep the output readable.
    std::panic::set_hook(Box::new(|info| {
        let message = info.payload().downcast_ref::<&str>().copied().unwrap_or("a panic");
        println!("  (panic in the new code: {message})");
    }));
    let (out, mut seen) = mpsc::unbounded_channel();
    let mut held = Vec::new();

    let steps = [
        ("version 1: first run", Version::Original, 1..=2),
        (
            "version 2 (a): closure `tick * 10` -> `tick * 100`; the total is kept",
            Version::ClosureEdit,
            3..=3,
        ),
        ("version 3 (b): a new handler", Version::HandlerEdit, 4..=4),
        (
            "version 4 (c): a filter of odd ticks added (new shape): the total restarts",
            Version::AddedFilter,
            5..=6,
        ),
        ("version 5 (d): the audit track removed", Version::RemovedAudit, 7..=7),
        ("version 6 (e): panics half-way, nothing committed", Version::Broken, 9..=9),
        ("version 7: fixed (version 6 used up its number)", Version::RemovedAudit, 11..=11),
    ];
    let mut ticks = None;
    for (label, version, range) in steps {
        // A version that failed leaves the living ticker as it was.
        ticks = run(label, version, &out, &mut held).or(ticks);
        let ticks = ticks.as_ref().expect("the first version runs");
        tick(ticks, *range.start(), *range.end(), &mut seen).await;
    }

    println!(
        "\none subscription task ran the whole time: {:?}",
        held.first().map(Subscription::id)
    );
}
