//! The views, drawn from a [`State`] with ratatui.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph};

use crate::model::{Reload, State, Track};
use hmr_runtime::events::{CallReason, Change, TrackId};

/// Which view is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum View {
    /// Modules and their tracks.
    #[default]
    Graph,
    /// One line per module version.
    Reloads,
}

/// What the user chose: the view, the selected line, the filter.
#[derive(Clone, Debug, Default)]
pub struct Ui {
    /// The view shown.
    pub view: View,
    /// The selected line of each view.
    pub selected: [usize; 2],
    /// Only tracks whose path contains this (the graph view).
    pub filter: String,
    /// Typing a filter.
    pub filtering: bool,
    /// Where the events come from, for the title.
    pub source: String,
}

impl Ui {
    fn selected(&self) -> usize {
        self.selected[self.view as usize]
    }

    /// Moves the selection by `delta` lines within `len`.
    pub fn step(&mut self, delta: isize, len: usize) {
        let line = &mut self.selected[self.view as usize];
        *line = line.saturating_add_signed(delta).min(len.saturating_sub(1));
    }

    /// Shows the other view.
    pub fn switch(&mut self) {
        self.view = match self.view {
            View::Graph => View::Reloads,
            View::Reloads => View::Graph,
        };
    }
}

/// A name as one line of plain text: control characters (newlines, the
/// escape that starts a terminal sequence) are shown escaped.
#[must_use]
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn change_span(change: Option<Change>) -> Span<'static> {
    match change {
        Some(Change::FnOnly) => Span::styled("fn-only", Style::new().fg(Color::Green)),
        Some(Change::Structural) => Span::styled("structural", Style::new().fg(Color::Yellow)),
        Some(Change::Reset) => Span::styled("reset", Style::new().fg(Color::Magenta)),
        None => Span::styled("new", Style::new().fg(Color::Cyan)),
    }
}

/// A row of the graph view.
#[derive(Debug)]
pub enum Row<'a> {
    /// A module's header (`None`: tracks outside any module).
    Module(Option<&'a str>),
    /// A track, its depth, and its path below its shown ancestor.
    Track(&'a Track, usize, String),
}

/// The rows of the graph view: a header per module, then its tracks. Cheap:
/// lines are made only for the rows on screen ([`row_line`]).
#[must_use]
pub fn graph_rows<'a>(state: &'a State, filter: &str) -> Vec<Row<'a>> {
    let mut rows = Vec::new();
    for (module, tracks) in state.trees() {
        let tracks: Vec<(&Track, usize, String)> = tracks
            .into_iter()
            .filter(|(t, _, _)| filter.is_empty() || t.path.contains(filter))
            .collect();
        if tracks.is_empty() && !filter.is_empty() {
            continue;
        }
        rows.push(Row::Module(module));
        rows.extend(tracks.into_iter().map(|(t, depth, segment)| Row::Track(t, depth, segment)));
    }
    rows
}

/// The line of one row of the graph view.
#[must_use]
pub fn row_line(state: &State, row: &Row<'_>) -> Line<'static> {
    match row {
        Row::Module(Some(name)) => {
            let version = state.modules.get(*name).map_or(0, |m| m.version);
            let mut spans = vec![
                Span::styled(format!("module {}", escaped(name)), Style::new().bold()),
                Span::raw(format!(" v{version}")),
            ];
            if let Some(error) = state.modules.get(*name).and_then(|m| m.last_error.as_ref()) {
                spans.push(Span::styled(
                    format!("  failed: {}", escaped(error)),
                    Style::new().fg(Color::Red),
                ));
            }
            Line::from(spans)
        }
        Row::Module(None) => Line::from(Span::styled("(no module)", Style::new().bold())),
        Row::Track(track, depth, segment) => {
            let mut spans = vec![
                Span::raw(format!("{:indent$}{}", "", escaped(segment), indent = 2 + depth * 2)),
                Span::raw(format!("  v{} ", track.version)),
                change_span(track.change),
                Span::raw("  "),
                Span::styled(
                    escaped(track.entity.as_deref().unwrap_or("-")),
                    Style::new().fg(Color::Gray),
                ),
            ];
            if let Some(error) = track.errors.last() {
                spans.push(Span::styled(
                    format!("  error: {}", escaped(error)),
                    Style::new().fg(Color::Red),
                ));
            }
            Line::from(spans)
        }
    }
}

fn reason(reason: CallReason) -> &'static str {
    match reason {
        CallReason::Call => "call",
        CallReason::Reload => "reload",
        CallReason::Patch => "patch",
        _ => "other",
    }
}

