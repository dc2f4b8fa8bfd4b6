//! What the per-item benchmarks share: draining a living, endless stream by
//! hand.

use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use divan::counter::ItemsCount;
use divan::{Bencher, black_box};
use futures::stream::Stream;

/// Items polled per `pipeline` / `source` iteration: enough that the cost
/// per item dominates the call into the benchmark.
pub(crate) const ITEMS: u64 = 10_000;

/// Polls `n` items out of an endless stream; each goes through `black_box`
/// so that no variant's loop folds into a closed form.
pub(crate) fn drain<S: Stream<Item = u64>>(mut stream: Pin<&mut S>, n: u64) -> u64 {
    let mut cx = Context::from_waker(Waker::noop());
    let mut last = 0;
    for _ in 0..n {
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(item)) => last = black_box(item),
            _ => unreachable!("the benchmarked streams are endless and always ready"),
        }
    }
    last
}

/// Benchmarks draining [`ITEMS`] items of `stream` per iteration; the
/// stream lives across iterations, like a running pipeline. Every variant
/// is pinned on the stack, so none pays an extra indirection.
pub(crate) fn bench_items<S: Stream<Item = u64>>(
    bencher: Bencher<'_, '_>,
    mut stream: Pin<&mut S>,
) {
    // The first poll takes the hot closures out of their slots.
    drain(stream.as_mut(), 1);
    bencher
        .counter(ItemsCount::new(ITEMS))
        .bench_local(|| drain(stream.as_mut(), black_box(ITEMS)));
}
