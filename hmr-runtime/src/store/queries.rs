//! Reading the store: a snapshot, a derived path, the tree.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::records::Store;
use crate::events::TrackId;
use crate::store::store;

/// A consistent copy of the store.
#[must_use]
pub fn snapshot() -> Store {
    let mut copy = store().clone();
    copy.open.clear();
    copy.staged.clear();
    copy
}

/// The structural path of `track`, rebuilt from its chain of stored parents
/// (`m/app::outer#0/app::inner#1`). Where a parent scope captured nothing (and
/// so is not stored), the path the track recorded supplies the prefix.
#[must_use]
pub fn derive_structural_path(store: &Store, track: TrackId) -> Option<String> {
    let record = store.track(track)?;
    let Some(parent) = record.parent.and_then(|p| store.track(p)) else {
        return Some(record.path.to_string());
    };
    // The segment after the parent's recorded path (a key may contain `/`).
    let segment = record
        .path
        .strip_prefix(parent.path.as_str())
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or(&record.path);
    let prefix = derive_structural_path(store, parent.id)?;
    Some(format!("{prefix}/{segment}"))
}

/// The stored tracks as an indented tree, one module at a time, with
/// versions, last change and entity names:
///
/// ```text
/// module demo v2
///   demo::prices#0 v2 fn-only  source.hot_map(fn)
///     demo::inner#0 v1  source
/// ```
#[must_use]
pub fn render_tree() -> String {
    render(&snapshot())
}

pub(crate) fn render(store: &Store) -> String {
    let mut children: BTreeMap<Option<TrackId>, Vec<TrackId>> = BTreeMap::new();
    for t in store.tracks() {
        // A track whose parent scope is not stored hangs under its module;
        // its full path shows the scopes in between.
        let parent = t.parent.filter(|p| store.track(*p).is_some());
        children.entry(parent).or_default().push(t.id);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| store.tracks[a].path.cmp(&store.tracks[b].path));
    }
    let mut out = String::new();
    let mut groups: BTreeMap<Option<&str>, Vec<TrackId>> = BTreeMap::new();
    for id in children.get(&None).into_iter().flatten() {
        groups
            .entry(store.tracks[id].module.as_ref().map(|m| m.name.as_str()))
            .or_default()
            .push(*id);
    }
    for (module, roots) in &groups {
        let prefix = if let Some(name) = module {
            let version = store.module(name).map_or(0, |m| m.version);
            let _ = writeln!(out, "module {} v{version}", Escaped(name));
            format!("{name}/")
        } else {
            let _ = writeln!(out, "(no module)");
            String::new()
        };
        for id in roots {
            render_track(store, &children, *id, 1, &prefix, &mut out);
        }
    }
    out
}

fn render_track(
    store: &Store,
    children: &BTreeMap<Option<TrackId>, Vec<TrackId>>,
    id: TrackId,
    depth: usize,
    prefix: &str,
    out: &mut String,
) {
    let t = &store.tracks[&id];
    let segment = t.path.strip_prefix(prefix).unwrap_or(&t.path);
    let change = match t.change {
        Some(c) => serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        None => String::new(),
    };
    let entity = store.entity_name(id).unwrap_or("-");
    let _ = writeln!(
        out,
        "{:indent$}{} v{} {change} {} [{id}]",
        "",
        Escaped(segment),
        t.version,
        Escaped(entity),
        indent = depth * 2
    );
    for child in children.get(&Some(id)).into_iter().flatten() {
        render_track(store, children, *child, depth + 1, &format!("{}/", t.path), out);
    }
}

/// A name as one line of plain text: control characters (newlines, the
/// escape that starts a terminal sequence) are written as escapes (`\n`,
/// `\u{1b}`), so a name cannot break the tree's lines or restyle a terminal.
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write as _;
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}
