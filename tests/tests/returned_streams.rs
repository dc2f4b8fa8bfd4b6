//! A stream returned by a tracked function becomes a stable handle
//! (docs/design.md §5.6): each accepted form comes back as a `Source` recorded as a `stream`
//! entity of the function's track (a `pipe-call-return` event), and the
//! handle of version 1 keeps receiving after version 2 ran. Forms whose
//! stream could borrow are left as they are. Compiled under the strictest
//! lints, like `forms.rs`.
#![deny(warnings, unused_qualifications, clippy::all, clippy::pedantic)]
#![allow(clippy::needless_pass_by_value, reason = "the forms under test are shaped like this")]

use std::any::type_name_of_val;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use futures::executor::{block_on, block_on_stream};
use futures::stream::{self, BoxStream, Stream, StreamExt};
use hmr_runtime::{
    Change, Event, HmrStreamExt, capture_events, hmr_track, module, snapshot, source,
};

/// How many `pipe-call-return` events (the stable stream's entity) `events` holds.
fn stable_streams(events: &[Event]) -> usize {
    events.iter().filter(|e| e.type_name() == "pipe-call-return").count()
}

/// Runs `f` as version 1, then version 2, of module `name`; returns both
/// values and the events of each run.
fn two_versions<R>(name: &str, f: impl Fn() -> R) -> ((R, Vec<Event>), (R, Vec<Event>)) {
    let v1 = capture_events(|| module(name, &f).unwrap());
    let v2 = capture_events(|| module(name, &f).unwrap());
    (v1, v2)
}

/// The entity name of the one track of function `name` run in module `module`.
fn entity_of(module: &str, name: &str) -> Option<String> {
    let store = snapshot();
    let suffix = format!("::{name}");
    let mut tracks = store
        .tracks_ending_with(&suffix)
        .filter(|t| t.module.as_ref().is_some_and(|m| m.name == module));
    let track = tracks.next()?;
    assert!(tracks.next().is_none(), "one track of {name} in {module}");
    store.entity_name(track.id).map(str::to_owned)
}

/// One poll, without waiting.
fn poll_once<S: Stream>(stream: Pin<&mut S>) -> Poll<Option<S::Item>> {
    stream.poll_next(&mut Context::from_waker(Waker::noop()))
}

/// The checks every wrapped form passes: version 1 and 2 each record the
/// stable stream; the track holds it; version 2 hands back a handle on the
/// same stream that waits while version 1's, the receiver, keeps receiving.
fn assert_stable<S: Stream<Item = u32>>(module_name: &str, name: &str, f: impl Fn() -> S) {
    let ((v1, events1), (v2, events2)) = two_versions(module_name, f);
    assert_eq!(stable_streams(&events1), 1, "{events1:#?}");
    assert_eq!(stable_streams(&events2), 1, "{events2:#?}");
    // A `Source`, or a box around it (the pending check below tells).
    let type_name = type_name_of_val(&v1);
    assert!(type_name.contains("Source") || type_name.contains("Box<dyn"), "{type_name}");
    assert!(entity_of(module_name, name).is_some_and(|e| e.starts_with("stream")));
    let (mut v1, mut v2) = (pin!(v1), pin!(v2));
    assert!(poll_once(v2.as_mut()).is_pending(), "version 1's handle receives");
    assert_eq!(block_on(v1.next()), Some(1));
    assert_eq!(block_on(v1.next()), Some(2));
    assert!(poll_once(v2.as_mut()).is_pending());
}

/// The checks every untouched form passes: no stable stream recorded, the
/// function's own stream returned.
fn assert_untouched<S: Stream>(events: &[Event], value: &S) {
    assert_eq!(stable_streams(events), 0, "{events:#?}");
    assert!(!type_name_of_val(value).contains("Source"), "{}", type_name_of_val(value));
}

// ---- wrapped forms ---------------------------------------------------------

#[hmr_track]
fn plain() -> impl Stream<Item = u32> {
    stream::iter([1, 2, 3])
}

#[test]
fn impl_stream() {
    assert_stable("returned-streams/plain", "plain", plain);
}

#[hmr_track]
fn bounded(n: u32) -> impl Stream<Item = u32> + Send + Unpin + 'static {
    stream::iter(1..=n)
}

fn send_unpin<S: Send + Unpin + 'static>(_: &S) {}

#[test]
fn impl_stream_send_unpin_static() {
    assert_stable("returned-streams/bounded", "bounded", || bounded(3));
    // The stable stream has the declared bounds.
    send_unpin(&bounded(1));
}

#[hmr_track]
fn boxed(n: u32) -> BoxStream<'static, u32> {
    if n == 0 {
        return stream::empty().boxed();
    }
    stream::iter(1..=n).boxed()
}

