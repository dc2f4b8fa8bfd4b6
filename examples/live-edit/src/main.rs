//! A ticking stream pipeline to edit while it runs.
//!
//! ```sh
//! cargo install dioxus-cli@0.7.10 --locked
//! cd examples/live-edit && dx serve --hot-patch
//! ```
//!
//! Then edit `price` or the handler below and save: dx builds a patch, the
//! running program loads it, and hmr re-runs the root through the new code.
//! The subscription's task keeps running, the `hot_scan` count and total are
//! kept, and the next tick goes through the new code. Each patch prints what
//! it did (`updated` = closures swapped in place, `rebuilt` = a changed
//! chain). Adding an operator (`.hot_filter(|t| t % 2 == 0)` before
//! `hot_map`) rebuilds the chain of `prices` while the subscription and its
//! total go on; a panic in the new code is reported and the old code keeps
//! running. The ticks come from an `input`: a patch does not restart them
//! (no `make` call while its deps stay the same), so the tick count goes on
//! across every edit.
//!
//! Without dx (`cargo run` here) it just ticks: nothing sends patches.

mod changes;

use std::time::Duration;

use futures::Stream;
use hmr_runtime::{HmrStreamExt, Subscription, add_sink, hmr_track, input, root, subscribe};

/// The root (`root("app", app)`): what every patch re-runs.
fn app() {
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
        println!("tick {count:>4}: price {price:>6}, total {total:>9}");
    })
}

#[hmr_track]
fn prices() -> impl Stream<Item = u64> + Send + 'static {
    // Stays connected across edits: `ticks` is called once, not per patch.
    input((), ticks).hot_map(price)
}

/// Edit me: `tick * 10`, `tick * 100 + 7`, …
fn price(tick: u64) -> u64 {
    tick * 10
}

/// 1, 2, 3, … every second.
fn ticks() -> impl Stream<Item = u64> + Send + 'static {
    futures::stream::unfold(0u64, |tick| async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Some((tick + 1, tick + 1))
    })
}

#[tokio::main]
async fn main() {
    // Connects to `dx serve`'s dev server when there is one (it says where in
    // the environment) and applies the patches it sends.
    dioxus_devtools::connect_subsecond();
    let _changes = add_sink(changes::Changes::default());
    root("app", app).expect("the first version runs");
    std::future::pending::<()>().await;
}
