//! A sync function returning a boxed `async` block: the scope covers the
//! block, opened at its first poll, as for an `async fn`.

use std::future::Future;
use std::pin::Pin;

use futures::executor::block_on;
use hmr_runtime::{Event, capture_events, hmr_track};

#[hmr_track]
fn later(n: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move { n + 1 })
}

#[hmr_track]
fn later_ref(text: &str) -> Pin<Box<dyn Future<Output = usize> + '_>> {
    let prefix = 1;
    Box::pin(async move { prefix + text.len() })
}

fn track_calls(events: &[Event]) -> usize {
    events.iter().filter(|event| matches!(event, Event::TrackCall { .. })).count()
}

fn main() {
    let (future, events) = capture_events(|| later(1));
    assert_eq!(track_calls(&events), 0, "building the future opens no scope");
    let (value, events) = capture_events(|| block_on(future));
    assert_eq!(value, 2);
    assert_eq!(track_calls(&events), 1);
    assert_eq!(block_on(later_ref("abc")), 4);
}