/// The lines of the reloads view, newest first.
#[must_use]
pub fn reload_lines(state: &State) -> Vec<Line<'static>> {
    state
        .reloads
        .iter()
        .rev()
        .map(|r: &Reload| {
            let outcome = match r.committed {
                None => Span::styled("running", Style::new().fg(Color::Cyan)),
                Some(true) => Span::styled("committed", Style::new().fg(Color::Green)),
                Some(false) => Span::styled("rolled back", Style::new().fg(Color::Red)),
            };
            let mut spans = vec![
                Span::styled(format!("{} v{}", escaped(&r.module), r.version), Style::new().bold()),
                Span::raw(format!("  {:<6}  ", reason(r.reason))),
                outcome,
                Span::raw(format!(
                    "  new {}  updated {}  rebuilt {}  disposed {}",
                    r.created.len(),
                    r.updated.len(),
                    r.rebuilt.len(),
                    r.disposed.len()
                )),
            ];
            if let Some(took) = r.took {
                #[allow(clippy::cast_precision_loss, reason = "a duration shown to 0.1 ms")]
                spans.push(Span::raw(format!("  {:.1} ms", took as f64 / 1000.0)));
            }
            if let Some(error) = r.errors.first() {
                spans.push(Span::styled(
                    format!("  {} error(s): {}", r.errors.len(), escaped(error)),
                    Style::new().fg(Color::Red),
                ));
            }
            Line::from(spans)
        })
        .collect()
}

/// Draws the whole console: a title, the view, a help line.
pub fn draw(frame: &mut Frame<'_>, state: &State, ui: &Ui) {
    let [title, body, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)])
            .areas(frame.area());
    let tab = |view: View, name: &'static str| {
        if ui.view == view {
            Span::styled(format!(" {name} "), Style::new().add_modifier(Modifier::REVERSED))
        } else {
            Span::raw(format!(" {name} "))
        }
    };
    let mut heading = vec![
        Span::styled("hmr-console ", Style::new().bold()),
        tab(View::Graph, "Graph"),
        tab(View::Reloads, "Reloads"),
        Span::raw(format!(
            "  {}  {} tracks  {} events",
            escaped(&ui.source),
            state.tracks.len(),
            state.events
        )),
    ];
    if state.dropped > 0 {
        heading.push(Span::styled(
            format!("  {} dropped", state.dropped),
            Style::new().fg(Color::Red),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(heading)), title);
    match ui.view {
        View::Graph => {
            let touched: Vec<TrackId> = state
                .reloads
                .iter()
                .rev()
                .nth(ui.selected[View::Reloads as usize])
                .map(|r| r.touched().collect())
                .unwrap_or_default();
            // Lines only for the rows on screen: 10 000 tracks stay fluid.
            let rows = graph_rows(state, &ui.filter);
            let height = usize::from(body.height).max(1);
            let selected = ui.selected().min(rows.len().saturating_sub(1));
            let start = selected.saturating_sub(height / 2).min(rows.len().saturating_sub(height));
            let items: Vec<ListItem<'_>> = rows
                .iter()
                .skip(start)
                .take(height)
                .map(|row| {
                    let item = ListItem::new(row_line(state, row));
                    match row {
                        Row::Track(t, _, _) if touched.contains(&t.id) => {
                            item.style(Style::new().add_modifier(Modifier::BOLD))
                        }
                        _ => item,
                    }
                })
                .collect();
            draw_list(frame, body, items, selected - start);
        }
        View::Reloads => {
            let items: Vec<ListItem<'_>> =
                reload_lines(state).into_iter().map(ListItem::new).collect();
            draw_list(frame, body, items, ui.selected());
        }
    }
    let help = if ui.filtering {
        format!("filter: {}_   Enter: keep  Esc: clear", escaped(&ui.filter))
    } else {
        let filter = if ui.filter.is_empty() {
            String::new()
        } else {
            format!("   filter: {}", escaped(&ui.filter))
        };
        format!("Tab: view  ↑↓/jk: move  /: filter  q: quit{filter}")
    };
    frame.render_widget(Paragraph::new(help).style(Style::new().fg(Color::DarkGray)), footer);
}

fn draw_list(
    frame: &mut Frame<'_>,
    area: ratatui::layout::Rect,
    items: Vec<ListItem<'_>>,
    selected: usize,
) {
    let len = items.len();
    let list = List::new(items)
        .block(Block::new())
        .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = ListState::default();
    if len > 0 {
        state.select(Some(selected.min(len - 1)));
    }
    frame.render_stateful_widget(list, area, &mut state);
}
