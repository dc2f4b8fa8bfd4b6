//! `hmr-console [addr]` attaches to a program serving its console
//! (`hmr_runtime::console::serve()`, address from `HMR_CONSOLE` or
//! 127.0.0.1:6670); `hmr-console --replay events.jsonl` replays a
//! `JsonLines` log with a time cursor.

use std::io::BufReader;
use std::sync::mpsc;
use std::time::Duration;

use hmr_console::model::State;
use hmr_console::source::{Incoming, attach_forever, read_replay};
use hmr_console::view::{Ui, View, draw, graph_rows};
use ratatui::crossterm::event::{self, Event as Input, KeyCode, KeyEventKind, KeyModifiers};

const USAGE: &str = "usage: hmr-console [ADDR]            attach to a program (default: $HMR_CONSOLE or 127.0.0.1:6670)
       hmr-console --replay FILE     replay a JsonLines log or a recorded session (←/→ move the time cursor)";

/// Where the events come from.
enum Feed {
    Live(mpsc::Receiver<Incoming>),
    /// A log or a recording, and how many of its lines are applied (the
    /// time cursor).
    Replay(Vec<Incoming>, usize),
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut feed, source) = match args.as_slice() {
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{USAGE}");
            return std::process::ExitCode::SUCCESS;
        }
        [flag, file] if flag == "--replay" => {
            let log = std::fs::File::open(file).and_then(|f| read_replay(BufReader::new(f)));
            match log {
                Ok((events, skipped)) => {
                    if skipped > 0 {
                        eprintln!("{file}: {skipped} lines are not events or messages, skipped");
                    }
                    let len = events.len();
                    (Feed::Replay(events, len), format!("replay {file}"))
                }
                Err(e) => {
                    eprintln!("hmr-console: cannot read {file}: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            }
        }
        [] | [_] => {
            let addr = args.first().cloned().unwrap_or_else(|| {
                std::env::var("HMR_CONSOLE").unwrap_or_else(|_| "127.0.0.1:6670".to_owned())
            });
            let (to, from) = mpsc::channel();
            let target = addr.clone();
            std::thread::spawn(move || attach_forever(&target, &to));
            (Feed::Live(from), format!("attaching to {addr}"))
        }
        _ => {
            eprintln!("{USAGE}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut terminal = ratatui::init();
    let result = run(&mut terminal, &mut feed, source);
    ratatui::restore();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hmr-console: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn replayed(lines: &[Incoming], cursor: usize) -> State {
    let mut state = State::new();
    for line in &lines[..cursor] {
        state.take(line);
    }
    state
}

fn run(
    terminal: &mut ratatui::DefaultTerminal,
    feed: &mut Feed,
    source: String,
) -> std::io::Result<()> {
    let mut ui = Ui { source, ..Ui::default() };
    let mut state = match feed {
        Feed::Replay(events, cursor) => replayed(events, *cursor),
        Feed::Live(_) => State::new(),
    };
    let mut dirty = true;
    loop {
        if let Feed::Live(from) = feed {
            while let Ok(incoming) = from.try_recv() {
                // A program (re)started: what the console knew is stale
                // (`take` starts afresh).
                state.take(&incoming);
                match incoming {
                    Incoming::Attached(program, pid) => {
                        ui.source = format!("{program} (pid {pid})");
                    }
                    Incoming::Detached(why) => ui.source = format!("not attached: {why}"),
                    _ => {}
                }
                dirty = true;
            }
        }
        if dirty {
            terminal.draw(|frame| draw(frame, &state, &ui))?;
            dirty = false;
        }
        if !event::poll(Duration::from_millis(50))? {
            continue;
        }
        let Input::Key(key) = event::read()? else {
            dirty = true; // a resize
            continue;
        };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        dirty = true;
        if ui.filtering {
            match key.code {
                KeyCode::Enter => ui.filtering = false,
                KeyCode::Esc => {
                    ui.filtering = false;
                    ui.filter.clear();
                }
                KeyCode::Backspace => {
                    ui.filter.pop();
                }
                KeyCode::Char(c) => ui.filter.push(c),
                _ => {}
            }
            continue;
        }
        let len = match ui.view {
            // In the marbles view ↑↓ choose the track: the graph's selection.
            View::Graph | View::Marbles => graph_rows(&state, &ui.filter).len(),
            View::Reloads => state.reloads.len(),
        };
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => return Ok(()),
            KeyCode::Tab => ui.switch(),
            KeyCode::Enter => ui.enter(),
            KeyCode::Up | KeyCode::Char('k') => ui.step(-1, len),
            KeyCode::Down | KeyCode::Char('j') => ui.step(1, len),
            KeyCode::PageUp => ui.step(-20, len),
            KeyCode::PageDown => ui.step(20, len),
            KeyCode::Char('/') => ui.filtering = true,
            KeyCode::Left | KeyCode::Right | KeyCode::Char('h' | 'l') => {
                if let Feed::Replay(events, cursor) = feed {
                    let back = matches!(key.code, KeyCode::Left | KeyCode::Char('h'));
                    *cursor = if back {
                        cursor.saturating_sub(1)
                    } else {
                        (*cursor + 1).min(events.len())
                    };
                    state = replayed(events, *cursor);
                    ui.source = format!("replay: event {} of {}", cursor, events.len());
                }
            }
            _ => {}
        }
    }
}
