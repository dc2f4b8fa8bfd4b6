//! The views, drawn from a [`State`] with ratatui.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph};

use crate::model::{Lane, Reload, State, Track};
use hmr_runtime::console::wire::TaskStatus;
use hmr_runtime::events::{CallReason, Change, TrackId};

/// Which view is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum View {
    /// Modules and their tracks.
    #[default]
    Graph,
    /// One line per module version.
    Reloads,
    /// The selected track's operators, one lane each, with their recent
    /// items on a time axis and its reloads marked.
    Marbles,
}

/// What the user chose: the view, the selected line, the filter.
#[derive(Clone, Debug, Default)]
pub struct Ui {
    /// The view shown.
    pub view: View,
    /// The selected line of each view (the marbles view shows the track
    /// selected in the graph view).
    pub selected: [usize; 3],
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
        // The marbles view's line is the graph's: it shows that track.
        let view = if self.view == View::Marbles { View::Graph } else { self.view };
        let line = &mut self.selected[view as usize];
        *line = line.saturating_add_signed(delta).min(len.saturating_sub(1));
    }

    /// Shows the next view (`Tab`).
    pub fn switch(&mut self) {
        self.view = match self.view {
            View::Graph => View::Reloads,
            View::Reloads => View::Marbles,
            View::Marbles => View::Graph,
        };
    }

    /// `Enter`: from the graph, the selected track's marbles; from the
    /// marbles, back to the graph; from the reloads, the graph with the
    /// reload's tracks in bold.
    pub fn enter(&mut self) {
        self.view = match self.view {
            View::Graph => View::Marbles,
            View::Reloads | View::Marbles => View::Graph,
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

/// Items per second, short (`950/s`, `12.5k/s`).
#[must_use]
pub fn rate_text(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.1}M/s", rate / 1e6)
    } else if rate >= 1e4 {
        format!("{:.0}k/s", rate / 1e3)
    } else if rate >= 1e3 {
        format!("{:.1}k/s", rate / 1e3)
    } else if rate >= 10.0 || rate == 0.0 {
        format!("{rate:.0}/s")
    } else {
        format!("{rate:.1}/s")
    }
}

/// `text` cut to `max` chars (a `…` ends a cut one).
fn clipped(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// What a track's subscriptions' tasks are doing (`task running`).
fn task_spans(state: &State, track: TrackId) -> Vec<Span<'static>> {
    let statuses = state.task_statuses(track);
    if statuses.is_empty() {
        return Vec::new();
    }
    let mut spans = vec![Span::raw("  task ")];
    for (i, status) in statuses.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("+"));
        }
        spans.push(match status {
            TaskStatus::Running => Span::styled("running", Style::new().fg(Color::Green)),
            TaskStatus::Waiting => Span::styled("waiting", Style::new().fg(Color::Yellow)),
            TaskStatus::Stopped => Span::styled("stopped", Style::new().fg(Color::Red)),
            _ => Span::raw("?"),
        });
    }
    spans
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
            ];
            spans.extend(task_spans(state, track.id));
            // Items per second through each counted operator, in chain
            // order, and the last item out of the chain.
            if let Some(lanes) = state.lanes.get(&track.id).filter(|l| !l.is_empty()) {
                let rates: Vec<String> =
                    lanes.iter().map(|lane| rate_text(lane.rate(state.now))).collect();
                spans.push(Span::styled(
                    format!("  {}", rates.join(" → ")),
                    Style::new().fg(Color::Blue),
                ));
                if let Some(last) = lanes.last().and_then(|l| l.samples.back()) {
                    spans.push(Span::raw(format!("  last {}", escaped(&clipped(&last.item, 24)))));
                }
            }
            spans.push(Span::raw("  "));
            spans.push(Span::styled(
                escaped(track.entity.as_deref().unwrap_or("-")),
                Style::new().fg(Color::Gray),
            ));
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

/// The time the marbles view spans (µs).
pub const MARBLES_SPAN: u64 = 10_000_000;

/// The colour of the items that met code number `code` of a lane.
fn code_colour(code: u64) -> Color {
    const PALETTE: [Color; 5] =
        [Color::Cyan, Color::Green, Color::Magenta, Color::LightBlue, Color::LightRed];
    PALETTE[usize::try_from(code % 5).unwrap_or(0)]
}

/// The track the marbles view shows: the one selected in the graph view;
/// on a module's line, the first of its tracks with counted operators (or
/// its first track).
#[must_use]
pub fn marbles_track<'a>(state: &'a State, ui: &Ui) -> Option<&'a Track> {
    let rows = graph_rows(state, &ui.filter);
    let selected = ui.selected[View::Graph as usize].min(rows.len().saturating_sub(1));
    match rows.get(selected)? {
        Row::Track(track, _, _) => Some(*track),
        Row::Module(_) => {
            let below = rows[selected + 1..].iter().map_while(|row| match row {
                Row::Track(track, _, _) => Some(*track),
                Row::Module(_) => None,
            });
            let mut first = None;
            for track in below {
                first = first.or(Some(track));
                if state.lanes.get(&track.id).is_some_and(|l| !l.is_empty()) {
                    return Some(track);
                }
            }
            first
        }
    }
}

/// The cell of time `at` on an axis of `width` cells ending at `now`
/// ([`MARBLES_SPAN`] long); `None` before it.
fn cell_of(at: u64, now: u64, width: usize) -> Option<usize> {
    let from_start = at.saturating_add(MARBLES_SPAN).checked_sub(now)?;
    let cell = u128::from(from_start) * (width as u128 - 1) / u128::from(MARBLES_SPAN);
    Some(usize::try_from(cell).unwrap_or(usize::MAX).min(width - 1))
}

