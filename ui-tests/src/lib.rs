//! Compile tests of `#[hmr_track]`, and the helpers their `pass/` programs
//! share to read the events they recorded.
//!
//! - `tests/ui.rs`: trybuild runs `fail/*.rs` (each must fail with the error in
//!   its `.stderr`) and `pass/*.rs` (each must compile and run).
//! - `tests/expand.rs`: macrotest compares `expand/*.rs` with the checked-in
//!   `*.expanded.rs`.

use hmr_runtime::{Event, events::Outcome};

/// The static keys of the `track-call`s in `events`, in order.
#[must_use]
pub fn called_keys(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::TrackCall { key, .. } => Some(key.to_string()),
            _ => None,
        })
        .collect()
}

/// How many `track-call`s `events` holds.
#[must_use]
pub fn call_count(events: &[Event]) -> usize {
    events.iter().filter(|event| matches!(event, Event::TrackCall { .. })).count()
}

/// The outcomes of the `track-call-return`s in `events`, in order.
#[must_use]
pub fn outcomes(events: &[Event]) -> Vec<Outcome> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::TrackCallReturn { outcome, .. } => Some(*outcome),
            _ => None,
        })
        .collect()
}
