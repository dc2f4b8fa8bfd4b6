//! Cost of living entities next to plain streams (docs/design.md §7.8): a hot
//! pipeline and a `source` per item, and a `fn-only` reload per track.
//!
//! Each benchmark takes its variants as arguments, so the rows of one run
//! read as differences against the baseline row:
//! - `pipeline`: `hot_map` + `hot_scan` against plain `map` + a stateful
//!   `map` (the strict baseline: sync closures the compiler inlines) and
//!   against `map` + `StreamExt::scan` (the same semantics, future-based);
//!   `hot_swapped` is the hot chain after a `fn-only` swap reached it.
//! - `source`: `source(inner)` against the bare inner stream and the inner
//!   stream boxed as `Pin<Box<dyn Stream>>` (what a source holds).
//! - `reload`: re-executing a module of 10 000 tracks that each build a
//!   source and a hot operator, against a plain loop building the same.
//!
//! One `pipeline` / `source` iteration polls a living, endless stream for
//! [`support::ITEMS`] items with a no-op waker; divan's time per iteration divided by
//! [`support::ITEMS`] is the cost per item. One `reload` iteration is one module
//! execution, [`TRACKS`] tracks.
//!
//! ```text
//! cargo bench -p hmr-runtime --bench living
//! ```

use std::fmt;
use std::pin::{Pin, pin};

use divan::Bencher;
use divan::counter::ItemsCount;
use futures::stream::{self, Stream, StreamExt};
use hmr_runtime::{
    Change, Event, HmrStreamExt, Source, capture_events, hmr_track, module, source, streams::HotMap,
};

mod support;

use support::{bench_items, drain};

fn main() {
    divan::main();
}

/// Tracks per module execution in `reload`.
const TRACKS: usize = 10_000;

/// A value returned from a tracked function as is: a returned *stream*
/// would be wrapped in a stable `Source`, one more layer than the plain
/// variants have.
struct Built<S>(S);

// ---- ops: the newer hot operators against their plain twins ------------------

/// An operator, plain (`StreamExt`) or hot.
#[derive(Clone, Copy)]
enum Op {
    TakeWhilePlain,
    TakeWhileHot,
    FlatMapPlain,
    FlatMapHot,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::TakeWhilePlain => "take_while",
            Op::TakeWhileHot => "hot_take_while",
            Op::FlatMapPlain => "flat_map",
            Op::FlatMapHot => "hot_flat_map",
        })
    }
}

/// Per item out of an endless `iter`: `take_while` always true, and
/// `flat_map` to two items (`x`, `x + 1`; the cost is per item out).
#[divan::bench(args = [Op::TakeWhilePlain, Op::TakeWhileHot, Op::FlatMapPlain, Op::FlatMapHot])]
fn ops(bencher: Bencher<'_, '_>, variant: Op) {
    let input = || stream::iter(0u64..);
    let pair = |x: u64| stream::iter([x, x + 1]);
    match variant {
        Op::TakeWhilePlain => {
            bench_items(
                bencher,
                pin!(input().take_while(|x| futures::future::ready(*x < u64::MAX))),
            );
        }
        Op::TakeWhileHot => bench_items(bencher, pin!(input().hot_take_while(|x| *x < u64::MAX))),
        Op::FlatMapPlain => bench_items(bencher, pin!(input().flat_map(pair))),
        Op::FlatMapHot => bench_items(bencher, pin!(input().hot_flat_map(pair))),
    }
}

// ---- pipeline --------------------------------------------------------------

/// `x * 3`, then a running sum, with hot operators.
fn hot_chain() -> impl Stream<Item = u64> + Send + 'static {
    stream::iter(0u64..).hot_map(|x| x.wrapping_mul(3)).hot_scan(0u64, |acc, x| {
        *acc = acc.wrapping_add(x);
        Some(*acc)
    })
}

/// [`hot_chain`] in a track, so that a re-execution swaps its closures.
#[hmr_track(key = "living-bench::pipeline")]
fn tracked_chain() -> Built<impl Stream<Item = u64> + Send + 'static> {
    Built(hot_chain())
}

/// What the pipeline is built of.
#[derive(Clone, Copy)]
enum Pipeline {
    /// `map` + a `map` with a captured accumulator.
    Plain,
    /// `map` + `StreamExt::scan` with `future::ready`.
    FuturesScan,
    /// `hot_map` + `hot_scan`, built outside any module.
    Hot,
    /// `hot_map` + `hot_scan` in a track whose module was re-executed once
    /// (`fn-only`): the living chain runs the swapped-in closures.
    HotSwapped,
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Pipeline::Plain => "plain_map_map",
            Pipeline::FuturesScan => "futures_map_scan",
            Pipeline::Hot => "hot",
            Pipeline::HotSwapped => "hot_swapped",
        })
    }
}

