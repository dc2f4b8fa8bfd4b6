//! Helpers shared by the integration tests.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hmr_runtime::{Change, Event, TrackId, events::CallId, events::Outcome};

/// A call as seen in an event log: the `track-call` and how it returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The track.
    pub id: TrackId,
    /// Its static key.
    pub key: String,
    /// Its structural path.
    pub path: String,
    /// The enclosing scope.
    pub parent: Option<TrackId>,
    /// How it ended.
    pub outcome: Outcome,
}

/// Checks that every `track-call` in `events` has exactly one
/// `track-call-return` (paired by their `CallId`, so interleaved async tasks
/// closing out of order pair exactly), and returns the calls in call order.
///
/// # Panics
/// If a call has no return, a return no call, or ids disagree.
#[must_use]
pub fn calls(events: &[Event]) -> Vec<Call> {
    let mut open: BTreeMap<CallId, usize> = BTreeMap::new();
    let mut out: Vec<(Call, bool)> = Vec::new();
    for event in events {
        match event {
            Event::TrackCall { id, call, key, path, parent, .. } => {
                assert!(open.insert(*call, out.len()).is_none(), "{call} called twice");
                let call = Call {
                    id: *id,
                    key: key.to_string(),
                    path: path.to_string(),
                    parent: *parent,
                    outcome: Outcome::Returned,
                };
                out.push((call, false));
            }
            Event::TrackCallReturn { id, call, outcome, .. } => {
                let index = open
                    .remove(call)
                    .unwrap_or_else(|| panic!("a track-call-return without a track-call: {call}"));
                assert_eq!(out[index].0.id, *id, "the return names another track");
                out[index].0.outcome = *outcome;
                out[index].1 = true;
            }
            _ => {}
        }
    }
    let unclosed: Vec<_> = out.iter().filter(|(_, closed)| !closed).map(|(c, _)| c).collect();
    assert!(unclosed.is_empty(), "calls without a return: {unclosed:#?}");
    out.into_iter().map(|(c, _)| c).collect()
}

/// Checks that calls and returns nest like a stack (sync code on one thread).
///
/// # Panics
/// If a return closes anything but the innermost open call.
pub fn assert_nested(events: &[Event]) {
    let mut stack = Vec::new();
    for event in events {
        match event {
            Event::TrackCall { id, .. } => stack.push(*id),
            Event::TrackCallReturn { id, .. } => {
                assert_eq!(stack.pop(), Some(*id), "returns must nest");
            }
            _ => {}
        }
    }
    assert!(stack.is_empty(), "calls without a return: {stack:?}");
}

/// The `type` tags of `events`, in order.
#[must_use]
pub fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(Event::type_name).collect()
}

/// Whether `key` is the static key of a function named `name` (its last path segment).
#[must_use]
pub fn is_fn(key: &str, name: &str) -> bool {
    key.rsplit("::").next() == Some(name)
}

/// The `change` of every `track-update` in `events`, in order.
#[must_use]
pub fn changes(events: &[Event]) -> Vec<Change> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TrackUpdate { change, .. } => Some(*change),
            _ => None,
        })
        .collect()
}

/// The tracks `events` dispose of, in order.
#[must_use]
pub fn disposed(events: &[Event]) -> Vec<TrackId> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TrackDispose { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

/// Waits (polling every millisecond) until `done`, for at most a minute.
///
/// # Panics
/// After a minute, naming `what` it waited for.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A multi-thread tokio runtime (two workers, timers on): the tests' tasks
/// really race.
///
/// # Panics
/// If the runtime cannot be built.
#[must_use]
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap()
}
