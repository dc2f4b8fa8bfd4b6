//! Each view, rendered from a recorded log (tests/fixtures/desk.jsonl, made
//! by `cargo run -p hmr-tests --example record_log`) with ratatui's test
//! backend, against the screens in tests/snapshots/. After a deliberate
//! change to a view, `UPDATE_SNAPSHOTS=1 cargo test -p hmr-console` writes
//! them anew (review the diff).

use std::io::BufReader;

use hmr_console::model::State;
use hmr_console::source::{read_log, read_replay};
use hmr_console::view::{Ui, View, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn desk() -> Vec<hmr_runtime::events::Event> {
    let file =
        std::fs::File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/desk.jsonl"))
            .unwrap();
    let (events, skipped) = read_log(BufReader::new(file)).unwrap();
    assert_eq!(skipped, 0);
    events
}

fn state_after(events: &[hmr_runtime::events::Event]) -> State {
    let mut state = State::new();
    for event in events {
        state.apply(event);
    }
    state
}

/// The screen as text, one line per row, trailing spaces cut.
fn screen(state: &State, ui: &Ui) -> String {
    let mut terminal = Terminal::new(TestBackend::new(110, 16)).unwrap();
    terminal.draw(|frame| draw(frame, state, ui)).unwrap();
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        let row: String = (0..buffer.area.width).map(|x| buffer[(x, y)].symbol()).collect();
        text.push_str(row.trim_end());
        text.push('\n');
    }
    text
}

fn check(name: &str, got: &str) {
    let path = format!("{}/tests/snapshots/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{path} missing: run with UPDATE_SNAPSHOTS=1"));
    assert_eq!(got, want, "{name}: the screen changed (UPDATE_SNAPSHOTS=1 rewrites it)");
}

fn ui(view: View) -> Ui {
    Ui { view, source: "replay desk.jsonl".to_owned(), ..Ui::default() }
}

#[test]
fn graph_after_every_version() {
    let state = state_after(&desk());
    let text = screen(&state, &ui(View::Graph));
    // What the log says happened, read off the screen.
    assert!(text.contains("module desk v3"), "{text}");
    assert!(text.contains("failed: a broken edit"), "{text}");
    assert!(!text.contains("MSFT"), "disposed in v3: {text}");
    assert!(text.contains("structural"), "{text}");
    check("graph", &text);
}

#[test]
fn graph_filtered() {
    let state = state_after(&desk());
    let mut ui = ui(View::Graph);
    ui.filter = "NVDA".to_owned();
    let text = screen(&state, &ui);
    assert!(text.contains("NVDA") && !text.contains("AAPL"), "{text}");
    check("graph-filtered", &text);
}

#[test]
fn reloads_one_line_per_version() {
    let state = state_after(&desk());
    let text = screen(&state, &ui(View::Reloads));
    for version in ["desk v1", "desk v2", "desk v3", "desk v4"] {
        assert!(text.contains(version), "{version}: {text}");
    }
    assert!(text.contains("rolled back"), "{text}");
    check("reloads", &text);
}

/// The time cursor: the graph as it was after the first version.
#[test]
fn graph_at_the_first_version() {
    let events = desk();
    let end = events
        .iter()
        .position(|e| matches!(e, hmr_runtime::events::Event::HmrModuleCallReturn { .. }))
        .unwrap();
    let state = state_after(&events[..=end]);
    let text = screen(&state, &ui(View::Graph));
    assert!(text.contains("module desk v1") && text.contains("MSFT"), "{text}");
    check("graph-v1", &text);
}

/// Names are shown escaped: a newline or a terminal escape in a name
/// cannot break a line or restyle the terminal.
#[test]
fn control_characters_are_escaped() {
    let mut state = State::new();
    let line =
        r#"{"type":"hmr-module-call","module":"evil\n\u001b[31m","version":1,"reason":"call"}"#;
    state.apply(&serde_json::from_str(line).unwrap());
    let done = r#"{"type":"hmr-module-call-return","module":"evil\n\u001b[31m","committed":true,"error":null}"#;
    state.apply(&serde_json::from_str(done).unwrap());
    let text = screen(&state, &ui(View::Graph));
    assert!(text.contains(r"module evil\n\u{1b}[31m"), "{text}");
}