/// One lane's time axis, `width` cells for the [`MARBLES_SPAN`] before
/// `state.now`: the reload moments `marks` (cells), then the items, newest
/// first, each as its text ending at its moment where that fits (with a
/// cell free before it), else as a dot where its cell is free.
fn timeline(state: &State, lane: &Lane, marks: &[usize], width: usize) -> Line<'static> {
    let mut cells: Vec<(String, Style)> =
        vec![("─".to_owned(), Style::new().fg(Color::DarkGray)); width];
    let mut taken = vec![false; width];
    for &mark in marks {
        cells[mark] = ("┃".to_owned(), Style::new().fg(Color::Yellow).bold());
        taken[mark] = true;
    }
    for sample in lane.samples.iter().rev().filter(|s| s.at <= state.now) {
        let Some(cell) = cell_of(sample.at, state.now, width) else { break };
        let style = Style::new().fg(code_colour(sample.code));
        let text: Vec<char> = escaped(&clipped(&sample.item, 10)).chars().collect();
        let fits = cell + 1 > text.len()
            && !taken[(cell + 1 - text.len()).saturating_sub(1)..=cell].iter().any(|t| *t);
        if fits {
            let first = cell + 1 - text.len();
            for (i, c) in text.into_iter().enumerate() {
                cells[first + i] = (c.to_string(), style);
                taken[first + i] = true;
            }
            // A gap before it: the next text (older) ends before the gap.
            if first > 0 {
                taken[first - 1] = true;
            }
        } else if !taken[cell] {
            cells[cell] = ("•".to_owned(), style);
            taken[cell] = true;
        }
    }
    Line::from(cells.into_iter().map(|(c, style)| Span::styled(c, style)).collect::<Vec<_>>())
}

/// The lines of the marbles view for `track`, `width` columns wide.
#[must_use]
pub fn marbles_lines(state: &State, track: Option<&Track>, width: usize) -> Vec<Line<'static>> {
    let Some(track) = track else {
        return vec![Line::from("No track selected: choose one in the graph view (Tab, ↑↓).")];
    };
    let mut header = vec![
        Span::styled(escaped(&track.path), Style::new().bold()),
        Span::raw(format!("  v{} ", track.version)),
        change_span(track.change),
    ];
    header.extend(task_spans(state, track.id));
    header.push(Span::styled(
        format!("  {}", escaped(track.entity.as_deref().unwrap_or("-"))),
        Style::new().fg(Color::Gray),
    ));
    let mut lines = vec![Line::from(header), Line::default()];
    let ops = state.lanes.get(&track.id).map(Vec::as_slice).unwrap_or_default();
    if ops.is_empty() {
        lines.push(Line::from(
            "No items counted for this track: its operators count only while a console is \
             attached (a log replay has no counts).",
        ));
        return lines;
    }
    let label = ops.iter().map(|l| escaped(l.operator()).chars().count()).max().unwrap_or(0);
    let label = label.clamp(8, 28);
    // label, a space, the rate (9), " │"
    let axis_at = label + 1 + 9 + 2;
    let width = width.saturating_sub(axis_at + 1).max(10);
    let marks: Vec<usize> = state
        .reloads
        .iter()
        .filter(|r| r.touched().any(|t| t == track.id))
        .filter_map(|r| r.began_at)
        .filter(|at| *at <= state.now)
        .filter_map(|at| cell_of(at, state.now, width))
        .collect();
    for lane in ops {
        let mut spans = vec![Span::raw(format!(
            "{:<label$} {:>9} │",
            clipped(&escaped(lane.operator()), label),
            rate_text(lane.rate(state.now))
        ))];
        spans.extend(timeline(state, lane, &marks, width).spans);
        lines.push(Line::from(spans));
    }
    let seconds = MARBLES_SPAN / 1_000_000;
    lines.push(Line::from(Span::styled(
        format!("{:axis_at$}-{seconds} s{:>pad$}", "", "now", pad = width.saturating_sub(4)),
        Style::new().fg(Color::DarkGray),
    )));
    lines.push(Line::default());
    for lane in ops {
        let Some(last) = lane.samples.back() else { continue };
        #[allow(clippy::cast_precision_loss, reason = "seconds shown to 0.1")]
        let ago = state.now.saturating_sub(last.at) as f64 / 1e6;
        lines.push(Line::from(vec![
            Span::raw(format!("{:<label$} ", clipped(&escaped(lane.operator()), label))),
            Span::styled(
                format!("last {}", escaped(&clipped(&last.item, 60))),
                Style::new().fg(code_colour(last.code)),
            ),
            Span::raw(format!("  (code {}, {ago:.1} s ago, {} items)", last.code, lane.items)),
        ]));
    }
    lines.push(Line::from(Span::styled(
        "┃ a version that touched this track   colour, code: the closure an item met (+1 per swap)",
        Style::new().fg(Color::DarkGray),
    )));
    lines
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
        tab(View::Marbles, "Marbles"),
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
        View::Marbles => {
            let lines = marbles_lines(state, marbles_track(state, ui), usize::from(body.width));
            frame.render_widget(Paragraph::new(lines), body);
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
        let enter = match ui.view {
            View::Graph => "Enter: marbles",
            View::Reloads | View::Marbles => "Enter: graph",
        };
        format!("Tab: view  {enter}  ↑↓/jk: move  /: filter  q: quit{filter}")
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
