//! One `fn-only` reload of a module of 1 000 tracks, each building a
//! `source(…).hot_map(…)`, after a few warm-up runs: a fixed workload to
//! profile (`valgrind --tool=callgrind`, `perf`). The benchmark with its
//! baseline is `cargo bench -p hmr-runtime --bench living -- reload`.
//!
//! ```text
//! cargo run -p hmr-tests --release --example reload_cost [tracks] [reloads]
//! ```

use futures::stream;
use hmr_runtime::streams::HotMap;
use hmr_runtime::{HmrStreamExt, Source, hmr_track, module, source};

#[hmr_track(key = "reload-cost::track")]
fn track() -> HotMap<Source<u32>, u32> {
    source(stream::pending::<u32>()).hot_map(|x| x + 1)
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().expect("a number"));
    let tracks = args.next().unwrap_or(1_000);
    let reloads = args.next().unwrap_or(1);
    let body = || (0..tracks).map(|_| track()).collect::<Vec<_>>();
    let _living = module("reload-cost", body).unwrap();
    for _ in 0..3 {
        drop(module("reload-cost", body).unwrap());
    }
    let start = std::time::Instant::now();
    for _ in 0..reloads {
        drop(module("reload-cost", body).unwrap());
    }
    let per_track = start.elapsed() / u32::try_from(tracks * reloads).unwrap();
    println!("{tracks} tracks, {reloads} reloads: {per_track:?} per track");
}