#[test]
fn box_stream_and_its_early_return() {
    assert_stable("returned-streams/boxed", "boxed", || boxed(3));
    let (empty, events) = capture_events(|| module("returned-streams/boxed-0", || boxed(0)));
    assert_eq!(stable_streams(&events), 1, "the `return` is wrapped too");
    assert_eq!(block_on_stream(empty.unwrap()).count(), 0);
}

#[hmr_track]
fn pinned() -> Pin<Box<dyn Stream<Item = u32> + Send>> {
    Box::pin(stream::iter([1, 2, 3]))
}

#[hmr_track]
fn pinned_static() -> Pin<Box<dyn Stream<Item = u32> + Send + 'static>> {
    Box::pin(stream::iter([1, 2, 3]))
}

#[test]
fn pin_box_dyn_stream() {
    assert_stable("returned-streams/pinned", "pinned", pinned);
    assert_stable("returned-streams/pinned-static", "pinned_static", pinned_static);
}

#[hmr_track]
fn doubled(input: impl Stream<Item = u32> + Send + 'static) -> impl Stream<Item = u32> {
    input.map(|x| x * 2).filter(|x| std::future::ready(*x > 0)).map(|x| x / 2)
}

#[test]
fn impl_trait_argument_bounded_by_static() {
    assert_stable("returned-streams/doubled", "doubled", || doubled(stream::iter([1, 2, 3])));
}

#[hmr_track]
fn cloned<T: Clone + Send + 'static>(items: Vec<T>) -> impl Stream<Item = T> {
    stream::iter(items)
}

#[test]
fn generic_bounded_by_static() {
    assert_stable("returned-streams/cloned", "cloned", || cloned(vec![1, 2, 3]));
}

#[hmr_track]
fn parsed(text: &str) -> impl Stream<Item = u32> + Send + 'static {
    let numbers: Vec<u32> = text.split(',').map(|n| n.parse().unwrap()).collect();
    stream::iter(numbers)
}

#[test]
fn declared_static_with_a_borrowed_argument() {
    assert_stable("returned-streams/parsed", "parsed", || parsed("1,2,3"));
}

#[hmr_track]
#[track_caller]
fn located() -> impl Stream<Item = u32> {
    stream::iter([std::panic::Location::caller().line()])
}

#[test]
fn track_caller_still_reports_the_caller() {
    let ((value, line), events) = capture_events(|| (located(), line!()));
    assert_eq!(stable_streams(&events), 1);
    assert_eq!(block_on_stream(value).collect::<Vec<_>>(), [line]);
}

// ---- values that pass unchanged --------------------------------------------

#[hmr_track]
fn already_stable() -> impl Stream<Item = u32> {
    source(stream::iter([1, 2, 3]))
}

#[test]
fn a_source_passes_as_it_is() {
    let (value, events) =
        capture_events(|| module("returned-streams/source", already_stable).unwrap());
    assert_eq!(stable_streams(&events), 0, "{events:#?}");
    assert!(events.iter().any(|e| e.type_name() == "factory-call-return"));
    assert_eq!(entity_of("returned-streams/source", "already_stable").as_deref(), Some("source"));
    assert_eq!(block_on_stream(value).collect::<Vec<_>>(), [1, 2, 3]);
}

#[hmr_track]
fn shared() -> impl Stream<Item = Rc<u32>> {
    stream::iter([Rc::new(1)])
}

#[test]
fn a_stream_that_is_not_send_passes_unchanged() {
    let (value, events) = capture_events(|| module("returned-streams/rc", shared).unwrap());
    assert_untouched(&events, &value);
    assert_eq!(*block_on_stream(value).next().unwrap(), 1);
}

// ---- forms left alone --------------------------------------------------------

#[hmr_track]
fn generic<T: Clone + Send>(items: Vec<T>) -> impl Stream<Item = T> {
    stream::iter(items)
}

#[hmr_track]
fn lengths(text: &str) -> impl Stream<Item = usize> {
    stream::iter(text.split(' ').map(str::len))
}

#[hmr_track]
#[allow(clippy::elidable_lifetime_names, reason = "the `+ 'a` form under test")]
fn chars<'a>(text: &'a str) -> impl Stream<Item = char> + Send + 'a {
    stream::iter(text.chars())
}

#[hmr_track]
async fn later() -> impl Stream<Item = u32> {
    std::future::ready(stream::iter([1, 2, 3])).await
}

#[hmr_track]
fn synced() -> impl Stream<Item = u32> + Send + Sync {
    stream::iter([1, 2, 3])
}

struct Feed(Vec<u32>);

impl Feed {
    #[hmr_track]
    fn items(&self) -> impl Stream<Item = u32> {
        stream::iter(self.0.clone())
    }
}

