//! The runtime's layering: no import cycle between its files, nor between its
//! top-level modules. Reads the sources, follows every `crate::…` and
//! `super::…` path (in `use` items, groups included, and in code) to the file
//! that defines the module it names, and looks for strongly connected
//! components of that graph.
//!
//! A path through the crate root's re-exports (`crate::Source`,
//! `crate::streams::Source`) counts as the module that defines the item; a
//! file a `#[path]` attribute includes counts as the module it is declared
//! as.
//!
//! On a failure, `cargo test -p hmr-runtime --test layers -- --nocapture`
//! lists each cycle and the imports that close it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path (`["entities", "graph"]`) for each source file.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut pending = vec![src.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut module: Vec<String> =
                relative.iter().map(|s| s.to_string_lossy().into_owned()).collect();
            if module.last().is_some_and(|last| last == "mod" || last == "lib") {
                module.pop();
            }
            out.insert(module, path);
        }
    }
    out
}

/// Files included with `#[path = "file.rs"] mod name;`: each file (by
/// path) and the module it is declared as, from the declaring files.
fn declared_paths(modules: &BTreeMap<Vec<String>, PathBuf>) -> BTreeMap<PathBuf, Vec<String>> {
    let mut out = BTreeMap::new();
    for (module, path) in modules {
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines = text.lines().map(str::trim);
        while let Some(line) = lines.next() {
            let Some(file) =
                line.strip_prefix("#[path = \"").and_then(|rest| rest.strip_suffix("\"]"))
            else {
                continue;
            };
            // The `mod name;` it applies to (other attributes may sit between).
            let Some(name) = lines.by_ref().find_map(|l| {
                let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
                l.strip_prefix("mod ").and_then(|rest| rest.strip_suffix(';'))
            }) else {
                continue;
            };
            let included = path.parent().unwrap().join(file);
            let mut declared = module.clone();
            declared.push(name.trim().to_owned());
            out.insert(included, declared);
        }
    }
    out
}

/// The crate root's re-exports: each path an item is reachable by through
/// them (`["Source"]`, `["streams", "Source"]`) and the path that defines
/// it (`["entities", "source", "Source"]`).
fn reexports(lib: &str) -> BTreeMap<Vec<String>, Vec<String>> {
    let mut out: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    // `pub mod name { pub use crate::…; }`: items named `name::item`.
    let mut rest = lib;
    while let Some(at) = rest.find("pub mod ") {
        rest = &rest[at + "pub mod ".len()..];
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let after = rest[name.len()..].trim_start();
        let Some(body) = after.strip_prefix('{') else { continue };
        let body = &body[..body.find('}').map_or(body.len(), |end| {
            // The block ends at the first `}` at depth 0 (groups nest).
            let mut depth = 0usize;
            body.char_indices()
                .find(|&(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => return true,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    false
                })
                .map_or(end, |(i, _)| i)
        })];
        for path in paths_named(body, &[]) {
            if let Some(item) = path.last() {
                out.insert(vec![name.clone(), item.clone()], path.clone());
            }
        }
    }
    // Root `pub use a::b::{c, d};`: items named `c`, `d`.
    for line_start in lib.match_indices("\npub use ").map(|(i, _)| i + "\npub use ".len()) {
        let mut found = Vec::new();
        read_tree(lib, line_start, Vec::new(), &mut found);
        for path in found {
            let Some(item) = path.last().cloned() else { continue };
            let defined = out.get(&path).cloned().unwrap_or(path);
            out.insert(vec![item], defined);
        }
    }
    out
}

