//! The pipelines of the workspace example, in a library crate: a sensor
//! feed, calibrated, and a running mean of it. Edit this file while `monitor`
//! runs under `dx serve --hot-patch` (dioxus-cli 0.8):
//!
//! - `calibrate`: `raw * 2` → `raw * 3 + 100`: the next reading goes through
//!   the new code, both tracks report `FnOnly`, and the count and sum go on.
//! - add `.hot_filter(|celsius| *celsius < 40)` after `hot_map(calibrate)`
//!   (a threshold inside the calibrated range: `< 160` after the edit above):
//!   `calibrated` is rebuilt (`Structural`), `report` and its count go on.
//! - `panic!("…")` at the start of `app`: the panic is printed with `the new
//!   code panicked, the old code keeps running`, and readings go on through
//!   the old code until the fix is saved.
//!
//! The readings come from an `input`: a patch does not restart the sensor.

use std::time::Duration;

use futures::Stream;
use hmr_runtime::{HmrStreamExt, Subscription, hmr_track, input, subscribe};

/// The root (`root("app", pipes::app)` in `monitor`): what every patch re-runs.
pub fn app() {
    report().detach();
}

#[hmr_track]
fn report() -> Subscription {
    let stats = calibrated().hot_scan((0u64, 0u64), |(count, sum), celsius| {
        *count += 1;
        *sum += celsius;
        Some((*count, celsius, *sum / *count))
    });
    subscribe(stats, |(count, celsius, mean)| {
        println!("reading {count:>4}: {celsius:>4} °C, mean {mean:>4} °C");
    })
}

#[hmr_track]
fn calibrated() -> impl Stream<Item = u64> + Send + 'static {
    // Stays connected across edits: `sensor` is called once, not per patch.
    input((), sensor).hot_map(calibrate)
}

/// Edit me: `raw * 2`, `raw * 3 + 100`, …
fn calibrate(raw: u64) -> u64 {
    raw * 2
}

/// A raw reading every 500 ms: a slow sawtooth, 10 to 29.
fn sensor() -> impl Stream<Item = u64> + Send + 'static {
    futures::stream::unfold(0u64, |n| async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        Some((10 + n % 20, n + 1))
    })
}
