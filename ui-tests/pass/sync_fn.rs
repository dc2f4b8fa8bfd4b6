//! A plain function: each call is one track-call / track-call-return pair
//! with the function's item path as key, and the function still returns
//! what it returned.

use hmr_runtime::{Event, capture_events, hmr_track};

#[hmr_track]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

fn main() {
    let (sum, events) = capture_events(|| add(1, 2));
    assert_eq!(sum, 3);
    let kinds: Vec<_> = events.iter().map(Event::type_name).collect();
    assert_eq!(kinds, ["track-call", "track-call-return"]);
    let Event::TrackCall { key, site, .. } = &events[0] else { panic!("{events:?}") };
    assert_eq!(*key, format!("{}::add", module_path!()));
    assert_eq!((site.line, site.column), (8, 4), "the site is the fn name's position");
}