/// The code of a file without its comments (doc links are not imports).
fn code(text: &str) -> String {
    text.lines()
        .map(|line| line.split_once("//").map_or(line, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every module path the code names, absolute (`crate::a::b::{c, d::e}`,
/// `super::x`), expanded through groups.
fn paths_named(code: &str, here: &[String]) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let starts_word = i == 0 || !is_ident(bytes[i - 1]);
        let base = if starts_word && rest.starts_with(b"crate::") {
            i += "crate::".len();
            Some(Vec::new())
        } else if starts_word && rest.starts_with(b"super::") {
            let mut base = here.to_vec();
            while bytes[i..].starts_with(b"super::") {
                base.pop();
                i += "super::".len();
            }
            Some(base)
        } else {
            None
        };
        match base {
            Some(base) => i = read_tree(code, i, base, &mut found),
            None => i += 1,
        }
    }
    found
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Reads `a::b::{c, d::e}` at `i` under `prefix`; returns where it ends.
fn read_tree(
    code: &str,
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    let bytes = code.as_bytes();
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < bytes.len() && bytes[i] == b'{' {
            i += 1;
            loop {
                i = read_tree(code, i, prefix.clone(), out);
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                match bytes.get(i) {
                    Some(b',') => i += 1,
                    Some(b'}') => return i + 1,
                    _ => return i,
                }
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                if bytes.get(i) == Some(&b'}') {
                    return i + 1;
                }
            }
        }
        let start = i;
        while i < bytes.len() && is_ident(bytes[i]) {
            i += 1;
        }
        if start == i {
            out.push(prefix);
            return i;
        }
        prefix.push(code[start..i].to_owned());
        if bytes[i..].starts_with(b"::") {
            i += 2;
        } else {
            out.push(prefix);
            return i;
        }
    }
}

/// The file of the longest module prefix of `path`.
fn file_of<'a>(
    modules: &'a BTreeMap<Vec<String>, PathBuf>,
    path: &[String],
) -> Option<&'a Vec<String>> {
    (0..=path.len()).rev().find_map(|n| modules.get_key_value(&path[..n]).map(|(k, _)| k))
}

