//! `return`, `?` and panics leave the scope through the guard's drop: every
//! track-call gets its track-call-return.

use std::num::ParseIntError;

use hmr_runtime::{events::Outcome, capture_events, hmr_track};

#[hmr_track]
fn parse(text: &str) -> Result<u32, ParseIntError> {
    if text.is_empty() {
        return Ok(0);
    }
    let value: u32 = text.trim().parse()?;
    Ok(value * 2)
}

#[derive(Debug)]
struct Wrapped;

impl From<ParseIntError> for Wrapped {
    fn from(_: ParseIntError) -> Self {
        Wrapped
    }
}

/// `?` converts through `From` as it does without the attribute.
#[hmr_track]
fn convert(text: &str) -> Result<u32, Wrapped> {
    Ok(text.parse::<u32>()?)
}

#[hmr_track]
fn explode() {
    panic!("boom");
}


fn main() {
    let (value, events) = capture_events(|| parse(""));
    assert_eq!((value, hmr_ui_tests::outcomes(&events)), (Ok(0), vec![Outcome::Returned]));
    let (value, events) = capture_events(|| parse("21"));
    assert_eq!((value, hmr_ui_tests::outcomes(&events)), (Ok(42), vec![Outcome::Returned]));
    let (value, events) = capture_events(|| parse("x"));
    assert!(value.is_err());
    assert_eq!(hmr_ui_tests::outcomes(&events), [Outcome::Returned]);
    assert!(convert("x").is_err());

    std::panic::set_hook(Box::new(|_| {}));
    let (result, events) = capture_events(|| std::panic::catch_unwind(explode));
    assert!(result.is_err());
    assert_eq!(hmr_ui_tests::outcomes(&events), [Outcome::Unwound]);
}
