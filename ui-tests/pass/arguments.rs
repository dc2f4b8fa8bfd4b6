//! `key`, `name`, `reset` and `crate = path`.

use hmr_runtime::{Event, capture_events, hmr_track};

mod reexport {
    pub use hmr_runtime::*;
}

use hmr_runtime as renamed;

#[hmr_track(key = "stable-key")]
fn keyed() {}

#[hmr_track(name = "Prices", reset)]
fn named() {}

#[hmr_track(reset = false)]
fn not_reset() {}

#[hmr_track(crate = reexport)]
fn through_reexport() {}

#[hmr_track(crate = renamed, key = "renamed")]
fn through_rename() {}

#[hmr_track(crate = "hmr_runtime")]
fn path_in_string() {}

fn track_call(f: fn()) -> (String, bool) {
    let ((), events) = capture_events(f);
    events
        .into_iter()
        .find_map(|event| match event {
            Event::TrackCall { key, reset, .. } => Some((key.to_string(), reset)),
            _ => None,
        })
        .expect("a track-call")
}

fn main() {
    let here = module_path!();
    assert_eq!(track_call(keyed), ("stable-key".to_owned(), false));
    assert_eq!(track_call(named), (format!("{here}::named"), true));
    assert_eq!(track_call(not_reset), (format!("{here}::not_reset"), false));
    assert_eq!(track_call(through_reexport).0, format!("{here}::through_reexport"));
    assert_eq!(track_call(through_rename).0, "renamed");
    assert_eq!(track_call(path_in_string).0, format!("{here}::path_in_string"));
}
