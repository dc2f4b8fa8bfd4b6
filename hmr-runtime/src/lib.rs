//! Hot module replacement for Rust stream code: keep subscriptions alive,
//! swap the code, let the next item flow through the new code.
//!
//! `#[hmr_track]` marks the functions that build stream graphs. Each call
//! opens a *track scope* identified by its structural path (parent path +
//! static key + repeat counter), so running the code again after an edit
//! reaches the same tracks: a re-execution is an update, not a creation.
//!
//! ```
//! use hmr_runtime::{EntityKind, capture_entity, hmr_track, module, render_tree, snapshot};
//!
//! #[hmr_track]
//! fn prices() {
//!     // Entity types call this; here by hand.
//!     capture_entity(EntityKind::Factory, "source");
//! }
//!
//! #[hmr_track]
//! fn app() {
//!     prices();
//!     prices();
//! }
//!
//! module("crate-docs", app).unwrap(); // version 1: two tracks created
//! module("crate-docs", app).unwrap(); // version 2: the same two tracks, updated
//! let store = snapshot();
//! let paths: Vec<_> = store.tracks_ending_with("::prices").map(|t| (t.path.clone(), t.version)).collect();
//! assert_eq!(paths.len(), 2);
//! assert!(paths.iter().all(|(path, version)| path.starts_with("crate-docs/") && *version == 2));
//! println!("{}", render_tree());
//! ```
//!
//! # Living streams
//!
//! The entity types — [`source`], [`input`], the [`HmrStreamExt`] hot
//! operators, [`subscribe`], [`broadcast`], [`watch`], [`channel`] and their
//! receivers, [`spawn`] — record themselves in the scope that builds them. A
//! re-execution that builds the same *shape* again swaps the new closures
//! into the living graph instead of building a second one: the
//! subscription's task keeps running and its state is kept.
//!
//! A module's commit reaches a running task between two items, all at once:
//! each item goes through one version's code from its input to the handler,
//! and inputs handed back by a re-execution (an [`input`], a channel's
//! receiver, a [`channel`]'s senders) lose and double nothing.
//!
//! ```
//! use hmr_runtime::{HmrStreamExt, Subscription, hmr_track, module, source, subscribe};
//! use std::sync::{Arc, Mutex};
//! use tokio::sync::mpsc;
//!
//! type Seen = Arc<Mutex<Vec<u32>>>;
//!
//! #[hmr_track(key = "docs::totals")]
//! fn totals(rx: mpsc::UnboundedReceiver<u32>, factor: u32, seen: Seen) -> Subscription {
//!     let mut rx = rx;
//!     let ticks = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
//!     let running = source(ticks).hot_scan(0, move |total, x| {
//!         *total += x * factor;
//!         Some(*total)
//!     });
//!     subscribe(running, move |total| seen.lock().unwrap().push(total))
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let seen = Seen::default();
//! let wait = |n: usize| {
//!     let seen = seen.clone();
//!     async move {
//!         while seen.lock().unwrap().len() < n {
//!             tokio::task::yield_now().await;
//!         }
//!     }
//! };
//! let (tx, rx) = mpsc::unbounded_channel();
//! let _v1 = module("docs-living", || totals(rx, 1, seen.clone())).unwrap();
//! tx.send(1).unwrap();
//! tx.send(2).unwrap();
//! wait(2).await;
//! // The edited code (`x * 10`) runs again: the same task, the total kept.
//! let (tx, rx) = mpsc::unbounded_channel();
//! let _v2 = module("docs-living", || totals(rx, 10, seen.clone())).unwrap();
//! tx.send(4).unwrap();
//! wait(3).await;
//! assert_eq!(*seen.lock().unwrap(), [1, 3, 43]);
//! # });
//! ```
//!
//! # The pieces
//!
//! The common items are at the root; each group has its module:
//! - [`events`]: what instrumentation emits (`track-call`, `track-call-return`,
//!   entity captures, module calls, updates, disposals), serialisable with
//!   serde, with the ids, [`Path`](events::Path)s and [`Name`](events::Name)s
//!   they share. Watch them with [`capture_events`] or a sink.
//! - [`sinks`]: [`MemoryLog`], [`JsonLines`], `TracingSink`, [`add_sink`].
//! - [`store`]: the events are reduced into the [`Store`](store::Store): read
//!   it with [`snapshot`], [`render_tree`],
//!   [`derive_structural_path`](store::derive_structural_path), and ask
//!   [`current_track`] for the innermost open scope.
//! - [`modules`]: [`module`], [`root`] and [`reload()`] run reload units;
//!   swaps are staged and applied when a module commits. [`keyed`] scopes
//!   identify pipelines by a value.
//! - [`streams`] and [`channels`]: the entity types (see above);
//!   [`capture_entity`] and [`on_dispose`] are the low-level API for entity
//!   types of other crates.
//!
//! # Live editing
//!
//! With feature `subsecond` (or `subsecond-0-8`, see Features), real code
//! edits drive the reloads: run the program under `dx serve --hot-patch`, call
//! `dioxus_devtools::connect_subsecond()` at the start of `main`, and register
//! the code to re-run as roots (`root("app", app)`). Roots are called
//! through `subsecond::HotFn`, so a re-run executes the newest code. After each
//! patch, subsecond calls hmr's handler on the thread that applied it; the
//! handler only posts, and hmr's own thread (`hmr-reload`) re-runs the roots
//! (patches arriving meanwhile coalesce into one more reload). Its
//! `hmr-module-call` events say `reason: patch`; the `track-update` and
//! `track-dispose` events that follow say what was swapped in place
//! (`fn-only`), rebuilt or disposed; `patch_status()` counts patches and
//! reloads and summarises the last one, and with `tracing` a line on target
//! `hmr` does too. A version that panics commits nothing: the old code keeps
//! running until a reload runs fixed code. The README's "Live editing with dx" says what
//! survives an edit, what needs a restart, and what to check when an edit does
//! not apply.
//!
//! # Features
//! - `enabled` (default): record tracked calls. Without it `#[hmr_track]`
//!   functions compile to themselves.
//! - `tracing` (default): the `TracingSink` bridge.
//! - `subsecond`: live editing with `dx serve --hot-patch` (above) of
//!   dioxus-cli 0.7, on subsecond 0.7: `patch_status()`, `PatchStatus`,
//!   `PatchReload`. dx 0.7 patches only the crate that holds `main`.
//! - `subsecond-0-8`: the same on subsecond 0.8.0-alpha.3 (pinned exactly:
//!   an alpha line), for dioxus-cli 0.8, which also patches the workspace's
//!   library crates. Exclusive with `subsecond`: enable the one matching the
//!   dioxus-cli and dioxus-devtools you use.