/// A version that updated a track and then panicked is rolled back by the
/// program without events: the console puts the track back too.
#[test]
fn a_rolled_back_version_leaves_the_graph_as_it_was() {
    let lines = [
        r#"{"type":"hmr-module-call","module":"m","version":1,"reason":"call"}"#,
        r#"{"type":"track-call","id":"1","call":1,"key":"k","path":"m/k#0","parent":null,"site":{"file":"f","line":1,"column":1},"module":{"name":"m","version":1}}"#,
        r#"{"type":"pipe-call-return","entity":1,"track":"1","call":1,"name":"source","shape":1}"#,
        r#"{"type":"track-call-return","id":"1","call":1,"entity":1,"outcome":"returned"}"#,
        r#"{"type":"hmr-module-call-return","module":"m","committed":true,"error":null}"#,
        r#"{"type":"hmr-module-call","module":"m","version":2,"reason":"reload"}"#,
        r#"{"type":"track-call","id":"1","call":2,"key":"k","path":"m/k#0","parent":null,"site":{"file":"f","line":1,"column":1},"module":{"name":"m","version":2}}"#,
        r#"{"type":"pipe-call-return","entity":2,"track":"1","call":2,"name":"source.hot_map(fn)","shape":2}"#,
        r#"{"type":"track-call-return","id":"1","call":2,"entity":2,"outcome":"returned"}"#,
        r#"{"type":"track-update","id":"1","version":2,"change":"structural","prev_entity":1}"#,
        r#"{"type":"track-call","id":"2","call":3,"key":"j","path":"m/j#0","parent":null,"site":{"file":"f","line":2,"column":1},"module":{"name":"m","version":2}}"#,
        r#"{"type":"pipe-call-return","entity":3,"track":"2","call":3,"name":"source","shape":1}"#,
        r#"{"type":"track-call-return","id":"2","call":3,"entity":3,"outcome":"returned"}"#,
        r#"{"type":"hmr-module-call-return","module":"m","committed":false,"error":"boom"}"#,
    ];
    let events: Vec<hmr_runtime::events::Event> =
        lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let before = state_after(&events[..5]);
    let after = state_after(&events);
    assert_eq!(after.tracks, before.tracks, "the update and the new track are undone");
    assert_eq!(after.modules["m"].version, 1);
    assert_eq!(after.modules["m"].last_error.as_deref(), Some("boom"));
}

/// Live, the program stamps its events: a reload shows how long it took,
/// from its call to its return.
#[test]
fn a_stamped_reload_shows_how_long_it_took() {
    let call = r#"{"type":"hmr-module-call","module":"m","version":1,"reason":"reload"}"#;
    let done = r#"{"type":"hmr-module-call-return","module":"m","committed":true,"error":null}"#;
    let mut state = State::new();
    state.apply_at(&serde_json::from_str(call).unwrap(), Some(1_000));
    state.apply_at(&serde_json::from_str(done).unwrap(), Some(3_500));
    assert_eq!(state.reloads[0].took, Some(2_500));
    let text = screen(&state, &ui(View::Reloads));
    assert!(text.contains("m v1  reload  committed") && text.contains("2.5 ms"), "{text}");
}

/// A recorded console session (tests/fixtures/session.jsonl, made by
/// `cargo run -p hmr-tests --example record_session`): a ticking pipeline
/// through a fn-only edit (× 10 → × 100) and a structural one (a
/// `hot_filter` added), with the operators' counts and sampled items.
fn session() -> State {
    let file =
        std::fs::File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/session.jsonl"))
            .unwrap();
    let (lines, skipped) = read_replay(BufReader::new(file)).unwrap();
    assert_eq!(skipped, 0);
    let mut state = State::new();
    for line in &lines {
        state.take(line);
    }
    state
}

#[test]
fn marbles_show_each_operators_items_and_the_code_they_met() {
    let state = session();
    let track = *state.tracks.keys().next().unwrap();
    let lanes = &state.lanes[&track];
    let names: Vec<&str> = lanes.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["source.hot_map(fn)", "source.hot_map(fn).hot_filter(fn)"]);
    // The map's lane went on through the fn-only edit (one operator, its
    // closure swapped) and the rebuild (a new operator, the same lane):
    // three codes, × 10 then × 100.
    let map = &lanes[0];
    let codes: Vec<u64> = map.samples.iter().map(|s| s.code).collect();
    assert!(
        codes.is_sorted() && codes.first() == Some(&0) && codes.last() == Some(&2),
        "{codes:?}"
    );
    // Ticks 1–100 ran version 1 (× 10: at most 1 000), 101–200 version 2
    // (× 100: 10 100 and more), 201–300 version 3.
    for sample in &map.samples {
        let item: u64 = sample.item.parse().unwrap();
        if sample.code == 0 {
            assert!(item.is_multiple_of(10) && item <= 1_000, "{sample:?} met v1's code");
        } else {
            assert!(item.is_multiple_of(100) && item >= 10_100, "{sample:?} met a later code");
        }
    }
    // The filter only saw the third version's items: multiples of 200.
    assert!(lanes[1].samples.iter().all(|s| s.item.parse::<u64>().unwrap() % 200 == 0));
    assert!(map.items >= lanes[1].items && lanes[1].items > 0, "{} {}", map.items, lanes[1].items);
    let mut ui = ui(View::Marbles);
    ui.selected[View::Graph as usize] = 1;
    ui.source = "replay session.jsonl".to_owned();
    let text = screen(&state, &ui);
    assert!(text.contains("hot_map(fn)") && text.contains("hot_filter(fn)"), "{text}");
    let axis: Vec<&str> = text.lines().filter(|l| l.contains(" │")).collect();
    let marks: usize = axis.iter().map(|l| l.matches('┃').count()).sum();
    assert_eq!(marks, 3 * 2, "three versions marked in two lanes: {text}");
    check("marbles", &text);
}

