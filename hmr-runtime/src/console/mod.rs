//! The program side of `hmr-console` (feature `console`): streams this
//! program's events to any number of attached consoles over a local TCP
//! socket, in the wire format of [`wire`] (docs/console.md in the
//! repository).
//!
//! ```no_run
//! // In `main`, once: listens on HMR_CONSOLE, or 127.0.0.1:6670.
//! let _console = hmr_runtime::console::serve().expect("the console's port");
//! ```
//!
//! - **Nothing is paid while no console is attached**: the program's events
//!   reach the console through a sink installed when the first console
//!   attaches and removed when the last one leaves.
//! - **A slow or dead console never blocks the program**: each console has
//!   a queue of [`QUEUE`] events; when it is full, events for that console
//!   are dropped and counted, and it is told how many (`{"dropped":n}`).
//! - **Read-only and untrusting**: a console sends one handshake line and
//!   nothing it sends can change the program. A handshake that is not
//!   `hmr-console 1` within [`HANDSHAKE_WAIT`] and [`wire::HANDSHAKE_MAX`]
//!   bytes is refused with an error line. Nothing else is read.
//! - **Items counted only while a console is attached**: every
//!   [`TICK`] the consoles get the items each hot operator let through
//!   and one item of each, sampled (with its `Debug` if its type is given
//!   to [`show`] or built in, else its type name). Detached, an operator
//!   pays one relaxed load per item; attached, a few ns (README, "Console").
//! - **Loopback unless told otherwise**: [`serve`] listens on 127.0.0.1;
//!   [`serve_on`] and `HMR_CONSOLE` take any address.

pub mod wire;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::entities::tap;
pub use crate::entities::tap::show;
use crate::events::Event;
use crate::events::sink::{Sink, SinkGuard, add_sink};

/// How often consoles get the operators' counts and sampled items.
pub const TICK: Duration = tap::TICK;

/// Every this many ticks, a tick lists every operator (not only those whose
/// count changed), so that a console's picture cannot drift.
const FULL_EVERY: u64 = 100;

/// The address [`serve`] listens on when `HMR_CONSOLE` is not set.
pub const DEFAULT_ADDR: &str = "127.0.0.1:6670";

/// Events a console's queue holds; past it, events for that console are
/// dropped and counted.
pub const QUEUE: usize = 4096;

/// How long a console has to send its handshake.
pub const HANDSHAKE_WAIT: Duration = Duration::from_secs(2);

/// Connections served at once (attached or shaking hands); more are
/// refused with an error line.
pub const CONNECTIONS: usize = 16;

/// How long one write to a console may block its writer (not the program)
/// before the console is given up.
pub const WRITE_WAIT: Duration = Duration::from_secs(10);

/// How long an attaching console waits for module runs in flight to end
/// before it reads the program's state.
pub const SETTLE: Duration = Duration::from_secs(2);

/// Why [`serve`] could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConsoleError {
    /// `HMR_CONSOLE` is not a socket address (`127.0.0.1:6670`).
    BadAddress(String),
    /// Binding the address failed (in use, not allowed).
    Bind(SocketAddr, std::io::Error),
    /// Resolving the address failed.
    Resolve(std::io::Error),
}

impl std::fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConsoleError::BadAddress(text) => write!(
                f,
                "HMR_CONSOLE={text:?} is not a socket address; set it like 127.0.0.1:6670, or unset it"
            ),
            ConsoleError::Bind(addr, e) => write!(
                f,
                "the console could not listen on {addr}: {e}; set HMR_CONSOLE to another address"
            ),
            ConsoleError::Resolve(e) => write!(f, "the console's address did not resolve: {e}"),
        }
    }
}

impl std::error::Error for ConsoleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConsoleError::Bind(_, e) | ConsoleError::Resolve(e) => Some(e),
            ConsoleError::BadAddress(_) => None,
        }
    }
}

