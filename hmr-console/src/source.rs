//! Where events come from: a program's console socket, or a log.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc::Sender;
use std::time::Duration;

use hmr_runtime::console::wire::{self, Decoder, Message, ModuleState, TrackState};
use hmr_runtime::events::Event;

/// What a source reports to the console.
#[derive(Debug)]
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
            Some(Message::Hello { program, pid, .. }) => {
                *wait = Duration::from_millis(100);
                Incoming::Attached(program, pid)
            }
            Some(Message::Event(event, at)) => Incoming::Event(event, at),
            Some(Message::Dropped(n)) => Incoming::Dropped(n),
            Some(Message::Module(module)) => Incoming::Module(module),
            Some(Message::Track(track)) => Incoming::Track(track),
            Some(Message::Error(why)) => return Err(format!("{addr} refused: {why}")),
        };
        if to.send(incoming).is_err() {
            return Ok(());
        }
    }
}