// With the `enabled` feature off, nothing reaches the recording half
// (`__private` hands out the `disabled` items instead).
#![cfg_attr(not(feature = "enabled"), allow(dead_code, unreachable_pub))]

// One subsecond: two would be two jump tables and two handler lists, and
// dx's patches would reach only the one dioxus-devtools links.
#[cfg(all(feature = "subsecond", feature = "subsecond-0-8"))]
compile_error!(
    "hmr-runtime: features `subsecond` (subsecond 0.7, for dioxus-cli 0.7) and `subsecond-0-8` \
     (subsecond 0.8 alpha, for dioxus-cli 0.8) exclude each other: enable the one that matches \
     your dioxus-cli and dioxus-devtools"
);

/// The README's Rust blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

mod accumulator;
#[cfg(feature = "console")]
pub mod console;
mod entities;
pub mod events;
mod instrument;
mod living;
mod reload;
pub mod store;
mod support;

/// Sinks: where events go besides the store (a log in memory, JSON lines,
/// `tracing`).
pub mod sinks {
    #[cfg(feature = "tracing")]
    pub use crate::events::sink::TracingSink;
    pub use crate::events::sink::{JsonLines, MemoryLog, Sink, SinkGuard, add_sink};
}

/// The living stream types: sources and inputs, the hot operators of
/// [`HmrStreamExt`], subscriptions and tasks, and the
/// low-level capture API for entity types of other crates.
pub mod streams {
    pub use crate::entities::capture::{capture_entity, on_dispose};
    pub use crate::entities::ext::{
        HmrStreamExt, HotFilter, HotFilterMap, HotInspect, HotMap, HotScan, HotThen,
    };
    pub use crate::entities::ops::{
        HotConcurrent, HotDebounce, HotFlatMap, HotTakeWhile, HotThrottle,
    };
    pub use crate::entities::source::{Source, input, source};
    pub use crate::entities::subscribe::{Subscription, spawn, subscribe, subscribe_async};
}