#[divan::bench(args = [Pipeline::Plain, Pipeline::FuturesScan, Pipeline::Hot, Pipeline::HotSwapped])]
fn pipeline(bencher: Bencher<'_, '_>, variant: Pipeline) {
    match variant {
        Pipeline::Plain => {
            let mut acc = 0u64;
            let chain = stream::iter(0u64..).map(|x| x.wrapping_mul(3)).map(move |x| {
                acc = acc.wrapping_add(x);
                acc
            });
            bench_items(bencher, pin!(chain));
        }
        Pipeline::FuturesScan => {
            let chain = stream::iter(0u64..).map(|x| x.wrapping_mul(3)).scan(0u64, |acc, x| {
                *acc = acc.wrapping_add(x);
                futures::future::ready(Some(*acc))
            });
            bench_items(bencher, pin!(chain));
        }
        Pipeline::Hot => bench_items(bencher, pin!(hot_chain())),
        Pipeline::HotSwapped => {
            let Built(living) = module("living-bench-pipeline", tracked_chain).unwrap();
            let mut living = pin!(living);
            drain(living.as_mut(), 1);
            let (built, events) =
                capture_events(|| module("living-bench-pipeline", tracked_chain).unwrap());
            assert_eq!(changes(&events), [Change::FnOnly], "the re-execution is fn-only");
            // Its closures went to the living chain: it is spent.
            let mut spent = Box::pin(built.0);
            assert!(futures::executor::block_on(spent.next()).is_none(), "no swap happened");
            bench_items(bencher, living);
        }
    }
}

// ---- source ----------------------------------------------------------------

/// What the items come through.
#[derive(Clone, Copy)]
enum Wrapper {
    /// The inner stream itself.
    Bare,
    /// The inner stream as `Pin<Box<dyn Stream + Send>>`, as a source holds it.
    Boxed,
    /// `source(inner)`.
    Source,
}

impl fmt::Display for Wrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Wrapper::Bare => "bare",
            Wrapper::Boxed => "boxed_dyn",
            Wrapper::Source => "source",
        })
    }
}

#[divan::bench(name = "source", args = [Wrapper::Bare, Wrapper::Boxed, Wrapper::Source])]
fn source_items(bencher: Bencher<'_, '_>, variant: Wrapper) {
    let inner = stream::iter(0u64..);
    match variant {
        Wrapper::Bare => bench_items(bencher, pin!(inner)),
        Wrapper::Boxed => {
            let boxed: Pin<Box<dyn Stream<Item = u64> + Send>> = Box::pin(inner);
            bench_items(bencher, pin!(boxed));
        }
        Wrapper::Source => bench_items(bencher, pin!(source(inner))),
    }
}

// ---- reload ----------------------------------------------------------------

/// What one track builds: a source that never yields and a hot operator.
type Entities = Built<HotMap<Source<u32>, u32>>;

fn entities() -> Entities {
    Built(source(stream::pending::<u32>()).hot_map(|x| x + 1))
}

#[hmr_track(key = "living-bench::track")]
fn track() -> Entities {
    entities()
}

/// The module body: [`TRACKS`] calls of the tracked [`track`].
fn tracks() -> Vec<Entities> {
    (0..TRACKS).map(|_| track()).collect()
}

/// How the entities are built.
#[derive(Clone, Copy)]
enum Reload {
    /// A plain loop calls the untracked [`entities`].
    Plain,
    /// A `fn-only` re-execution of the module of [`TRACKS`] tracks.
    Tracked,
}

impl fmt::Display for Reload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reload::Plain => "plain_loop",
            Reload::Tracked => "tracked_fn_only",
        })
    }
}

/// Executions of the module before the measured ones: the store keeps a
/// few previous entities per track, so its size settles after some.
const WARM_UP: usize = 10;

// One iteration is 10 000 tracks; 30 samples keep the run short.
#[divan::bench(sample_count = 30, sample_size = 1, args = [Reload::Plain, Reload::Tracked])]
fn reload(bencher: Bencher<'_, '_>, variant: Reload) {
    // Both variants return what they built; divan drops it after the timing.
    match variant {
        Reload::Plain => {
            bencher
                .counter(ItemsCount::new(TRACKS))
                .bench_local(|| (0..TRACKS).map(|_| entities()).collect::<Vec<_>>());
        }
        Reload::Tracked => {
            // The first version's entities are the living ones: kept running.
            let _living = module("living-bench-reload", tracks).unwrap();
            let (warm, events) = capture_events(|| module("living-bench-reload", tracks).unwrap());
            let updates = changes(&events);
            assert_eq!(updates.len(), TRACKS, "every track is updated");
            assert!(updates.iter().all(|c| *c == Change::FnOnly), "every update is fn-only");
            drop(warm);
            for _ in 0..WARM_UP {
                drop(module("living-bench-reload", tracks).unwrap());
            }
            bencher
                .counter(ItemsCount::new(TRACKS))
                .bench_local(|| module("living-bench-reload", tracks).unwrap());
        }
    }
}

/// The changes of the `track-update`s among `events`.
fn changes(events: &[Event]) -> Vec<Change> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TrackUpdate { change, .. } => Some(*change),
            _ => None,
        })
        .collect()
}
