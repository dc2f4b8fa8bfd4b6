//! Where events come from: a program's console socket, or a log.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc::Sender;
use std::time::Duration;

use hmr_runtime::console::wire::{
    self, Decoder, Message, ModuleState, ProbeState, SampleState, Tick, TrackState,
};
use hmr_runtime::events::Event;

/// What a source reports to the console.
#[derive(Clone, Debug)]
pub enum Incoming {
    /// An event, and when it was emitted (µs since the program began
    /// serving), if stamped.
    Event(Box<Event>, Option<u64>),
    /// The program dropped this many events (the console was slow).
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
    /// Attached to a program (its name and pid).
    Attached(String, u32),
    /// Not attached (yet, or any more), and why.
    Detached(String),
}

/// The longest line read from a program.
pub const LINE_MAX: u64 = 16 << 20;

/// Reads a `JsonLines` log: one event per line. Lines that are not events
/// are skipped and counted.
///
/// # Errors
///
/// The log could not be read.
pub fn read_log(reader: impl BufRead) -> std::io::Result<(Vec<Event>, usize)> {
    let (mut events, mut skipped) = (Vec::new(), 0);
    for line in reader.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Event>(&line) {
            Ok(event) => events.push(event),
            Err(_) => skipped += 1,
        }
    }
    Ok((events, skipped))
}

/// Reads what to replay: a `JsonLines` log, or a recording of a console
/// connection (the wire lines a program sent, from its `hello` on, as
/// `nc` or `tests/examples/record_session` save them; it has counts and
/// sampled items). Lines that are neither are skipped and counted.
///
/// # Errors
///
/// The file could not be read.
pub fn read_replay(reader: impl BufRead) -> std::io::Result<(Vec<Incoming>, usize)> {
    let mut lines = reader.lines();
    let mut first = String::new();
    for line in lines.by_ref() {
        first = line?;
        if !first.trim().is_empty() {
            break;
        }
    }
    if !first.starts_with(r#"{"hello""#) {
        let rest = std::iter::once(Ok(first)).chain(lines).collect::<std::io::Result<Vec<_>>>()?;
        let (events, skipped) = read_log(rest.join("\n").as_bytes())?;
        return Ok((
            events.into_iter().map(|e| Incoming::Event(Box::new(e), None)).collect(),
            skipped,
        ));
    }
    let mut decoder = Decoder::new();
    let (mut out, mut skipped) = (Vec::new(), 0);
    for line in std::iter::once(Ok(first)).chain(lines) {
        match decoder.decode(line?.trim_end()) {
            Ok(Some(message)) => out.extend(incoming(message)),
            Ok(None) => {}
            Err(_) => skipped += 1,
        }
    }
    Ok((out, skipped))
}

/// What a decoded message tells the console (`None`: a refusal).
fn incoming(message: Message) -> Option<Incoming> {
    Some(match message {
        Message::Hello { program, pid, .. } => Incoming::Attached(program, pid),
        Message::Event(event, at) => Incoming::Event(event, at),
        Message::Dropped(n) => Incoming::Dropped(n),
        Message::Module(module) => Incoming::Module(module),
        Message::Track(track) => Incoming::Track(track),
        Message::Probe(probe) => Incoming::Probe(probe),
        Message::Tick(tick) => Incoming::Tick(tick),
        Message::Sample(sample) => Incoming::Sample(sample),
        // A refusal, or a message of a newer program.
        _ => return None,
    })
}

/// Attaches to the program at `addr` and forwards what it sends to `to`,
/// reattaching with a backoff (100 ms doubling to 2 s) when the program is
/// not there or goes away. Returns when `to` is closed.
pub fn attach_forever(addr: &str, to: &Sender<Incoming>) {
    let mut wait = Duration::from_millis(100);
    loop {
        let why = match attach_once(addr, to, &mut wait) {
            Ok(()) => return,
            Err(why) => why,
        };
        if to.send(Incoming::Detached(why)).is_err() {
            return;
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_secs(2));
    }
}

/// One attachment: `Ok` when the console is closing, `Err` why it ended.
fn attach_once(addr: &str, to: &Sender<Incoming>, wait: &mut Duration) -> Result<(), String> {
    let target = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(2))
        .map_err(|e| format!("{addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    stream
        .write_all(format!("{}\n", wire::HANDSHAKE).as_bytes())
        .map_err(|e| format!("{addr}: {e}"))?;
    let mut lines = BufReader::new(stream.take(u64::MAX));
    let mut decoder = Decoder::new();
    let mut line = String::new();
    loop {
        line.clear();
        // A line longer than this is not from a program of this wire
        // version: the connection is given up, not the console's memory.
        lines.get_mut().set_limit(LINE_MAX);
        match lines.read_line(&mut line) {
            Ok(0) => return Err(format!("{addr}: the program went away")),
            Ok(_) if !line.ends_with('\n') => return Err(format!("{addr}: a line too long")),
            Ok(_) => {}
            Err(e) => return Err(format!("{addr}: {e}")),
        }
        let message = decoder.decode(line.trim_end()).map_err(|e| format!("{addr}: {e}"))?;
        let incoming = match message {
            None => continue,
            Some(Message::Error(why)) => return Err(format!("{addr} refused: {why}")),
            Some(message @ Message::Hello { .. }) => {
                *wait = Duration::from_millis(100);
                incoming(message)
            }
            Some(message) => incoming(message),
        };
        let Some(incoming) = incoming else { continue };
        if to.send(incoming).is_err() {
            return Ok(());
        }
    }
}
