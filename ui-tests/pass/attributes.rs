//! The function's own attributes keep working: `#[track_caller]`, doc
//! comments, `#[must_use]`, `#[inline]`, `#[deprecated]`, `#[cfg_attr]`, inner
//! attributes, and items at the top of the body.

use std::panic::Location;

use hmr_runtime::{capture_events, hmr_track};

/// Doc comments stay on the function.
#[hmr_track]
#[track_caller]
fn caller() -> &'static Location<'static> {
    Location::caller()
}

#[hmr_track]
#[must_use]
#[inline]
fn answer() -> u32 {
    42
}

#[hmr_track]
#[deprecated = "use `answer`"]
#[inline(always)]
fn old_answer() -> u32 {
    41
}

#[hmr_track]
#[cfg_attr(all(), must_use)]
#[cfg_attr(any(), deprecated)]
fn configured() -> u32 {
    #![allow(clippy::let_and_return)]
    let value = 7;
    value
}

#[hmr_track]
fn with_items() -> u32 {
    const BASE: u32 = 10;
    fn helper(x: u32) -> u32 {
        x + BASE
    }
    #[cfg(any())]
    compile_error!("cfg'd out statements stay cfg'd out");
    helper(1)
}


fn main() {
    let (location, events) = capture_events(|| caller());
    assert_eq!(location.line(), line!() - 1, "track_caller reports the caller");
    assert_eq!(hmr_ui_tests::call_count(&events), 1);
    let (value, events) = capture_events(answer);
    assert_eq!((value, hmr_ui_tests::call_count(&events)), (42, 1));
    #[allow(deprecated)]
    let old = old_answer();
    assert_eq!(old, 41);
    assert_eq!(configured(), 7);
    let (value, events) = capture_events(with_items);
    assert_eq!((value, hmr_ui_tests::call_count(&events)), (11, 1));
}
