//! Functions returning streams: every way the body returns goes through the
//! runtime's dispatch, which makes a `Send + 'static` stream a stable
//! `Source` (a `pipe-call-return`); the forms whose stream may borrow, or
//! whose declared bounds a `Source` does not meet, compile unchanged.

#![deny(warnings, unused_qualifications, clippy::all, clippy::pedantic)]

use std::pin::Pin;

use futures::executor::block_on_stream;
use futures::stream::{self, BoxStream, LocalBoxStream, Stream, StreamExt};
use hmr_runtime::{Event, capture_events, hmr_track, module};

/// Returned from `match` arms, a `loop`'s `break` and an early `return`, with
/// items first in the body.
#[hmr_track]
fn chosen(k: u32) -> impl Stream<Item = u32> + Send {
    const LIMIT: u32 = 3;
    fn all(k: u32) -> stream::Iter<std::ops::Range<u32>> {
        stream::iter(k..LIMIT)
    }
    if k > LIMIT {
        return stream::iter(0..0);
    }
    let mut n = k;
    let start = loop {
        if n % 2 == 0 {
            break n;
        }
        n += 1;
    };
    match start {
        0 => all(0),
        s => all(s),
    }
}

/// A macro call as the tail; `Unpin` and `'static` bounds.
#[hmr_track]
fn from_macro() -> impl Stream<Item = u32> + Unpin + 'static {
    macro_rules! numbers {
        () => {
            stream::iter(vec![1, 2])
        };
    }
    numbers!()
}

/// `dyn Stream + Send + Unpin`, `where … : 'static` and a const parameter.
#[hmr_track]
#[allow(clippy::unnecessary_box_returns, reason = "the form under test")]
fn repeated<T, const N: usize>(item: T) -> Pin<Box<dyn Stream<Item = T> + Send + Unpin>>
where
    T: Clone + Send + 'static,
{
    Box::pin(stream::iter(vec![item; N]))
}

/// Untouched: a `LocalBoxStream` (not `Send`).
#[hmr_track]
fn local() -> LocalBoxStream<'static, u32> {
    stream::iter([1]).boxed_local()
}

/// Untouched: `+ use<…>` (precise capturing) is not among the bounds a
/// `Source` is known to meet; it also opts a function out.
#[hmr_track]
fn captured() -> impl Stream<Item = u32> + use<> {
    stream::iter([1])
}

/// Untouched: a non-`'static` `BoxStream`.
#[hmr_track]
fn borrowed(items: &[u32]) -> BoxStream<'_, u32> {
    stream::iter(items.iter().copied()).boxed()
}

/// Untouched: the type parameter is not bounded by `'static`.
#[hmr_track]
fn generic<T: Send>(item: T) -> impl Stream<Item = T> {
    stream::iter([item])
}

struct Feed(u32);

impl Feed {
    /// Untouched: a receiver.
    #[hmr_track]
    fn items(&self) -> impl Stream<Item = u32> + '_ {
        stream::iter([self.0])
    }

    /// Wrapped: `+ 'static` declares it cannot borrow.
    #[hmr_track]
    fn owned(&self) -> impl Stream<Item = u32> + 'static {
        stream::iter([self.0])
    }
}

fn stable_streams(events: &[Event]) -> usize {
    events.iter().filter(|event| event.type_name() == "pipe-call-return").count()
}

/// In a module: there, each call of the same function is a track of its
/// own (a repeat), not a re-execution of the previous one.
fn main() {
    let (values, events) = capture_events(|| {
        module("pass-wrapped", || {
            (
                block_on_stream(chosen(0)).collect::<Vec<_>>(),
                block_on_stream(chosen(1)).collect::<Vec<_>>(),
                block_on_stream(chosen(9)).count(),
                block_on_stream(from_macro()).collect::<Vec<_>>(),
                block_on_stream(repeated::<_, 2>('x')).collect::<String>(),
                block_on_stream(Feed(4).owned()).collect::<Vec<_>>(),
            )
        })
    });
    assert_eq!(values, Ok((vec![0, 1, 2], vec![2], 0, vec![1, 2], "xx".to_owned(), vec![4])));
    assert_eq!(stable_streams(&events), 6);

    let items = [5, 6];
    let (values, events) = capture_events(|| {
        module("pass-untouched", || {
            (
                block_on_stream(local()).count(),
                block_on_stream(captured()).count(),
                block_on_stream(borrowed(&items)).collect::<Vec<_>>(),
                block_on_stream(generic('y')).count(),
                block_on_stream(Feed(7).items()).collect::<Vec<_>>(),
            )
        })
    });
    assert_eq!(values, Ok((1, 1, vec![5, 6], 1, vec![7])));
    assert_eq!(stable_streams(&events), 0);
}
