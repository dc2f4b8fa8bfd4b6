//! The console's wire format, version 1 (docs/console.md): JSON lines, one
//! message a line, each an object with one key that says what it is.
//!
//! ```text
//! program → console   {"hello":{"wire":1,"program":"app","pid":4242}}
//!                     {"str":[0,"app::prices"]}          a string, interned
//!                     {"module":{"name":1,"version":3,…}} the state when it attached:
//!                     {"track":{"id":"…","key":0,…}}     its modules and tracks
//!                     {"ev":{"type":"track-call","key":0,…}}
//!                     {"probe":{"n":3,"track":"…","name":4}} an operator, before its counts
//!                     {"tick":{"at":…,"items":[[3,120]]}} items through operators so far
//!                     {"sample":{"n":3,"at":…,"code":1,"item":"42"}} an item one let through
//!                     {"dropped":17}                     events lost to a slow console
//! console → program   hmr-console 1                      the handshake, one line
//! program → console   {"error":"…"}                      a refused handshake, then close
//! ```
//!
//! Events are the JSON of [`Event`] (the `JsonLines` format) with the
//! strings that repeat — `key`, `path`, `name`, a site's `file`, a
//! `module`'s name — replaced by the number of a `str` line sent before.
//! Each connection has its own table, starting at 0.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::events::Event;

/// The wire version this side speaks.
pub const WIRE_VERSION: u64 = 1;

/// The handshake line a console sends, without its line end.
pub const HANDSHAKE: &str = "hmr-console 1";

/// The longest handshake line read, line end included: past it the
/// handshake is refused (a console's whole first line is 15 bytes).
pub const HANDSHAKE_MAX: usize = 64;

/// The fields whose strings are interned: object keys at any depth.
const INTERNED: [&str; 5] = ["key", "path", "name", "file", "entity_name"];

/// A module as the program's store holds it when a console attaches.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModuleState {
    /// Its name.
    pub name: String,
    /// Its last committed version.
    pub version: u64,
    /// Why its last attempt failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A track as the program's store holds it when a console attaches.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrackState {
    /// Its id.
    pub id: crate::events::TrackId,
    /// Its static key.
    pub key: String,
    /// Its structural path.
    pub path: String,
    /// The module that last ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Its version.
    pub version: u64,
    /// What its last update did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<crate::events::Change>,
    /// Its entity's structural name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_name: Option<String>,
}

/// An operator whose items are counted: told once per connection, before
/// its first count.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProbeState {
    /// Its number in `tick` and `sample` lines.
    pub n: u64,
    /// The track that built it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<crate::events::TrackId>,
    /// Its chain's structural name up to it (`source.hot_map(fn)`).
    pub name: String,
}

/// A console tick: the items each operator let through so far, and what
/// each subscription's task is doing, for those that changed since the
/// last tick (or all of them, when `full`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tick {
    /// When, in µs since the program began serving.
    pub at: u64,
    /// `(probe, items so far)`.
    pub items: Vec<(u64, u64)>,
    /// Every living operator and subscription is listed: those not listed
    /// are gone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full: bool,
    /// Subscriptions whose task changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<Task>,
}

/// A subscription's task, in a tick.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Task {
    /// The subscription's id (`SubscriptionId::as_u64`).
    pub id: u64,
    /// The track that built it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<crate::events::TrackId>,
    /// What it is doing.
    pub status: TaskStatus,
}

/// What a subscription's task is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum TaskStatus {
    /// Reading its pipeline, handling items.
    Running,
    /// Its pipeline ended (or was dropped after a panic outside any hot
    /// closure): it waits for a reload to rebuild it.
    Waiting,
    /// Stopped for good (unsubscribed, its track or input disposed, its
    /// runtime shut down).
    Stopped,
    /// The subscription is gone (its last handle dropped after it stopped).
    Gone,
}

/// An item an operator let through, sampled (at most one per tick).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SampleState {
    /// The operator's probe.
    pub n: u64,
    /// When, in µs since the program began serving.
    pub at: u64,
    /// Closures the operator had received when the item went through (0:
    /// the one it was built with): which code touched the item.
    pub code: u64,
    /// The item's `Debug` (where its type was given to
    /// `console::show`, or is built in), else its type name.
    pub item: String,
}