#[test]
fn generic_fn_is_untouched() {
    let (value, events) =
        capture_events(|| module("returned-streams/generic", || generic(vec![1, 2])).unwrap());
    assert_untouched(&events, &value);
    assert_eq!(block_on_stream(value).collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn borrowed_argument_is_untouched() {
    let text = String::from("a bb ccc");
    let (value, events) =
        capture_events(|| module("returned-streams/lengths", || lengths(&text)).unwrap());
    assert_untouched(&events, &value);
    assert_eq!(block_on_stream(value).collect::<Vec<_>>(), [1, 2, 3]);
}

#[test]
fn lifetime_bound_is_untouched() {
    let text = String::from("ab");
    let (value, events) =
        capture_events(|| module("returned-streams/chars", || chars(&text)).unwrap());
    assert_untouched(&events, &value);
    assert_eq!(block_on_stream(value).collect::<String>(), "ab");
}

#[test]
fn async_fn_is_untouched() {
    let (value, events) =
        capture_events(|| module("returned-streams/later", || block_on(later())).unwrap());
    assert_untouched(&events, &value);
    assert_eq!(block_on_stream(value).collect::<Vec<_>>(), [1, 2, 3]);
}

#[test]
fn other_bounds_are_untouched() {
    let (value, events) = capture_events(|| module("returned-streams/synced", synced).unwrap());
    assert_untouched(&events, &value);
    let feed = Feed(vec![4]);
    let (value, events) = capture_events(|| module("returned-streams/method", || feed.items()));
    let value = value.unwrap();
    assert_untouched(&events, &value);
    assert_eq!(block_on_stream(value).collect::<Vec<_>>(), [4]);
}

// ---- the `enabled` feature off -------------------------------------------------

/// What the expansion calls with the `enabled` feature off (see `disabled.rs`).
mod off {
    pub(crate) mod __private {
        pub(crate) use hmr_runtime::__private::disabled::*;
    }
}

#[hmr_track(crate = off)]
fn off_plain() -> impl Stream<Item = u32> {
    stream::iter([1, 2, 3])
}

#[hmr_track(crate = off)]
fn off_boxed(n: u32) -> BoxStream<'static, u32> {
    if n == 0 {
        return stream::empty().boxed();
    }
    stream::iter(1..=n).boxed()
}

#[test]
fn off_returns_the_functions_own_stream() {
    let ((plain, boxed), events) = capture_events(|| (off_plain(), off_boxed(2)));
    assert!(events.is_empty(), "{events:#?}");
    assert_untouched(&events, &plain);
    assert_eq!(block_on_stream(plain).collect::<Vec<_>>(), [1, 2, 3]);
    // The box the body built, not a box around a `Source`.
    assert_eq!(size_of_val(&*boxed), size_of::<stream::Iter<std::ops::RangeInclusive<u32>>>());
    assert_eq!(block_on_stream(boxed).collect::<Vec<_>>(), [1, 2]);
}

// ---- across versions ---------------------------------------------------------

#[test]
fn same_code_again_hands_back_a_handle_on_the_same_stream() {
    let name = "returned-streams/same-code";
    let ((v1, _), (v2, events)) = two_versions(name, plain);
    let updates: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::TrackUpdate { change, .. } => Some(*change),
            _ => None,
        })
        .collect();
    assert_eq!(updates, [Change::FnOnly]);
    let mut v2 = pin!(v2);
    let mut v1 = block_on_stream(v1);
    assert_eq!(v1.next(), Some(1));
    assert!(poll_once(v2.as_mut()).is_pending());
    // The receiver is version 1's handle; version 2's takes over once it is gone.
    drop(v1);
    let mut v2 = block_on_stream(v2);
    assert_eq!((v2.next(), v2.next(), v2.next()), (Some(2), Some(3), None));
}

#[hmr_track(key = "returned_streams::edited")]
fn edited_v1() -> impl Stream<Item = u32> {
    stream::iter([1, 2, 3])
}

#[hmr_track(key = "returned_streams::edited")]
fn edited_v2() -> impl Stream<Item = u32> {
    stream::iter([10, 20, 30]).hot_map(|x| x + 1)
}

#[test]
fn an_edit_switches_the_first_handle_to_the_new_stream() {
    let name = "returned-streams/edited";
    let v1 = module(name, edited_v1).unwrap();
    let mut v1 = block_on_stream(v1);
    assert_eq!(v1.next(), Some(1));
    let (v2, events) = capture_events(|| module(name, edited_v2).unwrap());
    assert_eq!(stable_streams(&events), 1);
    // Version 1's handle receives from version 2's pipeline; it never ended.
    assert_eq!(v1.next(), Some(11));
    assert_eq!(v1.next(), Some(21));
    let mut v2 = pin!(v2);
    assert!(poll_once(v2.as_mut()).is_pending());
    let track = snapshot().tracks_with_key("returned_streams::edited").next().unwrap().clone();
    assert_eq!((track.version, track.change), (2, Some(Change::Structural)));
}
