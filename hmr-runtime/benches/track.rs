//! Cost of `#[hmr_track]` next to a plain call, the disabled expansion,
//! `fastrace` and `tracing` (docs/design.md §4.4).
//!
//! One iteration is one call tree: a parent calling a child 64 times, both
//! `#[inline(never)]`, each variant instrumented the same way. Every variant is
//! an argument of the one `call_tree` benchmark, so the rows read as ratios.
//! `async_call_tree` is the same with `async fn`s, each child awaiting a ready
//! future, polled once to completion. `deep_recursion` runs a tracked
//! recursion 1 000 and 8 000 calls deep inside a module and inside a capture:
//! the time per level stays the same.
//!
//! ```text
//! cargo bench -p hmr-runtime --bench track
//! ```

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use divan::Bencher;
use fastrace::collector::{Config, Reporter, SpanContext, SpanRecord};

fn main() {
    divan::main();
}

/// Calls of the child per iteration.
const CHILDREN: u64 = 64;

/// The expansion's `__private` when the `enabled` feature is off, reached
/// through `#[hmr_track(crate = crate::off)]` so the off cost is measured in
/// this binary, next to the on cost.
mod off {
    pub(crate) use hmr_runtime::__private::disabled as __private;
}

/// A parent and a child, identical but for the attribute on both.
macro_rules! call_tree {
    ($name:ident $(, #[$attr:meta])?) => {
        mod $name {
            $(#[$attr])?
            #[inline(never)]
            pub(crate) fn parent() -> u64 {
                let mut sum = 0u64;
                // An opaque count keeps the loop a loop: 64 unrolled call sites
                // make the plain variants' time depend on code alignment.
                for _ in 0..divan::black_box(super::CHILDREN) {
                    sum = sum.wrapping_add(child());
                }
                sum
            }

            $(#[$attr])?
            #[inline(never)]
            fn child() -> u64 {
                divan::black_box(7u64).wrapping_mul(3)
            }
        }
    };
}

call_tree!(plain);
call_tree!(tracked, #[hmr_runtime::hmr_track]);
call_tree!(tracked_off, #[hmr_runtime::hmr_track(crate = crate::off)]);
call_tree!(with_fastrace, #[fastrace::trace]);
call_tree!(with_tracing, #[tracing::instrument]);

/// The async twin of `call_tree!`: the child awaits (a ready future), so a
/// tracked child is a scope's future, not a sync scope.
macro_rules! async_call_tree {
    ($name:ident $(, #[$attr:meta])?) => {
        mod $name {
            $(#[$attr])?
            pub(crate) async fn parent() -> u64 {
                let mut sum = 0u64;
                for _ in 0..divan::black_box(super::CHILDREN) {
                    sum = sum.wrapping_add(child().await);
                }
                sum
            }

            $(#[$attr])?
            async fn child() -> u64 {
                std::future::ready(divan::black_box(7u64)).await.wrapping_mul(3)
            }
        }
    };
}

async_call_tree!(async_plain);
async_call_tree!(async_tracked, #[hmr_runtime::hmr_track]);
async_call_tree!(async_with_fastrace, #[fastrace::trace]);
async_call_tree!(async_with_tracing, #[tracing::instrument]);

/// Polls `future` once: every variant's tree completes in one poll.
fn poll_once<F: std::future::Future<Output = u64>>(future: F) -> u64 {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(sum) => sum,
        std::task::Poll::Pending => unreachable!("every future in the tree is ready"),
    }
}

/// What instruments the call tree.
#[derive(Clone, Copy)]
enum Variant {
    Plain,
    TrackedOff,
    Tracked,
    Fastrace,
    Tracing,
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Variant::Plain => "plain",
            Variant::TrackedOff => "tracked_off",
            Variant::Tracked => "tracked",
            Variant::Fastrace => "fastrace",
            Variant::Tracing => "tracing",
        })
    }
}

/// Child spans the fastrace collector handed over: they were recorded.
static CHILD_SPANS: AtomicUsize = AtomicUsize::new(0);

/// Counts and drops spans, so the benchmark measures recording, not printing.
struct Discard;

impl Reporter for Discard {
    fn report(&mut self, spans: Vec<SpanRecord>) {
        let children = spans.iter().filter(|span| span.name.ends_with("child")).count();
        CHILD_SPANS.fetch_add(children, Ordering::Relaxed);
    }
}

// Samples of one iteration for the slow variants: more of them steady the median.
#[divan::bench(sample_count = 1000, args = [
    Variant::Plain,
    Variant::TrackedOff,
    Variant::Tracked,
    Variant::Fastrace,
    Variant::Tracing,
])]
fn call_tree(bencher: Bencher<'_, '_>, variant: Variant) {
    // Dispatch once, outside the measured loop.
    match variant {
        Variant::Plain => bencher.bench_local(plain::parent),
        Variant::TrackedOff => bencher.bench_local(tracked_off::parent),
        Variant::Tracked => bencher.bench_local(tracked::parent),
        Variant::Fastrace => {
            fastrace::set_reporter(Discard, Config::default());
            bencher.bench_local(|| {
                // A sampled root, so the 65 local spans are really collected.
                let root = fastrace::Span::root("root", SpanContext::random());
                let _parent = root.set_local_parent();
                with_fastrace::parent()
            });
            fastrace::flush();
            assert!(CHILD_SPANS.load(Ordering::Relaxed) > 0, "fastrace recorded no child span");
        }
        Variant::Tracing => {
            // Global, not scoped: the dispatcher's fast path, as in production.
            let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
            assert!(!tracing::info_span!("probe").is_disabled(), "the registry records no span");
            bencher.bench_local(with_tracing::parent);
        }
    }
}

#[divan::bench(sample_count = 1000, args = [
    Variant::Plain,
    Variant::Tracked,
    Variant::Fastrace,
    Variant::Tracing,
])]
fn async_call_tree(bencher: Bencher<'_, '_>, variant: Variant) {
    match variant {
        Variant::Plain => bencher.bench_local(|| poll_once(async_plain::parent())),
        Variant::Tracked => bencher.bench_local(|| poll_once(async_tracked::parent())),
        Variant::TrackedOff => unreachable!("not an argument"),
        Variant::Fastrace => {
            fastrace::set_reporter(Discard, Config::default());
            bencher.bench_local(|| {
                let root = fastrace::Span::root("root", SpanContext::random());
                let _parent = root.set_local_parent();
                poll_once(async_with_fastrace::parent())
            });
            fastrace::flush();
        }
        Variant::Tracing => {
            let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
            bencher.bench_local(|| poll_once(async_with_tracing::parent()));
        }
    }
}

// ---- deep recursion --------------------------------------------------------

/// A tracked recursion `depth` calls deep whose bottom call captures an
/// entity (so the module keeps one track).
#[hmr_runtime::hmr_track(key = "track-bench::descend")]
#[inline(never)]
fn descend(depth: u32) -> u32 {
    if depth == 0 {
        hmr_runtime::capture_entity(hmr_runtime::EntityKind::Factory, "bottom");
        return 0;
    }
    descend(depth - 1) + 1
}

/// Where the recursion runs.
#[derive(Clone, Copy)]
enum Deep {
    /// Inside a module: every open call reaches the store.
    Module(u32),
    /// Inside `capture_events`, outside any module: every event is kept.
    Capture(u32),
}

impl fmt::Display for Deep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Deep::Module(depth) => write!(f, "module_{depth}"),
            Deep::Capture(depth) => write!(f, "capture_{depth}"),
        }
    }
}

// 8× the depth should take about 8× the time (each call carries its path
// as a node shared with its parent's, not as a string of its own).
#[divan::bench(sample_count = 50, args = [
    Deep::Module(1_000),
    Deep::Module(8_000),
    Deep::Capture(1_000),
    Deep::Capture(8_000),
])]
fn deep_recursion(bencher: Bencher<'_, '_>, variant: Deep) {
    match variant {
        Deep::Module(depth) => bencher
            .counter(divan::counter::ItemsCount::new(depth))
            .bench_local(|| hmr_runtime::module("track-bench-deep", || descend(depth)).unwrap()),
        Deep::Capture(depth) => bencher
            .counter(divan::counter::ItemsCount::new(depth))
            .bench_local(|| hmr_runtime::capture_events(|| descend(depth))),
    }
}
