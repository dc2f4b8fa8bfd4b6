//! Event sinks: the in-memory log, JSON lines, the `tracing` bridge, and the
//! serde form of events.

use std::io::Write;
use std::sync::{Arc, Mutex};

use hmr_runtime::{Event, JsonLines, MemoryLog, add_sink, hmr_track, module, sinks::TracingSink};

#[hmr_track(key = "sinks::step")]
fn step() {}

/// Sinks see every thread's events: keep only those of module `name`.
fn of_module<'a>(events: &'a [Event], name: &str) -> Vec<&'a Event> {
    let mut ids = std::collections::BTreeSet::new();
    let prefix = format!("{name}/");
    events
        .iter()
        .filter(|e| match e {
            Event::HmrModuleCall { module, .. } | Event::HmrModuleCallReturn { module, .. } => {
                module == name
            }
            Event::TrackCall { id, path, .. } if path.starts_with(&prefix) => {
                ids.insert(*id);
                true
            }
            Event::TrackCallReturn { id, .. } => ids.contains(id),
            _ => false,
        })
        .collect()
}

#[test]
fn memory_log_records_while_installed() {
    let log = MemoryLog::new();
    let sink = add_sink(log.clone());
    module("sink-memory", step).unwrap();
    drop(sink);
    module("sink-memory", step).unwrap();
    let events = log.events();
    let mine = of_module(&events, "sink-memory");
    let kinds: Vec<_> = mine.iter().map(|e| e.type_name()).collect();
    assert_eq!(
        kinds,
        ["hmr-module-call", "track-call", "track-call-return", "hmr-module-call-return"]
    );
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Keeps every `write` call apart.
#[derive(Clone, Default)]
struct Writes(Arc<Mutex<Vec<Vec<u8>>>>);

impl std::io::Write for Writes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn json_lines_writes_each_line_at_once() {
    // On stdout, a line written in pieces interleaves with other threads'
    // `println!`s: each event must be one write.
    let out = Writes::default();
    let sink = add_sink(JsonLines::new(out.clone()));
    module("sink-json-writes", step).unwrap();
    drop(sink);
    let writes = out.0.lock().unwrap().clone();
    assert!(writes.len() >= 4, "{} writes", writes.len());
    for write in writes {
        let line = String::from_utf8(write).unwrap();
        assert!(line.ends_with('\n'), "a write is a whole line: {line:?}");
        serde_json::from_str::<Event>(line.trim_end()).unwrap();
    }
}

#[test]
fn json_lines_round_trip() {
    let out = Shared::default();
    let sink = add_sink(JsonLines::new(out.clone()));
    module("sink-json", step).unwrap();
    drop(sink);
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    // An event another thread was writing as the guard dropped may be cut
    // short: keep whole lines.
    let text = &text[..=text.rfind('\n').unwrap()];
    let events: Vec<Event> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mine = of_module(&events, "sink-json");
    assert_eq!(mine.len(), 4);
    let first: serde_json::Value =
        serde_json::from_str(text.lines().find(|l| l.contains("\"sink-json\"")).unwrap()).unwrap();
    assert_eq!(first["type"], "hmr-module-call");
    assert_eq!(first["version"], 1);
    let call = text.lines().find(|l| l.contains("sink-json/sinks::step")).unwrap();
    let call: serde_json::Value = serde_json::from_str(call).unwrap();
    assert_eq!(call["type"], "track-call");
    assert_eq!(call["path"], "sink-json/sinks::step#0");
    assert!(call["site"]["file"].as_str().unwrap().ends_with("sinks.rs"));
}

#[test]
fn tracing_bridge_emits_events_under_target_hmr() {
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<Vec<(String, String)>>>);
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Collect {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            struct V(String);
            impl tracing::field::Visit for V {
                fn record_debug(
                    &mut self,
                    field: &tracing::field::Field,
                    value: &dyn std::fmt::Debug,
                ) {
                    if field.name() == "kind" {
                        self.0 = format!("{value:?}");
                    }
                }
                fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                    if field.name() == "kind" {
                        self.0 = value.to_owned();
                    }
                }
            }
            let mut v = V(String::new());
            event.record(&mut v);
            self.0.lock().unwrap().push((event.metadata().target().to_owned(), v.0));
        }
    }

    let collect = Collect::default();
    let subscriber = tracing_subscriber::registry().with(collect.clone());
    tracing::subscriber::with_default(subscriber, || {
        // The sink's callsite may have been registered, by another test's
        // thread, while this dispatcher was being set up: its cached
        // interest could say "never". Recompute it with this one in place.
        tracing::callsite::rebuild_interest_cache();
        let _sink = add_sink(TracingSink);
        module("sink-tracing", step).unwrap();
    });
    let seen = collect.0.lock().unwrap().clone();
    assert!(seen.iter().all(|(target, _)| target == "hmr"));
    let kinds: Vec<_> = seen.iter().map(|(_, k)| k.as_str()).collect();
    assert!(
        kinds.windows(4).any(|w| w
            == ["hmr-module-call", "track-call", "track-call-return", "hmr-module-call-return"]),
        "{kinds:?}"
    );
}

struct Reentrant(MemoryLog);

impl hmr_runtime::sinks::Sink for Reentrant {
    fn record(&self, event: &Event) {
        // Calls tracked code from inside a sink: must not recurse forever.
        step();
        self.0.record(event);
    }
}

struct Panicking;

impl hmr_runtime::sinks::Sink for Panicking {
    fn record(&self, _: &Event) {
        panic!("a broken sink");
    }
}

#[test]
fn a_sink_calling_tracked_code_does_not_recurse() {
    let log = MemoryLog::new();
    let sink = add_sink(Reentrant(log.clone()));
    module("sink-reentrant", step).unwrap();
    drop(sink);
    let events = log.events();
    assert_eq!(of_module(&events, "sink-reentrant").len(), 4);
}

#[test]
fn a_panicking_sink_loses_events_not_the_program() {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let sink = add_sink(Panicking);
    let result = std::panic::catch_unwind(|| {
        module("sink-panicking", step).unwrap();
        // Unwinding through a tracked fn emits from a drop guard: no abort.
        std::panic::catch_unwind(|| {
            #[hmr_track]
            fn unwinds() {
                panic!("user panic");
            }
            unwinds();
        })
        .is_err()
    });
    drop(sink);
    std::panic::set_hook(hook);
    assert_eq!(result.ok(), Some(true));
}

#[hmr_track(key = "sinks::attach")]
fn attach(log: MemoryLog) -> hmr_runtime::sinks::SinkGuard {
    add_sink(log)
}

#[test]
fn a_sink_installed_mid_call_never_sees_a_return_without_its_call() {
    let log = MemoryLog::new();
    let guard = attach(log.clone());
    module("sink-mid-call", step).unwrap();
    drop(guard);
    let events = log.events();
    let calls: std::collections::BTreeSet<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::TrackCall { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    for e in &events {
        if let Event::TrackCallReturn { id, .. } = e {
            assert!(calls.contains(id), "a return without its call: {e:?}");
        }
    }
    assert_eq!(of_module(&events, "sink-mid-call").len(), 4);
}
