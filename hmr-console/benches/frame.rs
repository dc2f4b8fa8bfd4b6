//! Drawing one frame of each view with 10 000 tracks (1 000 modules
//! versions in the reloads view), on ratatui's test backend: the target is
//! a frame in 16 ms or less, for scrolling and filtering to stay fluid.
//!
//! ```text
//! cargo bench -p hmr-console --bench frame
//! ```

use divan::{Bencher, black_box};
use hmr_console::model::State;
use hmr_console::view::{Ui, View, draw};
use hmr_runtime::events::Event;
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
    state
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
    frame(bencher, &Ui { view: View::Graph, selected: [5_000, 0], ..Ui::default() });
}

#[divan::bench]
fn graph_10k_tracks_filtered(bencher: Bencher<'_, '_>) {
    frame(bencher, &Ui { view: View::Graph, filter: "mod42/".into(), ..Ui::default() });
}

#[divan::bench]
fn reloads_1k_versions(bencher: Bencher<'_, '_>) {
    frame(bencher, &Ui { view: View::Reloads, ..Ui::default() });
}
