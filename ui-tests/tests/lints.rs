//! Tracked functions of every shape compile under the strictest lints: the
//! expansion adds no warning of its own. rustc checks this file in
//! `cargo test`; CI's `cargo clippy --all-targets -- -D warnings` checks the
//! clippy half. (`unsafe fn` is in `pass/unsafe_extern.rs`: the workspace
//! forbids `unsafe_code`.)

#![deny(warnings, unused_qualifications, clippy::all, clippy::pedantic)]

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use futures::executor::block_on;
use hmr_runtime::{Event, capture_events, hmr_track};

#[hmr_track]
fn sync_fn(x: u32) -> u32 {
    x + 1
}

#[hmr_track]
fn items_first(x: u32) -> u32 {
    const STEP: u32 = 2;
    fn helper(x: u32) -> u32 {
        x * STEP
    }
    helper(x)
}

#[hmr_track]
fn early(text: &str) -> Result<u32, std::num::ParseIntError> {
    if text.is_empty() {
        return Ok(0);
    }
    text.parse()
}

#[hmr_track]
#[track_caller]
#[must_use]
#[inline]
fn attributes() -> u32 {
    #![allow(clippy::let_and_return)]
    let x = std::panic::Location::caller().line();
    x
}

#[hmr_track]
#[allow(clippy::unnecessary_wraps)]
fn generic<T: Clone, const N: usize>(items: &[T; N]) -> Option<T> {
    items.first().cloned()
}

#[hmr_track]
extern "C" fn extern_fn(x: u32) -> u32 {
    x
}

#[hmr_track]
fn never() -> ! {
    panic!("never returns")
}

struct Feed {
    value: u32,
}

impl Feed {
    #[hmr_track]
    fn method(&self) -> u32 {
        self.value
    }

    #[hmr_track]
    fn shared(self: Rc<Self>) -> u32 {
        self.value
    }

    #[hmr_track]
    async fn async_method(&self) -> u32 {
        std::future::ready(self.value).await
    }

    #[hmr_track]
    fn reader(&self) -> impl Fn() -> u32 + '_ {
        || self.value
    }
}

trait Source {
    #[hmr_track]
    fn provided(&self) -> u32 {
        1
    }

    #[hmr_track]
    async fn provided_async(&self) -> u32 {
        2
    }
}

impl Source for Feed {}

#[hmr_track]
async fn async_fn(text: &str) -> Result<u32, std::num::ParseIntError> {
    let value: u32 = std::future::ready(text.parse()).await?;
    Ok(value)
}

/// Never awaits: a sync scope, and `unused_async` fires as without the
/// attribute.
#[hmr_track]
#[allow(clippy::unused_async, reason = "the form under test")]
async fn async_unit() {}

#[hmr_track]
async fn async_impl() -> impl std::fmt::Display {
    std::future::ready(3).await
}

#[hmr_track]
fn literal() -> impl Fn(&str) -> usize {
    |s| s.len()
}

#[hmr_track]
fn wrapped(k: u32) -> impl Fn(u32) -> u32 {
    let scale = move |x| x * k;
    if k == 0 {
        return scale;
    }
    scale
}

#[hmr_track]
fn counter() -> impl FnMut() -> u32 {
    let mut n = 0;
    move || {
        n += 1;
        n
    }
}

#[hmr_track]
fn boxed(n: u32) -> Box<dyn Fn(u32) -> u32 + Send> {
    if n == 0 {
        return Box::new(|x| x);
    }
    Box::new(move |x| x + n)
}

#[hmr_track]
async fn async_closure() -> impl Fn(u32) -> u32 {
    |x| x + 1
}

#[hmr_track]
fn boxed_future(n: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move { n })
}

#[hmr_track(key = "lints::keyed", name = "Keyed", reset)]
fn keyed() {}

#[test]
fn every_shape_runs_and_is_tracked() {
    let ((), events) = capture_events(|| {
        assert_eq!(sync_fn(1), 2);
        assert_eq!(items_first(2), 4);
        assert_eq!(early(""), Ok(0));
        assert!(attributes() > 0);
        assert_eq!(generic(&[1, 2]), Some(1));
        assert_eq!(extern_fn(6), 6);
        let feed = Feed { value: 7 };
        assert_eq!(feed.method(), 7);
        assert_eq!(feed.reader()(), 7);
        assert_eq!(feed.provided(), 1);
        assert_eq!(block_on(feed.async_method()), 7);
        assert_eq!(block_on(feed.provided_async()), 2);
        assert_eq!(Rc::new(feed).shared(), 7);
        assert_eq!(block_on(async_fn("8")), Ok(8));
        block_on(async_unit());
        assert_eq!(block_on(async_impl()).to_string(), "3");
        assert_eq!(literal()("abc"), 3);
        assert_eq!(wrapped(2)(3), 6);
        assert_eq!(counter()(), 1);
        assert_eq!(boxed(1)(1), 2);
        assert_eq!(block_on(async_closure())(1), 2);
        assert_eq!(block_on(boxed_future(9)), 9);
        keyed();
    });
    let calls = events.iter().filter(|event| matches!(event, Event::TrackCall { .. })).count();
    // One per call above, plus one per call of a returned closure.
    assert_eq!(calls, 28);
    assert!(std::panic::catch_unwind(|| never()).is_err());
}