/// Why a handshake was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The line is longer than [`HANDSHAKE_MAX`].
    TooLong,
    /// The line is not UTF-8.
    NotText,
    /// The line is text but not `hmr-console <version>`.
    NotAConsole,
    /// A console of another wire version.
    Version(String),
    /// As many consoles as the program serves are attached already.
    TooMany,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::TooLong => write!(f, "the handshake is longer than {HANDSHAKE_MAX} bytes"),
            Refused::NotText => f.write_str("the handshake is not UTF-8 text"),
            Refused::NotAConsole => write!(f, "expected the line `{HANDSHAKE}`"),
            Refused::Version(v) => {
                write!(f, "this program speaks wire version {WIRE_VERSION}, the console {v}")
            }
            Refused::TooMany => f.write_str("too many consoles are attached to this program"),
        }
    }
}

/// Reads a console's handshake: the bytes it sent up to its first line
/// end (`line`, without the `\n`; a `\r` before it is allowed). Any bytes
/// are accepted as input; only `hmr-console 1` passes.
///
/// # Errors
///
/// Why anything else is refused ([`Refused`]).
pub fn parse_handshake(line: &[u8]) -> Result<(), Refused> {
    if line.len() >= HANDSHAKE_MAX {
        return Err(Refused::TooLong);
    }
    let text = std::str::from_utf8(line).map_err(|_| Refused::NotText)?;
    let text = text.strip_suffix('\r').unwrap_or(text);
    let Some(version) = text.strip_prefix("hmr-console ") else {
        return Err(Refused::NotAConsole);
    };
    if version == WIRE_VERSION.to_string() {
        Ok(())
    } else if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) {
        Err(Refused::Version(version.to_owned()))
    } else {
        Err(Refused::NotAConsole)
    }
}

/// The first line the program sends.
#[must_use]
pub fn hello(program: &str, pid: u32) -> String {
    let hello =
        serde_json::json!({ "hello": { "wire": WIRE_VERSION, "program": program, "pid": pid } });
    format!("{hello}\n")
}

/// The line that refuses a handshake.
#[must_use]
pub fn refusal(why: &Refused) -> String {
    format!("{}\n", serde_json::json!({ "error": why.to_string() }))
}

/// The line that reports events lost to a slow console.
#[must_use]
pub fn dropped(count: u64) -> String {
    format!("{}\n", serde_json::json!({ "dropped": count }))
}

/// Encodes events for one connection: interns their repeated strings.
#[derive(Debug, Default)]
pub struct Encoder {
    table: HashMap<String, u64>,
}

impl Encoder {
    /// An encoder with an empty table.
    #[must_use]
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// The lines for `event`: the `str` lines of strings it is the first to
    /// use, then its `ev` line.
    pub fn encode(&mut self, event: &Event, out: &mut String) {
        self.encode_as("ev", event, None, out);
    }

    /// [`encode`](Encoder::encode) with the time the event was emitted,
    /// in µs since the program began serving (`"at"` in the `ev` object).
    pub fn encode_at(&mut self, event: &Event, at: u64, out: &mut String) {
        self.encode_as("ev", event, Some(at), out);
    }

    /// The lines for a module of the state a console attaches to.
    pub fn encode_module(&mut self, module: &ModuleState, out: &mut String) {
        self.encode_as("module", module, None, out);
    }

    /// The lines for a track of the state a console attaches to.
    pub fn encode_track(&mut self, track: &TrackState, out: &mut String) {
        self.encode_as("track", track, None, out);
    }

    /// The lines for an operator, before its first count.
    pub fn encode_probe(&mut self, probe: &ProbeState, out: &mut String) {
        self.encode_as("probe", probe, None, out);
    }

    /// The line for a tick.
    pub fn encode_tick(&mut self, tick: &Tick, out: &mut String) {
        self.encode_as("tick", tick, None, out);
    }

    /// The line for a sampled item.
    pub fn encode_sample(&mut self, sample: &SampleState, out: &mut String) {
        self.encode_as("sample", sample, None, out);
    }

    fn encode_as(
        &mut self,
        kind: &str,
        value: &impl serde::Serialize,
        at: Option<u64>,
        out: &mut String,
    ) {
        let Ok(mut json) = serde_json::to_value(value) else { return };
        self.intern(&mut json, out);
        if let (Some(at), Value::Object(fields)) = (at, &mut json) {
            fields.insert("at".to_owned(), Value::from(at));
        }
        let mut line = Map::new();
        line.insert(kind.to_owned(), json);
        out.push_str(&Value::Object(line).to_string());
        out.push('\n');
    }

    fn intern(&mut self, value: &mut Value, out: &mut String) {
        let Value::Object(fields) = value else { return };
        for (field, value) in fields.iter_mut() {
            match value {
                Value::String(text) if INTERNED.contains(&field.as_str()) || field == "module" => {
                    // Past the table's bound a string goes as it is.
                    if let Some(id) = self.id(text, out) {
                        *value = Value::from(id);
                    }
                }
                Value::Object(_) => self.intern(value, out),
                _ => {}
            }
        }
    }

