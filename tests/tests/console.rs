//! The console's program side (feature `console`): consoles attach over
//! TCP, get the events in the wire format, cannot block the program, and a
//! bad handshake is refused (docs/console.md).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use hmr_runtime::console::wire::{Decoder, Message};
use hmr_runtime::console::{Console, serve_on};
use hmr_runtime::{
    EntityKind, Event, HmrStreamExt, capture_entity, hmr_track, module, source, subscribe,
};
use hmr_tests::wait_until;

/// The console's sink is the process's: a test flooding its console fills
/// the queues of the others' too. These tests take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A console on a free loopback port.
fn console() -> Console {
    serve_on("127.0.0.1:0").expect("a free port")
}

/// Connects and says the handshake; returns the reader, past the hello.
fn attach(console: &Console) -> (BufReader<TcpStream>, Decoder) {
    let mut stream = TcpStream::connect(console.local_addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(b"hmr-console 1\n").unwrap();
    let mut reader = BufReader::new(stream);
    let mut decoder = Decoder::new();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let hello = decoder.decode(line.trim_end()).unwrap();
    assert!(matches!(hello, Some(Message::Hello { wire: 1, .. })), "{hello:?}");
    (reader, decoder)
}

#[hmr_track(key = "console::feed")]
fn feed(n: u32) {
    capture_entity(EntityKind::Factory, format!("feed {n}"));
}

#[test]
fn an_attached_console_gets_a_reloads_events() {
    let _serial = serial();
    let console = console();
    let (mut reader, mut decoder) = attach(&console);
    wait_until("attached", || console.attached() == 1);
    module("console-feed", || feed(1)).unwrap();
    // Other tests of this file run modules meanwhile (the sink is the
    // process's): keep this module's events.
    let mine = |e: &Event| match e {
        Event::HmrModuleCall { module, .. } | Event::HmrModuleCallReturn { module, .. } => {
            module == "console-feed"
        }
        Event::TrackCall { path, .. } => path.starts_with("console-feed/"),
        Event::FactoryCallReturn { name, .. } => name == "feed 1",
        _ => false,
    };
    let (mut seen, mut stamps) = (Vec::new(), Vec::new());
    let mut line = String::new();
    while !seen.iter().any(|e| matches!(e, Event::HmrModuleCallReturn { .. })) {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if let Some(Message::Event(event, at)) = decoder.decode(line.trim_end()).unwrap()
            && mine(&event)
        {
            stamps.push(at.expect("the program stamps its events"));
            seen.push(*event);
        }
    }
    assert!(stamps.is_sorted(), "stamped in the order emitted: {stamps:?}");
    let names: Vec<&str> = seen.iter().map(Event::type_name).collect();
    assert!(names.contains(&"track-call") && names.contains(&"factory-call-return"), "{names:?}");
    let call = seen.iter().find_map(|e| match e {
        Event::TrackCall { key, path, .. } => Some((key.to_string(), path.to_string())),
        _ => None,
    });
    assert_eq!(call, Some(("console::feed".to_owned(), "console-feed/console::feed#0".to_owned())));
    drop(reader);
    wait_until("detached", || console.attached() == 0);
}

/// A console that never reads: the program goes on at full speed, the
/// console's queue stays bounded, and what it missed is counted.
#[test]
fn a_console_that_does_not_read_never_blocks_the_program() {
    let _serial = serial();
    let console = console();
    let mut stream = TcpStream::connect(console.local_addr()).unwrap();
    stream.write_all(b"hmr-console 1\n").unwrap();
    wait_until("attached", || console.attached() == 1);
    // Far more than its queue and the socket's buffers hold: the program
    // never waits for it, so these rounds end, and the events it could not
    // take are counted.
    let mut rounds = 0;
    while console.dropped() == 0 {
        rounds += 1;
        assert!(rounds <= 200, "200 rounds of 2 000 calls, and nothing dropped?");
        module("console-flood", || {
            for n in 0..2_000 {
                feed(n);
            }
        })
        .unwrap();
    }
    // It still hears from the program once it reads: a `dropped` line says
    // how many it missed.
    let mut reader = BufReader::new(stream);
    let mut decoder = Decoder::new();
    let mut line = String::new();
    let mut missed = 0;
    while missed == 0 {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the program hung up");
        if let Ok(Some(Message::Dropped(n))) = decoder.decode(line.trim_end()) {
            missed = n;
        }
    }
    assert!(missed <= console.dropped());
}

#[test]
fn a_bad_handshake_is_refused_with_an_error_line() {
    let _serial = serial();
    let console = console();
    for bad in [&b"GET / HTTP/1.1\r\n"[..], b"hmr-console 2\n", &[0xff; 200], b"\n"] {
        let mut stream = TcpStream::connect(console.local_addr()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = stream.write_all(bad);
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        let message = Decoder::new().decode(reply.trim_end());
        assert!(matches!(message, Ok(Some(Message::Error(_)))), "{bad:?}: {reply:?}");
    }
    assert_eq!(console.attached(), 0);
    // Still serving.
    let (_reader, _) = attach(&console);
    wait_until("attached", || console.attached() == 1);
}

/// A console attaching to a program that ran already gets the state it
/// attaches to: the modules and the tracks, with their entities.
#[test]
fn a_console_attaching_late_gets_the_state_first() {
    let _serial = serial();
    module("console-late", || feed(7)).unwrap();
    let console = console();
    let (mut reader, mut decoder) = attach(&console);
    let mut line = String::new();
    let (mut module_seen, mut track_seen) = (false, None);
    while !(module_seen && track_seen.is_some()) {
        line.clear();
        reader.read_line(&mut line).unwrap();
        match decoder.decode(line.trim_end()).unwrap() {
            Some(Message::Module(m)) if m.name == "console-late" => module_seen = true,
            Some(Message::Track(t)) if t.path == "console-late/console::feed#0" => {
                track_seen = Some(t);
            }
            _ => {}
        }
    }
    let track = track_seen.unwrap();
    assert_eq!((track.version, track.entity_name.as_deref()), (1, Some("feed 7")));
    assert_eq!(track.module.as_deref(), Some("console-late"));
}

/// Opens before a console attaches, captures after.
#[hmr_track(key = "console::straddles")]
fn straddles(attaching: &std::sync::Barrier) {
    attaching.wait();
    std::thread::sleep(Duration::from_millis(100));
    capture_entity(EntityKind::Factory, "built while attaching");
}

/// A console attaching while a module runs gets what that run did: the
/// run began before the console's sink existed, so its events do not reach
/// it, and the state it is sent waits for the run to end.
#[test]
fn a_console_attaching_during_a_module_run_gets_what_the_run_did() {
    let _serial = serial();
    let console = console();
    let attaching = std::sync::Arc::new(std::sync::Barrier::new(2));
    let running = {
        let attaching = attaching.clone();
        std::thread::spawn(move || module("console-during", || straddles(&attaching)).unwrap())
    };
    attaching.wait();
    let (mut reader, mut decoder) = attach(&console);
    running.join().unwrap();
    let mut line = String::new();
    let track = loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if let Some(Message::Track(t)) = decoder.decode(line.trim_end()).unwrap()
            && t.path == "console-during/console::straddles#0"
        {
            break t;
        }
    };
    assert_eq!(track.entity_name.as_deref(), Some("built while attaching"));
}

// ---- counts and samples -------------------------------------------------------

/// Odd items from the first version's code, even ones from the second's:
/// the same closure type, so the reload is `fn-only`.
#[hmr_track(key = "console::live")]
fn live(rx: tokio::sync::broadcast::Receiver<u64>, bias: u64, handled: Arc<AtomicU64>) {
    let items = source(tokio_stream_of(rx)).hot_map(move |x: u64| x * 2 + bias);
    subscribe(items, move |_| {
        handled.fetch_add(1, SeqCst);
    })
    .detach();
}

/// A broadcast receiver as a stream (lagging is not what this tests: the
/// operator's count is compared with what the handler got).
fn tokio_stream_of(
    rx: tokio::sync::broadcast::Receiver<u64>,
) -> impl futures::Stream<Item = u64> + Send + 'static {
    futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(x) => return Some((x, rx)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

/// What a console read: the operator it was told of, its counts and samples.
#[derive(Default)]
struct Heard {
    probe: Option<u64>,
    counts: Vec<u64>,
    samples: Vec<hmr_runtime::console::wire::SampleState>,
}

/// A living pipeline under a producer that never pauses, reloaded while a
/// console is attached: the console is told the operator, its count
/// matches every item the handler got, and each sampled item says which
/// code touched it — odd items (the first version's code) say 0, even ones
/// (the second's) say 1.
#[test]
fn an_attached_console_counts_every_item_and_samples_say_which_code_touched_them() {
    let _serial = serial();
    let runtime = hmr_tests::runtime();
    let _entered = runtime.enter();
    let console = console();
    let (mut reader, mut decoder) = attach(&console);
    wait_until("attached", || console.attached() == 1);
    let (feed, _) = tokio::sync::broadcast::channel::<u64>(1 << 16);
    let handled = Arc::new(AtomicU64::new(0));
    module("console-live", || live(feed.subscribe(), 1, handled.clone())).unwrap();
    let track = hmr_runtime::snapshot()
        .tracks_with_key("console::live")
        .next()
        .map(|t| t.id)
        .expect("the track");
    let heard = Arc::new(std::sync::Mutex::new(Heard::default()));
    let listening = std::thread::spawn({
        let heard = heard.clone();
        move || {
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                let mut heard = heard.lock().unwrap();
                match decoder.decode(line.trim_end()).unwrap() {
                    Some(Message::Probe(p)) if p.track == Some(track) => {
                        assert_eq!(p.name, "source.hot_map(fn)");
                        assert!(heard.probe.is_none(), "one operator, told once: {p:?}");
                        heard.probe = Some(p.n);
                    }
                    Some(Message::Tick(tick)) => {
                        let probe = heard.probe;
                        let mine = tick.items.iter().filter(|(n, _)| Some(*n) == probe);
                        let counts: Vec<u64> = mine.map(|c| c.1).collect();
                        heard.counts.extend(counts);
                    }
                    Some(Message::Sample(s)) if Some(s.n) == heard.probe => heard.samples.push(s),
                    _ => {}
                }
                line.clear();
            }
        }
    });
    let sampled = |code: u64| {
        let heard = heard.clone();
        move || heard.lock().unwrap().samples.iter().filter(|s| s.code == code).count() >= 5
    };
    let stop = Arc::new(AtomicBool::new(false));
    let producer = std::thread::spawn({
        let (feed, stop) = (feed.clone(), stop.clone());
        move || {
            let mut n = 0_u64;
            while !stop.load(SeqCst) {
                n += 1;
                let _ = feed.send(n);
                if n.is_multiple_of(64) {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
    });
    wait_until("items of the first version sampled", sampled(0));
    module("console-live", || live(feed.subscribe(), 0, handled.clone())).unwrap();
    wait_until("items of the second version sampled", sampled(1));
    stop.store(true, SeqCst);
    producer.join().unwrap();
    // Drained: the handler's count stops moving.
    let mut settled = handled.load(SeqCst);
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = handled.load(SeqCst);
        if now == settled {
            break;
        }
        settled = now;
    }
    wait_until("the count of every item handled", || {
        heard.lock().unwrap().counts.last() == Some(&settled)
    });
    drop(console);
    listening.join().unwrap();

    let heard = heard.lock().unwrap();
    assert!(heard.counts.is_sorted(), "counts only grow: {:?}", heard.counts);
    let codes: Vec<u64> = heard.samples.iter().map(|s| s.code).collect();
    assert!(codes.is_sorted(), "the code an item met never goes back: {codes:?}");
    for sample in &heard.samples {
        let item: u64 = sample.item.parse().expect("a u64 shows with its Debug");
        assert_eq!(item % 2, 1 - sample.code, "{sample:?} met the other version's code");
    }
    assert!(heard.samples.windows(2).all(|w| w[0].at <= w[1].at), "samples in time order");
    eprintln!("{settled} items counted, {} samples, {} ticks", codes.len(), heard.counts.len());
}

// ---- task states --------------------------------------------------------------

/// Two items, then its pipeline ends (a `source` whose inner stream ends
/// waits for the next; `hot_take_while` ends the pipeline).
#[hmr_track(key = "console::short")]
fn short(handled: Arc<AtomicU64>) -> hmr_runtime::Subscription {
    let items = source(futures::stream::iter([1_u64, 2, 3])).hot_take_while(|x| *x < 3);
    subscribe(items, move |_| {
        handled.fetch_add(1, SeqCst);
    })
}

/// A subscription's task as the console's ticks tell it: running, then
/// waiting for a rebuild once its pipeline ended, then stopped when
/// unsubscribed, then gone when its track is disposed.
#[test]
fn ticks_tell_what_each_subscriptions_task_is_doing() {
    use hmr_runtime::console::wire::TaskStatus;
    let _serial = serial();
    let runtime = hmr_tests::runtime();
    let _entered = runtime.enter();
    let console = console();
    let (mut reader, mut decoder) = attach(&console);
    wait_until("attached", || console.attached() == 1);
    let handled = Arc::new(AtomicU64::new(0));
    let subscription = module("console-short", || short(handled.clone())).unwrap();
    let track = hmr_runtime::snapshot()
        .tracks_with_key("console::short")
        .next()
        .map(|t| t.id)
        .expect("the track");
    let id = subscription.id().as_u64();
    // Reads ticks until this subscription's task is said to be `want`.
    let mut line = String::new();
    let mut told = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut until = |want: TaskStatus, told: &mut Vec<TaskStatus>| loop {
        assert!(std::time::Instant::now() < deadline, "never told {want:?}; told {told:?}");
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the program hung up");
        if let Some(Message::Tick(tick)) = decoder.decode(line.trim_end()).unwrap() {
            for task in tick.tasks.iter().filter(|t| t.id == id) {
                if task.status != TaskStatus::Gone {
                    assert_eq!(task.track, Some(track), "{task:?}");
                }
                if told.last() != Some(&task.status) {
                    told.push(task.status);
                }
            }
            if told.last() == Some(&want) {
                return;
            }
        }
    };
    until(TaskStatus::Waiting, &mut told);
    assert_eq!(handled.load(SeqCst), 2, "its pipeline ended after two items");
    subscription.unsubscribe();
    until(TaskStatus::Stopped, &mut told);
    drop(subscription);
    // Its track still holds it (stopped); a version without the track
    // disposes it, and the subscription is gone.
    module("console-short", || ()).unwrap();
    until(TaskStatus::Gone, &mut told);
    // It may have ended before the first tick saw it running.
    told.retain(|s| *s != TaskStatus::Running);
    assert_eq!(told, [TaskStatus::Waiting, TaskStatus::Stopped, TaskStatus::Gone]);
}