/// Strongly connected components of more than one node (Tarjan).
fn cycles<N: Ord + Clone>(edges: &BTreeMap<N, BTreeSet<N>>) -> Vec<Vec<N>> {
    struct State<N> {
        index: BTreeMap<N, usize>,
        low: BTreeMap<N, usize>,
        stack: Vec<N>,
        on_stack: BTreeSet<N>,
        out: Vec<Vec<N>>,
    }
    fn visit<N: Ord + Clone>(n: &N, edges: &BTreeMap<N, BTreeSet<N>>, s: &mut State<N>) {
        let i = s.index.len();
        s.index.insert(n.clone(), i);
        s.low.insert(n.clone(), i);
        s.stack.push(n.clone());
        s.on_stack.insert(n.clone());
        for m in edges.get(n).into_iter().flatten() {
            if !s.index.contains_key(m) {
                visit(m, edges, s);
                let low = s.low[n].min(s.low[m]);
                s.low.insert(n.clone(), low);
            } else if s.on_stack.contains(m) {
                let low = s.low[n].min(s.index[m]);
                s.low.insert(n.clone(), low);
            }
        }
        if s.low[n] == s.index[n] {
            let mut component = Vec::new();
            while let Some(m) = s.stack.pop() {
                s.on_stack.remove(&m);
                let done = m == *n;
                component.push(m);
                if done {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut state = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for n in edges.keys() {
        if !state.index.contains_key(n) {
            visit(n, edges, &mut state);
        }
    }
    state.out
}

/// The import graph of the runtime's files, and of its top-level modules.
fn graphs() -> (BTreeMap<String, BTreeSet<String>>, BTreeMap<String, BTreeSet<String>>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = modules(&src);
    // Files included by `#[path]` are the modules they are declared as.
    for (file, declared) in declared_paths(&modules) {
        modules.retain(|_, path| *path != file);
        modules.insert(declared, file);
    }
    let lib = code(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let reexported = reexports(&lib);
    // A path through the root's re-exports names the module defining it.
    let resolve = |path: Vec<String>| -> Vec<String> {
        (1..=path.len())
            .rev()
            .find_map(|n| {
                let defined = reexported.get(&path[..n])?;
                Some(defined.iter().chain(&path[n..]).cloned().collect())
            })
            .unwrap_or(path)
    };
    let name = |m: &[String]| if m.is_empty() { "lib".to_owned() } else { m.join("::") };
    let top = |m: &[String]| m.first().cloned().unwrap_or_else(|| "lib".to_owned());
    let (mut files, mut tops) = (BTreeMap::new(), BTreeMap::new());
    for (module, path) in &modules {
        let text = std::fs::read_to_string(path).unwrap();
        let named: Vec<Vec<String>> =
            paths_named(&code(&text), module).into_iter().map(&resolve).collect();
        let entry: &mut BTreeSet<String> = files.entry(name(module)).or_default();
        let top_entry: &mut BTreeSet<String> = tops.entry(top(module)).or_default();
        for target in named.iter().filter_map(|p| file_of(&modules, p)) {
            // A file naming its own submodules or its parent's items is
            // structure, not a dependency on its own layer.
            if target == module || target.is_empty() {
                continue;
            }
            entry.insert(name(target));
            if top(target) != top(module) {
                top_entry.insert(top(target));
            }
        }
    }
    (files, tops)
}

#[test]
fn the_reader_follows_groups_and_super() {
    let here = vec!["entities".to_owned(), "hot".to_owned()];
    let found = paths_named(
        "use crate::{events::Event, store::{Store, records::X}};\n\
         use super::graph::Builder; let x = crate::reload::module::run();",
        &here,
    );
    let found: BTreeSet<String> = found.iter().map(|p| p.join("::")).collect();
    for expected in [
        "events::Event",
        "store::Store",
        "store::records::X",
        "entities::graph::Builder",
        "reload::module::run",
    ] {
        assert!(found.contains(expected), "{expected} in {found:?}");
    }
    let lib = "pub mod streams {\n    pub use crate::entities::source::{Source, input};\n}\n\
               pub use streams::{Source, input};\npub use accumulator::stack::current_track;\n";
    let reexported = reexports(lib);
    let defined = |p: &[&str]| {
        reexported.get(&p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).map(|d| d.join("::"))
    };
    assert_eq!(defined(&["Source"]).as_deref(), Some("entities::source::Source"));
    assert_eq!(defined(&["streams", "input"]).as_deref(), Some("entities::source::input"));
    assert_eq!(defined(&["current_track"]).as_deref(), Some("accumulator::stack::current_track"));
    let edges: BTreeMap<u8, BTreeSet<u8>> =
        [(1, [2].into()), (2, [3].into()), (3, [1].into()), (4, [1].into())].into();
    assert_eq!(cycles(&edges), [vec![1, 2, 3]]);
}

#[test]
fn no_import_cycles() {
    let (files, tops) = graphs();
    let (file_cycles, top_cycles) = (cycles(&files), cycles(&tops));
    for cycle in &top_cycles {
        println!("top-level modules in a cycle: {}", cycle.join(", "));
        for from in cycle {
            let to: Vec<&str> =
                tops[from].iter().filter(|t| cycle.contains(t)).map(String::as_str).collect();
            println!("  {from} -> {}", to.join(", "));
        }
    }
    for cycle in &file_cycles {
        println!("files in a cycle: {}", cycle.join(", "));
        for from in cycle {
            let to: Vec<&str> =
                files[from].iter().filter(|t| cycle.contains(t)).map(String::as_str).collect();
            println!("  {from} -> {}", to.join(", "));
        }
    }
    assert!(top_cycles.is_empty() && file_cycles.is_empty(), "import cycles, listed above");
}

#[test]
fn included_files_count_as_their_declared_modules() {
    let (files, _) = graphs();
    assert!(files.contains_key("accumulator::reducer::table_tests"), "{:?}", files.keys());
    assert!(!files.contains_key("accumulator::reducer_table_tests"));
    // Its `super::` is the reducer.
    assert!(files["accumulator::reducer::table_tests"].contains("accumulator::reducer"));
}