#[test]
fn graph_shows_items_per_second_and_the_last_item() {
    let state = session();
    let text = screen(&state, &ui(View::Graph));
    let rates = text.lines().find(|l| l.contains("session::prices#0")).unwrap();
    assert!(rates.contains("task running"), "its subscription's task: {rates}");
    // The map's rate, then the filter's: the filter lets half through.
    let numbers: Vec<f64> =
        rates.split("/s").filter_map(|part| part.rsplit(' ').next()?.parse().ok()).collect();
    assert_eq!(numbers.len(), 2, "{rates}");
    assert!((numbers[0] / numbers[1] - 2.0).abs() < 0.2, "{rates}");
    assert!(text.contains("last "), "{text}");
    check("graph-session", &text);
}

fn tid(n: u64) -> hmr_runtime::events::TrackId {
    serde_json::from_str(&format!("\"{n:x}\"")).unwrap()
}

fn probe_at(state: &mut State, n: u64, track: hmr_runtime::events::TrackId, name: &str) {
    state.probe(&hmr_runtime::console::wire::ProbeState {
        n,
        track: Some(track),
        name: name.to_owned(),
    });
}

/// The program sends a tick every 50 ms even when nothing changed: a
/// pipeline that stops shows 0/s a second later, not its last rate.
#[test]
fn a_lanes_rate_falls_to_zero_when_its_items_stop() {
    use hmr_runtime::console::wire::Tick;
    let track = tid(7);
    let mut state = State::new();
    probe_at(&mut state, 1, track, "source.hot_map(fn)");
    for t in 1..=20u64 {
        state.tick(&Tick { at: t * 50_000, items: vec![(1, t * 5)], ..Tick::default() });
    }
    let lane = &state.lanes[&track][0];
    let rate = lane.rate(state.now);
    assert!((rate - 100.0).abs() < 1.0, "5 items per 50 ms: {rate}");
    for t in 21..=50u64 {
        state.tick(&Tick { at: t * 50_000, ..Tick::default() });
    }
    assert!(state.lanes[&track][0].rate(state.now) < f64::EPSILON, "stopped");
    assert_eq!(state.lanes[&track][0].items, 100);
}

/// A full tick lists every living operator: the console forgets the
/// others, and a track's lanes with them once the track is gone.
#[test]
fn a_full_tick_forgets_operators_gone() {
    use hmr_runtime::console::wire::{SampleState, Tick};
    let (a, b) = (tid(1), tid(2));
    let mut state = State::new();
    probe_at(&mut state, 1, a, "source.hot_map(fn)");
    probe_at(&mut state, 2, b, "source.hot_map(fn)");
    state.tick(&Tick { at: 1, items: vec![(1, 1), (2, 1)], full: true, ..Tick::default() });
    assert_eq!(state.lanes.len(), 2);
    state.tick(&Tick { at: 2, items: vec![(1, 2)], full: true, ..Tick::default() });
    assert_eq!(state.lanes.keys().copied().collect::<Vec<_>>(), [a], "b's operator is gone");
    // A sample of a forgotten probe is ignored.
    state.sample(&SampleState { n: 2, at: 3, code: 0, item: "late".into() });
    assert!(state.lanes[&a][0].samples.is_empty());
}

/// Numbers a broken or hostile program sends cannot panic the console
/// (overflowing counts, times at the end of `u64`) or grow a track's lanes
/// without bound.
#[test]
fn hostile_counts_and_times_do_not_break_the_console() {
    use hmr_runtime::console::wire::{SampleState, Tick};
    let track = tid(9);
    let mut state = State::new();
    probe_at(&mut state, 1, track, "a");
    probe_at(&mut state, 2, track, "a");
    state.tick(&Tick {
        at: u64::MAX,
        items: vec![(1, u64::MAX), (2, u64::MAX)],
        ..Tick::default()
    });
    state.sample(&SampleState { n: 1, at: u64::MAX, code: u64::MAX, item: "x".into() });
    state.sample(&SampleState { n: 2, at: 0, code: 0, item: "\u{1b}[2J".into() });
    for n in 3..1_000 {
        probe_at(&mut state, n, track, &format!("a.op{n}"));
    }
    assert_eq!(state.lanes[&track].len(), hmr_console::model::LANES_MAX);
    assert_eq!(state.lanes[&track][0].items, u64::MAX);
    let _ = state.lanes[&track][0].rate(state.now);
    let mut ui = ui(View::Marbles);
    ui.selected[View::Graph as usize] = 0;
    let mut terminal = Terminal::new(TestBackend::new(3, 3)).unwrap();
    terminal.draw(|frame| draw(frame, &state, &ui)).unwrap();
    let text = screen(&state, &ui);
    assert!(!text.contains('\u{1b}'), "{text}");
}