    fn id(&mut self, text: &str, out: &mut String) -> Option<u64> {
        if let Some(id) = self.table.get(text) {
            return Some(*id);
        }
        if self.table.len() >= TABLE_MAX {
            return None;
        }
        let id = self.table.len() as u64;
        out.push_str(&serde_json::json!({ "str": [id, text] }).to_string());
        out.push('\n');
        self.table.insert(text.to_owned(), id);
        Some(id)
    }
}

/// One message from the program, decoded.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Message {
    /// The program's greeting.
    Hello {
        /// Its wire version.
        wire: u64,
        /// Its executable's file name.
        program: String,
        /// Its process id.
        pid: u32,
    },
    /// An event, its strings resolved, and when it was emitted (µs since
    /// the program began serving), if the program said.
    Event(Box<Event>, Option<u64>),
    /// Events lost since the last message.
    Dropped(u64),
    /// A module of the state the console attached to.
    Module(ModuleState),
    /// A track of the state the console attached to.
    Track(TrackState),
    /// An operator, before its counts.
    Probe(ProbeState),
    /// Items through operators so far.
    Tick(Tick),
    /// An item an operator let through.
    Sample(SampleState),
    /// The program refused the handshake.
    Error(String),
}

/// Why a line from a program could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine(pub String);

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Decodes one connection's lines (the console's side): keeps the table.
#[derive(Debug, Default)]
pub struct Decoder {
    table: Vec<String>,
}

/// The most strings a decoder keeps: a program sending more is broken or
/// hostile, and the connection is given up.
pub const TABLE_MAX: usize = 1 << 20;

impl Decoder {
    /// A decoder with an empty table.
    #[must_use]
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Reads one line. `Ok(None)`: a `str` line (the table grew).
    ///
    /// # Errors
    ///
    /// A line that is not a message of this wire version, or names a
    /// string not sent: the connection should be given up.
    pub fn decode(&mut self, line: &str) -> Result<Option<Message>, BadLine> {
        let bad =
            |what: &str| BadLine(format!("{what}: {}", line.chars().take(80).collect::<String>()));
        let value: Value =
            serde_json::from_str(line).map_err(|e| bad(&format!("not JSON ({e})")))?;
        let Value::Object(mut fields) = value else { return Err(bad("not an object")) };
        if fields.len() != 1 {
            return Err(bad("not one key"));
        }
        let (kind, body) =
            fields.iter_mut().next().map(|(k, v)| (k.clone(), v.take())).unwrap_or_default();
        match (kind.as_str(), body) {
            ("str", Value::Array(pair)) => {
                let [Value::Number(id), Value::String(text)] = pair.as_slice() else {
                    return Err(bad("a str line is [number, text]"));
                };
                if id.as_u64() != Some(self.table.len() as u64) {
                    return Err(bad("strings are numbered in order"));
                }
                if self.table.len() >= TABLE_MAX {
                    return Err(bad("too many strings"));
                }
                self.table.push(text.clone());
                Ok(None)
            }
            ("ev", mut event) => {
                self.resolve(&mut event).map_err(|e| bad(&e))?;
                let at = match &mut event {
                    Value::Object(fields) => fields.remove("at").and_then(|at| at.as_u64()),
                    _ => None,
                };
                let event: Event = serde_json::from_value(event)
                    .map_err(|e| bad(&format!("not an event ({e})")))?;
                Ok(Some(Message::Event(Box::new(event), at)))
            }
            ("module", mut module) => {
                self.resolve(&mut module).map_err(|e| bad(&e))?;
                let module = serde_json::from_value(module)
                    .map_err(|e| bad(&format!("not a module ({e})")))?;
                Ok(Some(Message::Module(module)))
            }
            ("track", mut track) => {
                self.resolve(&mut track).map_err(|e| bad(&e))?;
                let track = serde_json::from_value(track)
                    .map_err(|e| bad(&format!("not a track ({e})")))?;
                Ok(Some(Message::Track(track)))
            }
            ("probe", mut probe) => {
                self.resolve(&mut probe).map_err(|e| bad(&e))?;
                let probe = serde_json::from_value(probe)
                    .map_err(|e| bad(&format!("not a probe ({e})")))?;
                Ok(Some(Message::Probe(probe)))
            }
            ("tick", tick) => {
                let tick =
                    serde_json::from_value(tick).map_err(|e| bad(&format!("not a tick ({e})")))?;
                Ok(Some(Message::Tick(tick)))
            }
            ("sample", sample) => {
                let sample = serde_json::from_value(sample)
                    .map_err(|e| bad(&format!("not a sample ({e})")))?;
                Ok(Some(Message::Sample(sample)))
            }
            ("dropped", Value::Number(n)) => {
                Ok(Some(Message::Dropped(n.as_u64().ok_or_else(|| bad("a count"))?)))
            }
            ("error", Value::String(message)) => Ok(Some(Message::Error(message))),
            ("hello", Value::Object(hello)) => {
                let wire =
                    hello.get("wire").and_then(Value::as_u64).ok_or_else(|| bad("no wire"))?;
                let program = hello.get("program").and_then(Value::as_str).unwrap_or("").to_owned();
                let pid = hello.get("pid").and_then(Value::as_u64).unwrap_or(0);
                let pid = u32::try_from(pid).map_err(|_| bad("a pid"))?;
                Ok(Some(Message::Hello { wire, program, pid }))
            }
            _ => Err(bad("an unknown message")),
        }
    }