/// Listens for consoles on `HMR_CONSOLE` if set, else on [`DEFAULT_ADDR`]
/// (loopback). Serves until the returned [`Console`] is dropped.
///
/// # Errors
///
/// `HMR_CONSOLE` is not an address, or the address cannot be bound (the
/// error says which and what to do).
pub fn serve() -> Result<Console, ConsoleError> {
    serve_on(address_from(std::env::var("HMR_CONSOLE").ok().as_deref())?)
}

/// The address to listen on, from the value of `HMR_CONSOLE` if any.
fn address_from(var: Option<&str>) -> Result<SocketAddr, ConsoleError> {
    let text = var.map_or(DEFAULT_ADDR, str::trim);
    text.parse().map_err(|_| ConsoleError::BadAddress(text.to_owned()))
}

/// Listens for consoles on `addr` (port 0: any free port, see
/// [`Console::local_addr`]). Serves until the returned [`Console`] is
/// dropped.
///
/// # Errors
///
/// The address does not resolve or cannot be bound.
pub fn serve_on(addr: impl ToSocketAddrs) -> Result<Console, ConsoleError> {
    let addr = addr
        .to_socket_addrs()
        .map_err(ConsoleError::Resolve)?
        .next()
        .ok_or_else(|| ConsoleError::BadAddress("(no address)".to_owned()))?;
    let listener = TcpListener::bind(addr).map_err(|e| ConsoleError::Bind(addr, e))?;
    let local = listener.local_addr().map_err(|e| ConsoleError::Bind(addr, e))?;
    // The one tick thread of the process, before anything else starts.
    start_ticking().map_err(|e| ConsoleError::Bind(addr, e))?;
    let shared = Arc::new(Shared::default());
    lock(&SERVERS).push(Arc::downgrade(&shared));
    let accepting = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("hmr-console".to_owned())
            .spawn(move || accept(&listener, &shared))
            .map_err(|e| ConsoleError::Bind(addr, e))?
    };
    Ok(Console { addr: local, shared, accepting: Some(accepting) })
}

/// Serving consoles; stops when dropped (attached consoles are closed).
#[derive(Debug)]
#[must_use = "the console stops listening when this is dropped"]
pub struct Console {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accepting: Option<JoinHandle<()>>,
}

impl Console {
    /// The address it listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Consoles attached now.
    #[must_use]
    pub fn attached(&self) -> usize {
        self.shared.clients.load().len()
    }

    /// Events dropped so far for consoles too slow to take them.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        // Wake the accept loop (through loopback if it listens on every
        // interface).
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(if wake.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        drop(TcpStream::connect_timeout(&wake, Duration::from_millis(200)));
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
        let _changing = lock(&self.shared.changing);
        for client in self.shared.clients.load().iter() {
            let _ = client.stream.shutdown(Shutdown::Both);
            tap::detach();
        }
        self.shared.clients.store(Arc::new(Vec::new()));
        *lock(&self.shared.sink) = None;
    }
}

/// What the accept loop, the sink and the writers share.
struct Shared {
    clients: ArcSwap<Vec<Arc<Client>>>,
    /// Serializes changes to `clients` and the sink's installation.
    changing: Mutex<()>,
    /// Installed while a console is attached.
    sink: Mutex<Option<SinkGuard>>,
    dropped: AtomicU64,
    stopping: AtomicBool,
    next_id: AtomicUsize,
    /// Connections being served (see [`CONNECTIONS`]).
    connections: AtomicUsize,
    /// A console joined since the last tick: the next lists every operator.
    joined: AtomicBool,
    /// When the process began serving (its first server): events are
    /// stamped with the time since.
    start: std::time::Instant,
}

impl Default for Shared {
    fn default() -> Shared {
        Shared {
            clients: ArcSwap::default(),
            changing: Mutex::default(),
            sink: Mutex::default(),
            dropped: AtomicU64::default(),
            stopping: AtomicBool::default(),
            next_id: AtomicUsize::default(),
            connections: AtomicUsize::default(),
            joined: AtomicBool::default(),
            start: *START.get_or_init(std::time::Instant::now),
        }
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("attached", &self.clients.load().len())
            .finish_non_exhaustive()
    }
}

