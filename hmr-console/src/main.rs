//! `hmr-console [addr]` attaches to a program serving its console
//! (`hmr_runtime::console::serve()`, address from `HMR_CONSOLE` or
//! 127.0.0.1:6670); `hmr-console --replay events.jsonl` replays a
//! `JsonLines` log with a time cursor.

use std::io::BufReader;
use std::sync::mpsc;
use std::time::Duration;

use hmr_console::model::State;
use hmr_console::source::{Incoming, attach_forever, read_log};
use hmr_console::view::{Ui, View, draw, graph_rows};
use hmr_runtime::events::Event;
use ratatui::crossterm::event::{self, Event as Input, KeyCode, KeyEventKind, KeyModifiers};

const USAGE: &str = "usage: hmr-console [ADDR]            attach to a program (default: $HMR_CONSOLE or 127.0.0.1:6670)
       hmr-console --replay FILE     replay a JsonLines log (←/→ move the time cursor)";

/// Where the events come from.
enum Feed {
    Live(mpsc::Receiver<Incoming>),
    /// A log, and how many of its events are applied (the time cursor).
    Replay(Vec<Event>, usize),
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut feed, source) = match args.as_slice() {
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{USAGE}");
            return std::process::ExitCode::SUCCESS;
        }
        [flag, file] if flag == "--replay" => {
            let log = std::fs::File::open(file).and_then(|f| read_log(BufReader::new(f)));
            match log {
                Ok((events, skipped)) => {
                    if skipped > 0 {
                        eprintln!("{file}: {skipped} lines are not events, skipped");
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

fn replayed(events: &[Event], cursor: usize) -> State {
    let mut state = State::new();
    for event in &events[..cursor] {
        state.apply(event);
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
                match incoming {
                    Incoming::Event(event, at) => state.apply_at(&event, at),
                    Incoming::Dropped(n) => state.dropped(n),
                    Incoming::Module(module) => state.restore_module(&module),
                    Incoming::Track(track) => state.restore_track(&track),
                    Incoming::Attached(program, pid) => {
                        // A program (re)started: what the console knew is stale.
                        state = State::new();
                        ui.source = format!("{program} (pid {pid})");
                    }
                    Incoming::Detached(why) => ui.source = format!("not attached: {why}"),
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
            View::Graph => graph_rows(&state, &ui.filter).len(),
            View::Reloads => state.reloads.len(),
        };
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => return Ok(()),
            KeyCode::Tab | KeyCode::Enter => ui.switch(),
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