    fn resolve(&self, value: &mut Value) -> Result<(), String> {
        let Value::Object(fields) = value else { return Ok(()) };
        resolve_fields(&self.table, fields)
    }
}

fn resolve_fields(table: &[String], fields: &mut Map<String, Value>) -> Result<(), String> {
    for (field, value) in fields.iter_mut() {
        match value {
            Value::Number(id) if INTERNED.contains(&field.as_str()) || field == "module" => {
                let text = id
                    .as_u64()
                    .and_then(|id| table.get(usize::try_from(id).ok()?))
                    .ok_or_else(|| format!("`{field}` names no string sent"))?;
                *value = Value::String(text.clone());
            }
            Value::Object(inner) => resolve_fields(table, inner)?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Decoder, Encoder, HANDSHAKE_MAX, Message, Refused, parse_handshake};
    use crate::events::event::tests::every_event;

    #[test]
    fn every_event_survives_the_wire_and_repeated_strings_are_sent_once() {
        let mut encoder = Encoder::new();
        let mut decoder = Decoder::new();
        let mut text = String::new();
        for event in every_event().iter().chain(&every_event()) {
            encoder.encode(event, &mut text);
        }
        let mut back = Vec::new();
        for line in text.lines() {
            if let Some(Message::Event(event, _)) = decoder.decode(line).unwrap() {
                back.push(*event);
            }
        }
        let sent: Vec<_> = every_event().into_iter().chain(every_event()).collect();
        assert_eq!(back, sent);
        // The second round interns nothing new.
        let strings = text.lines().filter(|l| l.starts_with(r#"{"str""#)).count();
        let mut again = String::new();
        for event in every_event() {
            encoder.encode(&event, &mut again);
        }
        assert!(strings > 0 && !again.contains(r#"{"str""#), "{again}");
    }

    #[test]
    fn the_state_survives_the_wire() {
        use super::{ModuleState, TrackState};
        use crate::events::{Change, TrackId};
        let module = ModuleState { name: "m".into(), version: 3, last_error: Some("boom".into()) };
        let track = TrackState {
            id: TrackId(0x9f2c),
            key: "app::prices".into(),
            path: "m/app::prices#0".into(),
            module: Some("m".into()),
            version: 3,
            change: Some(Change::FnOnly),
            entity_name: Some("source.hot_map(fn)".into()),
        };
        let (mut encoder, mut decoder, mut text) = (Encoder::new(), Decoder::new(), String::new());
        encoder.encode_module(&module, &mut text);
        encoder.encode_track(&track, &mut text);
        let got: Vec<Message> =
            text.lines().filter_map(|line| decoder.decode(line).unwrap()).collect();
        assert_eq!(got, [Message::Module(module), Message::Track(track)]);
        assert!(text.contains(r#""module":0"#), "the module name is interned once: {text}");
    }

    #[test]
    fn counts_and_samples_survive_the_wire() {
        use super::{ProbeState, SampleState, Tick};
        use crate::events::TrackId;
        let probe =
            ProbeState { n: 3, track: Some(TrackId(0x9f2c)), name: "source.hot_map(fn)".into() };
        let task =
            super::Task { id: 7, track: Some(TrackId(0x9f2c)), status: super::TaskStatus::Waiting };
        let tick =
            Tick { at: 50_000, items: vec![(3, 120), (4, 118)], full: true, tasks: vec![task] };
        let sample = SampleState { n: 3, at: 49_000, code: 1, item: "\"tick\\n\"".into() };
        let (mut encoder, mut decoder, mut text) = (Encoder::new(), Decoder::new(), String::new());
        encoder.encode_probe(&probe, &mut text);
        encoder.encode_probe(&ProbeState { n: 4, ..probe.clone() }, &mut text);
        encoder.encode_tick(&tick, &mut text);
        encoder.encode_sample(&sample, &mut text);
        let got: Vec<Message> =
            text.lines().filter_map(|line| decoder.decode(line).unwrap()).collect();
        let again = Message::Probe(ProbeState { n: 4, ..probe.clone() });
        assert_eq!(
            got,
            [Message::Probe(probe), again, Message::Tick(tick), Message::Sample(sample)]
        );
        assert_eq!(text.matches("source.hot_map(fn)").count(), 1, "names interned: {text}");
        assert!(decoder.decode(r#"{"tick":{"at":1,"items":[[1]]}}"#).is_err());
        assert!(decoder.decode(r#"{"probe":{"n":1,"name":99}}"#).is_err());
    }

    #[test]
    fn only_the_handshake_passes() {
        assert_eq!(parse_handshake(b"hmr-console 1"), Ok(()));
        assert_eq!(parse_handshake(b"hmr-console 1\r"), Ok(()));
        assert_eq!(parse_handshake(b"hmr-console 2"), Err(Refused::Version("2".into())));
        assert_eq!(parse_handshake(b"GET / HTTP/1.1\r"), Err(Refused::NotAConsole));
        assert_eq!(parse_handshake(b"hmr-console "), Err(Refused::NotAConsole));
        assert_eq!(parse_handshake(b"hmr-console -1"), Err(Refused::NotAConsole));
        assert_eq!(parse_handshake(&[0xff, 0xfe]), Err(Refused::NotText));
        assert_eq!(parse_handshake(&[b'a'; HANDSHAKE_MAX]), Err(Refused::TooLong));
    }

    /// xorshift64*: deterministic inputs, no dependency.
    fn bytes(seed: &mut u64, len: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *seed ^= *seed >> 12;
                *seed ^= *seed << 25;
                *seed ^= *seed >> 27;
                let r = seed.wrapping_mul(0x2545_f491_4f6c_dd1d);
                if alphabet.is_empty() {
                    (r >> 56) as u8
                } else {
                    alphabet[(r >> 32) as usize % alphabet.len()]
                }
            })
            .collect()
    }

    /// Random bytes, and random mutations of the real handshake, never
    /// panic the reader and pass only when they are the handshake.
    #[test]
    fn the_handshake_reader_takes_any_bytes() {
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        for i in 0..20_000 {
            let len = i % (HANDSHAKE_MAX + 8);
            let line = if i % 2 == 0 {
                bytes(&mut seed, len, &[])
            } else {
                let mut line = b"hmr-console 1".to_vec();
                let at = i % line.len();
                line[at] = bytes(&mut seed, 1, b"hmr-console 0123456789\r\n\0\xff")[0];
                line
            };
            let passed = parse_handshake(&line).is_ok();
            let real = line == b"hmr-console 1" || line == b"hmr-console 1\r";
            assert_eq!(passed, real, "{line:?}");
        }
    }

    /// A hostile program's lines (or a corrupt stream) give errors, never a
    /// panic, and a string table cannot be made to name what was not sent.
    #[test]
    fn the_decoder_takes_any_line() {
        let mut seed = 0x51_7cc1_b727_220a;
        let mut decoder = Decoder::new();
        let alphabet = br#"{}[]":,0123456789 evstrdoppehlrkyamnicb-\"#;
        for i in 0..20_000 {
            let line = bytes(&mut seed, i % 80, alphabet);
            let _ = decoder.decode(&String::from_utf8_lossy(&line));
        }
        let mut decoder = Decoder::new();
        assert!(decoder.decode(r#"{"str":[1,"skips 0"]}"#).is_err());
        assert!(
            decoder.decode(r#"{"ev":{"type":"hmr-module-call","module":7,"version":1}}"#).is_err()
        );
        assert!(decoder.decode(r#"{"str":[0,"m"]}"#).unwrap().is_none());
        let ok = decoder.decode(r#"{"ev":{"type":"hmr-module-call","module":0,"version":1}}"#);
        assert!(matches!(ok, Ok(Some(Message::Event(_, None)))), "{ok:?}");
        let timed = r#"{"ev":{"type":"hmr-module-call","module":0,"version":1,"at":1234}}"#;
        assert!(matches!(decoder.decode(timed), Ok(Some(Message::Event(_, Some(1234))))));
    }
}
