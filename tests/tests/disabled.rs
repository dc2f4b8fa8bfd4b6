//! With the `enabled` feature off, the expansion calls
//! `hmr_runtime::__private::disabled`: no scope, no event, same behaviour.
//! (`crate = off` points the expansion at exactly that code, so the off path
//! is tested next to the on path in one build; CI also builds the runtime
//! with `--no-default-features`.)

use hmr_runtime::{capture_events, current_track, hmr_track};

mod off {
    pub(crate) mod __private {
        pub(crate) use hmr_runtime::__private::disabled::*;
    }
}

#[hmr_track(crate = off)]
fn add(a: u32, b: u32) -> u32 {
    assert_eq!(current_track(), None, "no scope is opened");
    a + b
}

#[hmr_track(crate = off)]
async fn later(x: u32) -> u32 {
    std::future::ready(x * 2).await
}

#[hmr_track(crate = off)]
fn make(k: u32) -> impl Fn(u32) -> u32 {
    move |x| x + k
}

#[test]
fn off_emits_nothing_and_behaves_the_same() {
    let (values, events) =
        capture_events(|| (add(1, 2), futures::executor::block_on(later(4)), make(1)(2)));
    assert_eq!(values, (3, 8, 3));
    assert!(events.is_empty(), "{events:#?}");
}

#[test]
fn off_guard_is_zero_sized() {
    assert_eq!(std::mem::size_of::<hmr_runtime::__private::disabled::ScopeGuard>(), 0);
}

#[hmr_track(crate = off)]
fn make_boxed(k: u32) -> Box<dyn Fn(u32) -> u32> {
    Box::new(move |x| x * k)
}

#[test]
fn off_returns_the_functions_own_box() {
    // The box the body built is handed back, not a second box around it: the
    // closure's captured state lives at the box's own address.
    let f = make_boxed(3);
    assert_eq!(f(2), 6);
    assert_eq!(
        std::mem::size_of_val(&*f),
        std::mem::size_of::<u32>(),
        "the user's closure (captures a u32), not a wrapper (captures a box)"
    );
}