/// Reload units: modules and roots, their re-runs, keyed scopes, and (feature
/// `subsecond`) the status of real code patches.
pub mod modules {
    pub use crate::instrument::keyed::{KeyedAsync, keyed, keyed_async};
    pub use crate::reload::module::{ReloadError, module};
    pub use crate::reload::module_async::module_async;
    #[cfg(any(feature = "subsecond", feature = "subsecond-0-8"))]
    pub use crate::reload::patch::{PatchReload, PatchStatus, patch_status};
    pub use crate::reload::roots::{reload, root, root_async};
}

/// Channels that a re-execution gets back living: the same channel, its
/// receivers still connected.
pub mod channels {
    pub use crate::entities::channels::{
        Broadcast, Receiver, SendError, Sender, TrySendError, Watch, broadcast, channel, watch,
    };
}

// The common items, at the root.
pub use accumulator::stack::current_track;
pub use channels::{broadcast, channel, watch};
pub use events::{Change, EntityKind, Event, TrackId};
/// Tracks every call of a function. See the crate docs.
pub use hmr_macros::hmr_track;
pub use modules::{
    ReloadError, keyed, keyed_async, module, module_async, reload, root, root_async,
};
pub use sinks::{JsonLines, MemoryLog, add_sink};
pub use store::{render_tree, snapshot};
pub use streams::{
    HmrStreamExt, Source, Subscription, capture_entity, input, on_dispose, source, spawn,
    subscribe, subscribe_async,
};

/// Runs `f`, returning what it returned and the events emitted meanwhile on
/// this thread (including by futures polled on it).
///
/// Calls and returns come in pairs for scopes that open and close inside the
/// capture on this thread; a future first polled elsewhere and finished here
/// (or the reverse) shows only the half that happened here.
///
/// ```
/// use hmr_runtime::{capture_events, hmr_track};
///
/// #[hmr_track]
/// fn step() {}
///
/// let ((), events) = capture_events(step);
/// let kinds: Vec<_> = events.iter().map(|e| e.type_name()).collect();
/// assert_eq!(kinds, ["track-call", "track-call-return"]);
/// ```
pub fn capture_events<R>(f: impl FnOnce() -> R) -> (R, Vec<Event>) {
    accumulator::dispatch::capture_events(f)
}

#[doc(hidden)]
pub mod __private {
    //! Used by the `#[hmr_track]` expansion. Not public API.

    pub use ::core;
    pub use ::std;

    pub use crate::events::callsite::{Callsite, type_name_of};

    /// Whether calls are recorded (the `enabled` feature).
    pub const ENABLED: bool = cfg!(feature = "enabled");

    #[cfg(not(feature = "enabled"))]
    pub use self::disabled::{Returned, ReturnedOther, ReturnedSource, ReturnedStream};
    #[cfg(feature = "enabled")]
    pub use crate::entities::source::{Returned, ReturnedOther, ReturnedSource, ReturnedStream};
    #[cfg(not(feature = "enabled"))]
    pub use crate::instrument::disabled::{ScopeGuard, enter, instrument};
    #[cfg(feature = "enabled")]
    pub use crate::instrument::future::{Instrumented, instrument};
    #[cfg(feature = "enabled")]
    pub use crate::instrument::scope::{ScopeGuard, enter};

    /// Exactly what the expansion calls when the `enabled` feature is off;
    /// `#[hmr_track(crate = …)]` pointed at a re-export of this measures the
    /// off cost next to the on cost in one benchmark binary.
    pub mod disabled {
        pub use ::core;
        pub use ::std;

        pub use crate::events::callsite::{Callsite, type_name_of};
        pub use crate::instrument::disabled::{ScopeGuard, enter, instrument};
        // A returned stream passes unchanged: the three traits the expansion
        // imports are one, the pass-through.
        pub use crate::entities::source::{
            Returned, ReturnedOther, ReturnedOther as ReturnedSource,
            ReturnedOther as ReturnedStream,
        };

        /// Calls are not recorded.
        pub const ENABLED: bool = false;
    }
}
