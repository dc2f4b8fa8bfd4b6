//! A sync function returning a boxed future: the scope covers building the
//! future, as it would without the attribute.

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
    Box::pin(async move { text.len() })
}

fn main() {
    let (future, events) = capture_events(|| later(1));
    assert_eq!(events.iter().filter(|event| matches!(event, Event::TrackCall { .. })).count(), 1);
    assert_eq!(block_on(future), 2);
    assert_eq!(block_on(later_ref("abc")), 3);
}