/// The consoles attached to one server, as the tick thread reads them.
type Clients = Arc<Vec<Arc<Client>>>;

/// One attached console.
struct Client {
    id: usize,
    /// What to send it: events, each with when it was emitted (µs since
    /// serving), and ticks.
    queue: SyncSender<Out>,
    /// Events dropped for it since it was last told.
    dropped: AtomicU64,
    /// It went away (or its writer failed): the writer stops.
    closed: AtomicBool,
    /// A tick waits in its queue: the next is not queued (counts are
    /// totals, so the newest tells all; only samples are lost).
    tick_queued: AtomicBool,
    stream: TcpStream,
}

/// What a console's writer sends.
enum Out {
    /// An event, emitted `.0` µs since serving.
    Event(u64, Event),
    /// The operators' counts and samples.
    Tick(Arc<Report>),
}

/// One tick, the same for every console.
struct Report {
    at: u64,
    /// Every living operator and task is listed (else only those that
    /// changed).
    full: bool,
    probes: Vec<Counted>,
    tasks: Vec<wire::Task>,
}

/// An operator's count and the items it sampled since the last tick.
struct Counted {
    probe: Arc<tap::Probe>,
    items: u64,
    samples: Vec<wire::SampleState>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn accept(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::Acquire) {
            return;
        }
        let Ok(mut stream) = stream else {
            // Out of file descriptors, say: do not spin.
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        if shared.connections.fetch_add(1, Ordering::AcqRel) >= CONNECTIONS {
            shared.connections.fetch_sub(1, Ordering::AcqRel);
            let _ = stream.write_all(wire::refusal(&wire::Refused::TooMany).as_bytes());
            continue;
        }
        let shared = shared.clone();
        // The handshake waits on the console: not on the accept loop.
        let spawned = std::thread::Builder::new().name("hmr-console-client".to_owned()).spawn({
            let shared = shared.clone();
            move || {
                attach(stream, &shared);
                shared.connections.fetch_sub(1, Ordering::AcqRel);
            }
        });
        if spawned.is_err() {
            shared.connections.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Reads the handshake, then feeds the console until it goes away.
fn attach(mut stream: TcpStream, shared: &Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    if let Err(why) = read_handshake(&mut stream) {
        let _ = stream.write_all(wire::refusal(&why).as_bytes());
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    let _ = stream.set_read_timeout(None);
    // A console that stops reading without closing holds its writer only
    // this long per write.
    let _ = stream.set_write_timeout(Some(WRITE_WAIT));
    let program = std::env::args_os()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0).file_name().map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    if stream.write_all(wire::hello(&program, std::process::id()).as_bytes()).is_err() {
        return;
    }
    let Ok(out) = stream.try_clone() else { return };
    let (queue, events) = sync_channel::<Out>(QUEUE);
    let client = Arc::new(Client {
        id: shared.next_id.fetch_add(1, Ordering::Relaxed),
        queue,
        dropped: AtomicU64::new(0),
        closed: AtomicBool::new(false),
        tick_queued: AtomicBool::new(false),
        stream,
    });
    if !join(shared, client.clone()) {
        return; // the console is stopping
    }
    // The state it attaches to, then the events from the sink's
    // installation on (an event between the two may show twice). A module
    // run that began before the sink was installed publishes none of its
    // events to it: the state is read once such runs ended (or after
    // `SETTLE`), so that what they did is in it.
    settle();
    let mut encoder = wire::Encoder::new();
    let mut lines = String::new();
    state_lines(&mut encoder, &mut lines);
    let mut out = out;
    if out.write_all(lines.as_bytes()).is_err() {
        client.closed.store(true, Ordering::Release);
    }
    let writing = {
        let client = client.clone();
        std::thread::Builder::new()
            .name("hmr-console-writer".to_owned())
            .spawn(move || write_events(out, encoder, &events, &client))
    };
    // A console sends nothing after its handshake, and nothing it sends is
    // read: this only waits for it to go away (what it sends is discarded,
    // a few bytes at a time).
    let mut scratch = [0u8; 256];
    let mut input = &client.stream;
    while writing.is_ok() && !client.closed.load(Ordering::Acquire) {
        match input.read(&mut scratch) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    client.closed.store(true, Ordering::Release);
    leave(shared, client.id);
    let _ = client.stream.shutdown(Shutdown::Both);
    if let Ok(writing) = writing {
        let _ = writing.join();
    }
}

/// The program's modules and tracks as the store holds them now.
fn state_lines(encoder: &mut wire::Encoder, out: &mut String) {
    let store = crate::store::snapshot();
    for module in store.modules() {
        let state = wire::ModuleState {
            name: module.name.clone(),
            version: module.version,
            last_error: module.last_error.clone(),
        };
        encoder.encode_module(&state, out);
    }
    for track in store.tracks() {
        let state = wire::TrackState {
            id: track.id,
            key: track.key.to_string(),
            path: track.path.to_string(),
            module: track.module.as_ref().map(|m| m.name.to_string()),
            version: track.version,
            change: track.change,
            entity_name: store.entity_name(track.id).map(str::to_owned),
        };
        encoder.encode_track(&state, out);
    }
}

/// Reads the console's first line, refusing anything but the handshake.
fn read_handshake(stream: &mut TcpStream) -> Result<(), wire::Refused> {
    let deadline = std::time::Instant::now() + HANDSHAKE_WAIT;
    let mut line = Vec::with_capacity(wire::HANDSHAKE_MAX);
    let mut byte = [0u8; 1];
    loop {
        // The whole handshake has HANDSHAKE_WAIT, however it is dribbled.
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Err(wire::Refused::NotAConsole);
        }
        match stream.read(&mut byte) {
            Ok(1) if byte[0] == b'\n' => return wire::parse_handshake(&line),
            Ok(1) => {
                line.push(byte[0]);
                if line.len() >= wire::HANDSHAKE_MAX {
                    return Err(wire::Refused::TooLong);
                }
            }
            // Closed, timed out or failed before a whole line.
            _ => return Err(wire::Refused::NotAConsole),
        }
    }
}

/// Adds a console and installs the sink if it is the first; `false` if
/// the console is stopping.
fn join(shared: &Arc<Shared>, client: Arc<Client>) -> bool {
    let _changing = lock(&shared.changing);
    if shared.stopping.load(Ordering::Acquire) {
        return false;
    }
    // The sink first: once the console counts as attached, every scope
    // that opens reaches it.
    let mut sink = lock(&shared.sink);
    if sink.is_none() {
        *sink = Some(add_sink(ConsoleSink { shared: Arc::downgrade(shared) }));
    }
    let mut clients = Vec::clone(&shared.clients.load());
    clients.push(client);
    shared.clients.store(Arc::new(clients));
    // Operators count from now on; the next tick lists them all.
    tap::attach();
    shared.joined.store(true, Ordering::Release);
    true
}

/// Waits (at most [`SETTLE`]) until no module run is in flight.
fn settle() {
    let deadline = std::time::Instant::now() + SETTLE;
    while !crate::store::store().staged.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn leave(shared: &Shared, id: usize) {
    let _changing = lock(&shared.changing);
    let before = shared.clients.load();
    let clients: Vec<Arc<Client>> = before.iter().filter(|c| c.id != id).cloned().collect();
    if clients.len() == before.len() {
        return; // gone already (the console stopped)
    }
    tap::detach();
    let empty = clients.is_empty();
    shared.clients.store(Arc::new(clients));
    if empty {
        // No console left: the program stops paying for events.
        *lock(&shared.sink) = None;
    }
}

/// Writes the console's events until it goes away.
fn write_events(
    mut out: TcpStream,
    mut encoder: wire::Encoder,
    events: &Receiver<Out>,
    client: &Client,
) {
    let mut lines = String::new();
    // The operators this console was told about.
    let mut known = std::collections::HashSet::new();
    while !client.closed.load(Ordering::Acquire) {
        let next = match events.recv_timeout(Duration::from_millis(200)) {
            Ok(next) => next,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        lines.clear();
        let lost = client.dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            lines.push_str(&wire::dropped(lost));
        }
        encode_out(&next, &mut encoder, &mut known, &mut lines);
        // Whatever else is queued goes in the same write.
        while lines.len() < 64 * 1024 {
            let Ok(next) = events.try_recv() else { break };
            encode_out(&next, &mut encoder, &mut known, &mut lines);
        }
        // The ticks taken are written (or the console is given up).
        client.tick_queued.store(false, Ordering::Release);
        if out.write_all(lines.as_bytes()).is_err() {
            break;
        }
    }
    // Wakes the reader of its console, if it still waits.
    client.closed.store(true, Ordering::Release);
    let _ = out.shutdown(Shutdown::Both);
}

fn encode_out(
    out: &Out,
    encoder: &mut wire::Encoder,
    known: &mut std::collections::HashSet<u64>,
    lines: &mut String,
) {
    match out {
        Out::Event(at, event) => encoder.encode_at(event, *at, lines),
        Out::Tick(report) => {
            if report.full {
                // Operators gone since are forgotten: the set stays as
                // large as the living operators.
                let living: std::collections::HashSet<u64> =
                    report.probes.iter().map(|c| c.probe.id).collect();
                known.retain(|n| living.contains(n));
            }
            for counted in &report.probes {
                let probe = &counted.probe;
                if known.insert(probe.id) {
                    let state = wire::ProbeState {
                        n: probe.id,
                        track: probe.track,
                        name: probe.name.to_string(),
                    };
                    encoder.encode_probe(&state, lines);
                }
            }
            let items = report.probes.iter().map(|c| (c.probe.id, c.items)).collect();
            let tick =
                wire::Tick { at: report.at, items, full: report.full, tasks: report.tasks.clone() };
            encoder.encode_tick(&tick, lines);
            for sample in report.probes.iter().flat_map(|c| &c.samples) {
                encoder.encode_sample(sample, lines);
            }
        }
    }
}

/// The servers of this process. One tick thread serves them all: the
/// operators sample once per tick, and every console gets every sample.
static SERVERS: Mutex<Vec<std::sync::Weak<Shared>>> = Mutex::new(Vec::new());

/// When the process first began serving.
static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Starts the tick thread, once per process (it sleeps while no console is
/// attached).
fn start_ticking() -> std::io::Result<()> {
    static STARTED: Mutex<bool> = Mutex::new(false);
    let mut started = lock(&STARTED);
    if !*started {
        std::thread::Builder::new().name("hmr-console-tick".to_owned()).spawn(ticks)?;
        *started = true;
    }
    Ok(())
}

/// Every [`TICK`] while a console is attached: moves the operators to their
/// next sample, and sends every console what they counted and sampled (a
/// tick line every time, so that a console's clock moves while nothing
/// flows).
fn ticks() {
    let mut last: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    let mut last_tasks: std::collections::HashMap<u64, wire::TaskStatus> =
        std::collections::HashMap::new();
    let mut count = 0_u64;
    loop {
        std::thread::park_timeout(TICK);
        let servers: Vec<Arc<Shared>> = {
            let mut servers = lock(&SERVERS);
            servers.retain(|s| s.strong_count() > 0);
            servers.iter().filter_map(std::sync::Weak::upgrade).collect()
        };
        // `joined` before the clients: a console joining after this tick
        // read it is listed in full by the next one.
        let joined = servers.iter().any(|s| s.joined.swap(false, Ordering::AcqRel));
        let attached: Vec<(Arc<Shared>, Clients)> = servers
            .into_iter()
            .map(|s| {
                let clients = s.clients.load_full();
                (s, clients)
            })
            .filter(|(_, clients)| !clients.is_empty())
            .collect();
        let Some(start) = attached.first().map(|(s, _)| s.start) else { continue };
        count += 1;
        tap::tick();
        let full = joined || count.is_multiple_of(FULL_EVERY);
        let mut probes = Vec::new();
        let mut seen = std::collections::HashMap::with_capacity(last.len());
        for probe in tap::probes() {
            let items = probe.items();
            let samples: Vec<wire::SampleState> = probe
                .take_samples()
                .into_iter()
                .map(|s| wire::SampleState {
                    n: probe.id,
                    at: micros(s.at.saturating_duration_since(start)),
                    code: s.code,
                    item: s.text,
                })
                .collect();
            let changed = last.get(&probe.id) != Some(&items);
            seen.insert(probe.id, items);
            if full || changed || !samples.is_empty() {
                probes.push(Counted { probe, items, samples });
            }
        }
        last = seen;
        let tasks = task_changes(&mut last_tasks, full);
        let at = micros(start.elapsed());
        let report = Arc::new(Report { at, full, probes, tasks });
        for (shared, clients) in &attached {
            for client in clients.iter() {
                // One tick queued at most per console: a slow one skips
                // ticks, and what changed in them reaches it with the next
                // full one (at most FULL_EVERY ticks later), which is never
                // skipped.
                if client.tick_queued.swap(true, Ordering::AcqRel) && !report.full {
                    continue;
                }
                if let Err(TrySendError::Full(_)) = client.queue.try_send(Out::Tick(report.clone()))
                {
                    client.dropped.fetch_add(1, Ordering::Relaxed);
                    shared.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// The subscriptions whose task changed since `last` (every one if
/// `full`), and those gone; `last` becomes now.
fn task_changes(
    last: &mut std::collections::HashMap<u64, wire::TaskStatus>,
    full: bool,
) -> Vec<wire::Task> {
    let mut now = std::collections::HashMap::with_capacity(last.len());
    let mut changed = Vec::new();
    for task in tap::tasks() {
        let status = match task.status() {
            tap::TaskStatus::Running => wire::TaskStatus::Running,
            tap::TaskStatus::Waiting => wire::TaskStatus::Waiting,
            tap::TaskStatus::Stopped => wire::TaskStatus::Stopped,
        };
        if full || last.get(&task.id()) != Some(&status) {
            changed.push(wire::Task { id: task.id(), track: task.track(), status });
        }
        now.insert(task.id(), status);
    }
    if !full {
        for id in last.keys().filter(|id| !now.contains_key(id)) {
            changed.push(wire::Task { id: *id, track: None, status: wire::TaskStatus::Gone });
        }
    }
    *last = now;
    changed
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Hands each event to every attached console's queue, never waiting.
struct ConsoleSink {
    shared: std::sync::Weak<Shared>,
}

impl Sink for ConsoleSink {
    fn record(&self, event: &Event) {
        let Some(shared) = self.shared.upgrade() else { return };
        let at = micros(shared.start.elapsed());
        for client in shared.clients.load().iter() {
            match client.queue.try_send(Out::Event(at, event.clone())) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(_)) => {
                    client.dropped.fetch_add(1, Ordering::Relaxed);
                    shared.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ConsoleError, DEFAULT_ADDR, address_from};

    #[test]
    fn the_default_address_is_loopback_and_hmr_console_overrides_it() {
        let default = address_from(None).unwrap();
        assert!(default.ip().is_loopback(), "{default}");
        assert_eq!(default.to_string(), DEFAULT_ADDR);
        assert_eq!(address_from(Some(" 0.0.0.0:7000 ")).unwrap().to_string(), "0.0.0.0:7000");
        let bad = address_from(Some("localhost")).unwrap_err();
        assert!(matches!(bad, ConsoleError::BadAddress(_)));
        assert!(bad.to_string().contains("127.0.0.1:6670"), "says what to set: {bad}");
    }
}
