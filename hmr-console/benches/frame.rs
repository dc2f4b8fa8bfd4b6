//! Drawing one frame of each view with 10 000 tracks (1 000 modules
//! versions in the reloads view), each with a running subscription and two
//! counted operators and their sampled items (the marbles view's track with a full lane of samples), on
//! ratatui's test backend: the target is a frame in 16 ms or less, for
//! scrolling and filtering to stay fluid.
//!
//! ```text
//! cargo bench -p hmr-console --bench frame
//! ```

use divan::{Bencher, black_box};
use hmr_console::model::{SAMPLES_KEPT, State};
use hmr_console::view::{Ui, View, draw};
use hmr_runtime::console::wire::{ProbeState, SampleState, Task, TaskStatus, Tick};
use hmr_runtime::events::{Event, TrackId};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    divan::main();
}

/// 100 modules of 100 tracks each, each track updated once; 10 versions
/// per module.
fn big_state() -> State {
    let mut state = State::new();
    for m in 0..100 {
        for v in 1..=10u64 {
            let call = format!(
                r#"{{"type":"hmr-module-call","module":"mod{m}","version":{v},"reason":"reload"}}"#
            );
            state.apply(&serde_json::from_str::<Event>(&call).unwrap());
            for t in 0..100u64 {
                let id = m * 1000 + t + 1;
                let path = format!("mod{m}/app::pipeline#{t}");
                let lines = [
                    format!(
                        r#"{{"type":"track-call","id":"{id:x}","call":{id},"key":"app::pipeline","path":"{path}","parent":null,"site":{{"file":"src/main.rs","line":1,"column":1}},"module":{{"name":"mod{m}","version":{v}}}}}"#
                    ),
                    format!(
                        r#"{{"type":"pipe-call-return","entity":{id},"track":"{id:x}","call":{id},"name":"source.hot_map(fn)","shape":1}}"#
                    ),
                    format!(
                        r#"{{"type":"track-call-return","id":"{id:x}","call":{id},"entity":{id},"outcome":"returned"}}"#
                    ),
                ];
                for line in lines {
                    state.apply(&serde_json::from_str::<Event>(&line).unwrap());
                }
            }
            let done = format!(
                r#"{{"type":"hmr-module-call-return","module":"mod{m}","committed":true,"error":null}}"#
            );
            state.apply(&serde_json::from_str::<Event>(&done).unwrap());
        }
    }
    assert_eq!(state.tracks.len(), 10_000);
    // Two counted operators per track, ticks every 50 ms for a second, a
    // sample per operator and tick; SAMPLES_KEPT for the track the marbles
    // view shows.
    let ids: Vec<TrackId> = state.tracks.keys().copied().collect();
    for (i, id) in ids.iter().enumerate() {
        for (k, name) in ["source", "source.hot_map(fn)"].into_iter().enumerate() {
            let n = (i * 2 + k) as u64;
            state.probe(&ProbeState { n, track: Some(*id), name: name.to_owned() });
        }
    }
    // And a subscription per track, running.
    let tasks = ids
        .iter()
        .enumerate()
        .map(|(i, id)| Task { id: i as u64, track: Some(*id), status: TaskStatus::Running })
        .collect();
    let items = (0..ids.len() as u64 * 2).map(|n| (n, 0)).collect();
    state.tick(&Tick { at: 1, items, full: true, tasks });
    assert_eq!(state.lanes.len(), 10_000);
    for tick in 1..=20u64 {
        let at = tick * 50_000;
        let items = (0..ids.len() as u64 * 2).map(|n| (n, tick * 100)).collect();
        state.tick(&Tick { at, items, ..Tick::default() });
        for n in 0..ids.len() as u64 * 2 {
            let sample = SampleState { n, at, code: 0, item: format!("{}", tick * 7) };
            state.sample(&sample);
        }
    }
    let marbles = ids.iter().position(|id| *id == marbled(&state)).unwrap() as u64;
    for s in 0..SAMPLES_KEPT as u64 {
        for k in 0..2 {
            let at = 1_000_000 + s * 10_000;
            let sample = SampleState { n: marbles * 2 + k, at, code: s / 200, item: s.to_string() };
            state.sample(&sample);
        }
    }
    state
}

/// The track the marbles benchmark shows: the graph's row 5 000.
fn marbled(state: &State) -> TrackId {
    let ui = Ui { view: View::Marbles, selected: [5_000, 0, 0], ..Ui::default() };
    hmr_console::view::marbles_track(state, &ui).unwrap().id
}

fn frame(bencher: Bencher<'_, '_>, ui: &Ui) {
    let state = big_state();
    let mut terminal = Terminal::new(TestBackend::new(160, 50)).unwrap();
    bencher.bench_local(|| {
        terminal.draw(|frame| draw(frame, black_box(&state), black_box(ui))).unwrap();
    });
}

#[divan::bench]
fn graph_10k_tracks(bencher: Bencher<'_, '_>) {
    frame(bencher, &Ui { view: View::Graph, selected: [5_000, 0, 0], ..Ui::default() });
}

#[divan::bench]
fn marbles_10k_tracks(bencher: Bencher<'_, '_>) {
    frame(bencher, &Ui { view: View::Marbles, selected: [5_000, 0, 0], ..Ui::default() });
}

#[divan::bench]
fn graph_10k_tracks_filtered(bencher: Bencher<'_, '_>) {
    frame(bencher, &Ui { view: View::Graph, filter: "mod42/".into(), ..Ui::default() });
}

#[divan::bench]
fn reloads_1k_versions(bencher: Bencher<'_, '_>) {
    frame(bencher, &Ui { view: View::Reloads, ..Ui::default() });
}
