//! Sinks: where events go besides the store.

use std::cell::Cell;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use arc_swap::ArcSwap;

use super::Event;
use super::listeners::{LISTENERS, install_listener};

/// Receives every event emitted while it is installed (see [`add_sink`]).
///
/// `record` runs on the thread that emitted the event, outside the store's
/// lock; keep it short. Events caused by a sink itself (it called tracked
/// code) are not passed to sinks, and a panic in `record` is caught and loses
/// only that event.
pub trait Sink: Send + Sync + 'static {
    /// One event.
    fn record(&self, event: &Event);
}

type Sinks = Vec<(u64, Arc<dyn Sink>)>;
static SINKS: LazyLock<ArcSwap<Sinks>> = LazyLock::new(|| ArcSwap::from_pointee(Vec::new()));

/// Installs `sink` until the returned guard is dropped.
///
/// A sink sees a scope's `track-call-return` exactly when it saw its
/// `track-call` (scopes already open when it is installed stay silent to
/// it). A scope still open when the sink is removed returns after it is gone,
/// and events being published on other threads at that moment may still reach
/// it just after the guard is dropped.
///
/// ```
/// let log = hmr_runtime::MemoryLog::new();
/// let _installed = hmr_runtime::add_sink(log.clone());
/// hmr_runtime::module("docs", || {}).unwrap();
/// assert_eq!(log.events()[0].type_name(), "hmr-module-call");
/// ```
pub fn add_sink(sink: impl Sink) -> SinkGuard {
    let sink: Arc<dyn Sink> = Arc::new(sink);
    let id = install_listener(|id| {
        SINKS.rcu(|sinks| {
            let mut sinks = Sinks::clone(sinks);
            sinks.push((id, sink.clone()));
            sinks
        });
    });
    SinkGuard { id }
}

/// Removes its sink when dropped.
#[derive(Debug)]
#[must_use = "the sink is removed when the guard is dropped"]
pub struct SinkGuard {
    id: u64,
}

impl Drop for SinkGuard {
    fn drop(&mut self) {
        SINKS
            .rcu(|sinks| sinks.iter().filter(|(id, _)| *id != self.id).cloned().collect::<Sinks>());
        LISTENERS.fetch_sub(1, Ordering::Relaxed);
    }
}

thread_local! {
    /// Set while this thread runs a sink: events a sink causes (it called
    /// tracked code) are not fed back to the sinks, which would never end.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

pub(crate) fn publish_to_sinks(event: &Event, horizon: u64) {
    let sinks = SINKS.load();
    if sinks.is_empty() || IN_SINK.with(Cell::get) {
        return;
    }
    IN_SINK.with(|f| f.set(true));
    for (_, sink) in sinks.iter().filter(|(id, _)| *id <= horizon) {
        // A panicking sink loses this event, not the program: events are
        // also emitted from drop guards during unwinding, where a second
        // panic would abort.
        let _ = catch_unwind(AssertUnwindSafe(|| sink.record(event)));
    }
    IN_SINK.with(|f| f.set(false));
}

/// An in-memory event log. Clones share the same log.
#[derive(Clone, Debug, Default)]
pub struct MemoryLog {
    events: Arc<Mutex<Vec<Event>>>,
}

impl MemoryLog {
    /// An empty log.
    #[must_use]
    pub fn new() -> MemoryLog {
        MemoryLog::default()
    }

    /// A copy of the events so far.
    #[must_use]
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The events so far, leaving the log empty.
    #[must_use]
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Sink for MemoryLog {
    fn record(&self, event: &Event) {
        self.events.lock().unwrap_or_else(PoisonError::into_inner).push(event.clone());
    }
}

/// Writes each event as one line of JSON (`{"type":"track-call",…}`).
///
/// Each line reaches the writer in one `write_all`, so on `std::io::stdout()`
/// it never interleaves with other output of the program (`println!` from
/// other threads).
#[derive(Debug)]
pub struct JsonLines<W> {
    out: Mutex<W>,
}

impl<W: Write + Send + 'static> JsonLines<W> {
    /// Writes to `out` (a file, `std::io::stderr()`, a `Vec<u8>`).
    pub fn new(out: W) -> JsonLines<W> {
        JsonLines { out: Mutex::new(out) }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<W: Write + Send + 'static> Sink for JsonLines<W> {
    fn record(&self, event: &Event) {
        let Ok(mut line) = serde_json::to_vec(event) else { return };
        line.push(b'\n');
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        // A sink cannot report an I/O error to the code that emitted the event;
        // a broken pipe must not take the instrumented program down.
        let _ = out.write_all(&line);
    }
}

impl<W: Write + Send + 'static> Sink for Arc<JsonLines<W>> {
    fn record(&self, event: &Event) {
        JsonLines::record(self, event);
    }
}

/// Forwards events to `tracing` as events with target `hmr` at `DEBUG`, with
/// the event's `type` tag and its JSON form as fields.
#[cfg(feature = "tracing")]
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingSink;

#[cfg(feature = "tracing")]
impl Sink for TracingSink {
    fn record(&self, event: &Event) {
        if tracing::enabled!(target: "hmr", tracing::Level::DEBUG) {
            let json = serde_json::to_string(event).unwrap_or_default();
            tracing::debug!(target: "hmr", kind = event.type_name(), event = %json);
        }
    }
}
