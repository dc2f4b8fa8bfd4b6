//! Sync functions that return a boxed `async` block — `#[async_trait]`'s
//! shape and the hand-written `Box::pin(async move { … })` /
//! `async move { … }.boxed()`: the scope covers the block, as for an
//! `async fn`. Its tracked calls are children, and the outcome is the
//! future's.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use futures::FutureExt;
use futures::executor::block_on;
use hmr_runtime::{TrackId, capture_events, current_track, events::Outcome, hmr_track};
use hmr_tests::{Call, is_fn};

#[hmr_track]
fn leaf() -> Option<TrackId> {
    current_track()
}

#[hmr_track]
fn fib(n: u64) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move { if n < 2 { n } else { fib(n - 1).await + fib(n - 2).await } })
}

/// The depth of each call: 0 for a call with no tracked parent.
fn depths(calls: &[Call]) -> Vec<usize> {
    let mut depth_of = std::collections::HashMap::new();
    calls
        .iter()
        .map(|call| {
            let depth = call.parent.map_or(0, |parent| depth_of[&parent] + 1);
            depth_of.insert(call.id, depth);
            depth
        })
        .collect()
}

#[test]
fn recursive_boxed_fib_nests_its_calls() {
    let (value, events) = capture_events(|| block_on(fib(10)));
    assert_eq!(value, 55);
    hmr_tests::assert_nested(&events);
    let calls = hmr_tests::calls(&events);
    // fib(10) makes 177 calls.
    assert_eq!(calls.len(), 177);
    assert!(calls.iter().all(|c| is_fn(&c.key, "fib") && c.outcome == Outcome::Returned));
    let depths = depths(&calls);
    assert_eq!(depths[0], 0, "the first call is the root");
    assert_eq!(depths.iter().filter(|&&d| d == 0).count(), 1, "one root: {depths:?}");
    // fib(10) → fib(9) → … → fib(1): ten levels below the root.
    assert_eq!(depths.iter().max(), Some(&9));
    assert!(calls[1..].iter().all(|c| c.parent.is_some()));
}

#[hmr_track]
fn boxed_parent() -> futures::future::BoxFuture<'static, (Option<TrackId>, Option<TrackId>)> {
    Box::pin(async move {
        let own = current_track();
        (own, leaf())
    })
}

#[hmr_track]
fn boxed_method_form() -> futures::future::BoxFuture<'static, Option<TrackId>> {
    async move { leaf() }.boxed()
}

#[test]
fn calls_in_the_block_are_children_of_its_track() {
    let ((own, leafs_parent), events) = capture_events(|| block_on(boxed_parent()));
    let calls = hmr_tests::calls(&events);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert!(is_fn(&calls[0].key, "boxed_parent"));
    assert_eq!(own, Some(calls[0].id), "the block runs in the function's scope");
    assert_eq!(calls[1].parent, Some(calls[0].id));
    assert_eq!(leafs_parent, Some(calls[1].id));

    let (parent, events) = capture_events(|| block_on(boxed_method_form()));
    let calls = hmr_tests::calls(&events);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert!(is_fn(&calls[0].key, "boxed_method_form"));
    assert_eq!(calls[1].parent, Some(calls[0].id));
    assert_eq!(parent, Some(calls[1].id));
}

#[hmr_track]
fn boxed_pending() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move { futures::future::pending::<()>().await })
}

#[hmr_track]
fn boxed_panics(fail: bool) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move {
        assert!(!fail, "the block panics");
        1
    })
}

#[test]
fn the_outcome_follows_the_future() {
    let ((), events) = capture_events(|| {
        let mut future = boxed_pending();
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(future.as_mut().poll(&mut cx), Poll::Pending);
        assert_eq!(current_track(), None, "the scope is left between polls");
        drop(future);
    });
    let calls = hmr_tests::calls(&events);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].outcome, Outcome::Cancelled);

    let (result, events) = capture_events(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| block_on(boxed_panics(true))))
    });
    assert!(result.is_err());
    let calls = hmr_tests::calls(&events);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].outcome, Outcome::Unwound);

    let ((), events) = capture_events(|| drop(boxed_pending()));
    assert!(events.is_empty(), "a future never polled opens no scope: {events:#?}");
}

#[async_trait]
trait Service {
    async fn call(&self, x: u32) -> (u32, Option<TrackId>);
}

struct Echo;

#[async_trait]
impl Service for Echo {
    #[hmr_track]
    async fn call(&self, x: u32) -> (u32, Option<TrackId>) {
        if x == 0 {
            futures::future::pending::<()>().await;
        }
        (x, leaf())
    }
}

#[test]
fn async_trait_methods_are_scoped_like_async_fns() {
    let ((x, parent), events) = capture_events(|| block_on(Echo.call(3)));
    assert_eq!(x, 3);
    let calls = hmr_tests::calls(&events);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert!(is_fn(&calls[0].key, "call"), "{}", calls[0].key);
    assert_eq!(calls[1].parent, Some(calls[0].id), "the body's calls are the method's children");
    assert_eq!(parent, Some(calls[1].id));

    let ((), events) = capture_events(|| {
        let mut cx = Context::from_waker(Waker::noop());
        let mut future = Echo.call(0);
        assert!(future.as_mut().poll(&mut cx).is_pending());
        drop(future);
    });
    let calls = hmr_tests::calls(&events);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].outcome, Outcome::Cancelled, "dropped while pending");
}

/// An early `return` (or `?`) may hand back another future than the tail:
/// the scope stays around the call, as for any sync function.
#[hmr_track]
fn boxed_with_early_return(early: bool) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    if early {
        return Box::pin(async { 1 });
    }
    Box::pin(async move { 2 })
}

#[test]
fn a_boxed_tail_behind_an_early_return_keeps_the_call_scope() {
    for (early, expected) in [(true, 1), (false, 2)] {
        let (value, events) = capture_events(|| block_on(boxed_with_early_return(early)));
        assert_eq!(value, expected);
        let calls = hmr_tests::calls(&events);
        assert_eq!(calls.len(), 1, "one call either way: {calls:#?}");
        assert!(is_fn(&calls[0].key, "boxed_with_early_return"));
    }
}
