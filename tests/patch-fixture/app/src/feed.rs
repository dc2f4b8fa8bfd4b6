//! The code being edited: ticks → `source` → `hot_map` → `hot_scan` (a count
//! and a running total) → `subscribe`, which prints every item as a JSON line.
//!
//! The `edit-N` features are the edits: they are compiled only into patches
//! (the crate in ../patch), never into the running program.
//!
//! Both fixtures compile this file: here as a module of the program's binary
//! crate (the crate dx 0.7 patches), and in ../../patch-fixture-0-8 as a
//! module of a library crate the binary uses (a workspace library, which dx
//! 0.8 patches).

#[cfg(feature = "closure-root")]
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::Stream;
use hmr_runtime::{HmrStreamExt, Subscription, hmr_track, source, subscribe};

/// Registers the root and runs it. Here, in the edited crate, is where
/// `subsecond::HotFn`'s call of the root is instantiated: the function a
/// patch's jump table maps onto its new build.
///
/// # Errors
/// As `hmr_runtime::root`.
pub fn start() -> Result<(), hmr_runtime::ReloadError> {
    hmr_runtime::root("feed", root())
}

/// The size of the root: one pointer for the closure form.
pub fn root_size() -> usize {
    size_of_val(&root())
}

/// The root handed to `hmr_runtime::root("feed", …)`: the fn item.
#[cfg(not(feature = "closure-root"))]
fn root() -> impl Fn() + Send + Sync + 'static {
    pipeline
}

/// The root handed to `hmr_runtime::root("feed", …)`: a closure capturing one
/// `Arc`, so one pointer in size.
#[cfg(feature = "closure-root")]
fn root() -> impl Fn() + Send + Sync + 'static {
    let name = Arc::new(String::from("feed"));
    move || {
        assert_eq!(name.as_str(), "feed");
        pipeline();
    }
}

fn pipeline() {
    if cfg!(feature = "edit-2") {
        panic!("edit-2: the new code panics before it builds anything");
    }
    totals().detach();
}

#[hmr_track]
fn totals() -> Subscription {
    let running = prices().hot_scan((0u64, 0u64), |(count, total), price| {
        *count += 1;
        *total += price;
        Some((*count, *total, price))
    });
    subscribe(running, |(count, total, price)| {
        println!(
            r#"{{"item":{{"count":{count},"total":{total},"price":{price},"at":{}}}}}"#,
            micros()
        );
    })
}

#[hmr_track]
fn prices() -> impl Stream<Item = u64> + Send + 'static {
    #[cfg(not(feature = "edit-4"))]
    let prices = source(ticks()).hot_map(price);
    // edit-4 adds an operator: another chain, so `prices` is rebuilt.
    #[cfg(feature = "edit-4")]
    let prices = source(ticks()).hot_filter(|tick| tick % 2 == 0).hot_map(price);
    prices
}

/// The edited function: the price of a tick.
#[cfg(not(any(feature = "edit-1", feature = "edit-3", feature = "edit-4")))]
fn price(tick: u64) -> u64 {
    tick
}

#[cfg(feature = "edit-1")]
fn price(tick: u64) -> u64 {
    1_000_000 + tick
}

#[cfg(feature = "edit-3")]
fn price(tick: u64) -> u64 {
    3_000_000 + tick
}

#[cfg(feature = "edit-4")]
fn price(tick: u64) -> u64 {
    4_000_000 + tick
}

/// 1, 2, 3, … every 2 ms.
fn ticks() -> impl Stream<Item = u64> + Send + 'static {
    futures::stream::unfold(0u64, |tick| async move {
        tokio::time::sleep(Duration::from_millis(2)).await;
        Some((tick + 1, tick + 1))
    })
}

/// Microseconds since the epoch: a clock the app and its patches share.
pub fn micros() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros())
}
