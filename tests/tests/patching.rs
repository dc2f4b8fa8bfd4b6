//! End to end: real machine code is patched under a running subscription,
//! without `dx`, the way `dx serve --hot-patch` does it. Twice: on subsecond
//! 0.7 (feature `subsecond`), editing the program's own crate, which is what
//! dx 0.7 patches; and on subsecond 0.8 (feature `subsecond-0-8`), editing a
//! library crate of the program's workspace, which dx 0.8 patches too.
//!
//! 1. One `cargo build` of the fixture workspace (tests/patch-fixture, or
//!    tests/patch-fixture-0-8) builds the program, `feed_app` (linked with
//!    `-rdynamic`), and the crate a patch is linked from: the edited crate
//!    again (`feed_app` as a library, or the library `pipes`), with one edit.
//!    Building both in one invocation gives the patch exactly the crates (the
//!    same `hmr-runtime`, tokio, std) the program runs. Each edit is one more
//!    build of the patch crate alone.
//! 2. The patch crate's objects are linked with `cc -shared` and nothing
//!    else: every symbol they need from other crates stays undefined and is
//!    bound, at `dlopen`, to the program's exported symbols. So the patch's
//!    new code calls the program's own `hmr-runtime` — one store, one set of
//!    statics and thread-locals, one panic runtime — which is what `dx`
//!    achieves by linking patches against the original binary's symbols.
//! 3. The jump table is filled as `dx` fills it: from the two symbol tables,
//!    the changed function (`HotFn`'s call of the root, `call_it`) of the
//!    running binary onto the same function in the patch, relative to each
//!    one's `main`.
//! 4. The program applies it with `subsecond::apply_patch` (the table arrives
//!    on stdin, as from `dx`'s dev server) and reports; hmr's handler, reload
//!    thread and reconciliation do the rest.
#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use object::read::archive::ArchiveFile;
use object::{Object, ObjectSymbol};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// The prices each version of the fixture's `price(tick)` adds to the tick.
const V1: u64 = 0;
const EDIT_1: u64 = 1_000_000;
const EDIT_3: u64 = 3_000_000;
/// edit-4 also adds a `hot_filter` (even ticks only): `prices` is rebuilt.
const EDIT_4: u64 = 4_000_000;

/// A workspace holding the program and the crate its patches are built from.
#[derive(Clone, Copy, Debug)]
struct Fixture {
    /// Its directory in tests/, and its target directory's in `<target>`.
    dir: &'static str,
    /// The package of the edited crate, where `closure-root` is set.
    edited_package: &'static str,
    /// The package at `patch/`: the edited crate after an edit.
    patch_package: &'static str,
    /// The edited crate, which the tracked functions' keys name.
    edited_crate: &'static str,
}

/// subsecond 0.7: the edited code is in the program's own crate.
const BINARY_CRATE: Fixture = Fixture {
    dir: "patch-fixture",
    edited_package: "hmr-e2e-app",
    patch_package: "hmr-e2e-patch",
    edited_crate: "feed_app",
};

/// subsecond 0.8: the edited code is in `pipes`, a library of the workspace.
const WORKSPACE_LIBRARY: Fixture = Fixture {
    dir: "patch-fixture-0-8",
    edited_package: "hmr-e2e-pipes",
    patch_package: "hmr-e2e-pipes-patch",
    edited_crate: "pipes",
};

impl Fixture {
    fn path(self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(self.dir)
    }

    /// `<target>/<dir>`, beside the build running this test.
    fn target_dir(self) -> PathBuf {
        let exe = std::env::current_exe().unwrap();
        // <target>/debug/deps/patching-<hash>
        exe.ancestors().nth(3).unwrap().join(self.dir)
    }
}

struct Build {
    app: PathBuf,
    /// Whether cargo found the program up to date.
    app_fresh: bool,
    patch: PathBuf,
    runtime: PathBuf,
}

/// The two forms of the fixture's root.
#[derive(Clone, Copy, Debug)]
enum Form {
    /// `root("feed", pipeline)`.
    FnItem,
    /// A closure capturing one `Arc`: one pointer in size, the callable that
    /// subsecond alone takes for a function pointer.
    Closure,
}

impl Form {
    /// The features of the program and the patch crate.
    fn features(self, fixture: Fixture, edit: &str) -> String {
        let (edited, patch) = (fixture.edited_package, fixture.patch_package);
        match self {
            Form::FnItem => format!("{patch}/{edit}"),
            Form::Closure => format!("{patch}/{edit},{patch}/closure-root,{edited}/closure-root"),
        }
    }
}

/// Builds the program and the patch crate with `edit`, and says where they are.
fn build(fixture: Fixture, form: Form, edit: &str) -> Build {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(fixture.path())
        .args(["build", "--locked", "--message-format=json-render-diagnostics"])
        .args(["-p", "hmr-e2e-app", "-p", fixture.patch_package])
        .arg("--features")
        .arg(form.features(fixture, edit))
        .arg("--target-dir")
        .arg(fixture.target_dir())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "building the fixture with {edit} failed (see above)");
    let (mut app, mut app_fresh, mut patch, mut runtime) = (None, false, None, None);
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let message: Value = serde_json::from_str(line).unwrap();
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let kinds = message["target"]["kind"].as_array().unwrap();
        // The rlib in deps/, named like the .rmeta beside it (the copy of a
        // workspace member's rlib in the profile's directory is the last
        // build's, whichever edit that was).
        let rlib = || {
            message["filenames"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| PathBuf::from(f.as_str().unwrap()))
                .find(|f| f.extension().is_some_and(|e| e == "rmeta"))
                .map(|f| f.with_extension("rlib"))
        };
        // The patch crate has the edited crate's name: tell them by package.
        let patch_crate = Path::new(message["manifest_path"].as_str().unwrap())
            == fixture.path().join("patch/Cargo.toml");
        match message["target"]["name"].as_str().unwrap() {
            "feed_app" if kinds.contains(&json!("bin")) => {
                app = Some(PathBuf::from(message["executable"].as_str().unwrap()));
                app_fresh = message["fresh"] == true;
            }
            "hmr_runtime" => runtime = rlib(),
            _ if patch_crate => patch = rlib(),
            _ => {}
        }
    }
    Build { app: app.unwrap(), app_fresh, patch: patch.unwrap(), runtime: runtime.unwrap() }
}

/// Links the patch crate's objects into `out`, leaving every symbol of other
/// crates to the program.
fn link(rlib: &Path, out: &Path) {
    let objects = out.with_extension("objects");
    let _ = std::fs::remove_dir_all(&objects);
    std::fs::create_dir_all(&objects).unwrap();
    let data = std::fs::read(rlib).unwrap();
    let archive = ArchiveFile::parse(&*data).unwrap();
    let mut paths = Vec::new();
    for member in archive.members() {
        let member = member.unwrap();
        let name = String::from_utf8_lossy(member.name()).into_owned();
        if Path::new(&name).extension().is_some_and(|e| e == "o") {
            let path = objects.join(name);
            std::fs::write(&path, member.data(&*data).unwrap()).unwrap();
            paths.push(path);
        }
    }
    assert!(!paths.is_empty(), "no objects in {}", rlib.display());
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let status = Command::new(cc).arg("-shared").arg("-o").arg(out).args(&paths).status().unwrap();
    assert!(status.success(), "linking {} failed", out.display());
}

/// The two addresses `dx` reads off a binary for a root patch: `main` and
/// `HotFn`'s call of the root. There is one root, so one such instance.
fn addresses(path: &Path) -> (u64, u64) {
    let data = std::fs::read(path).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let mut main = None;
    let mut call_it = Vec::new();
    for symbol in file.symbols() {
        let Ok(name) = symbol.name() else { continue };
        if name == "main" {
            main = Some(symbol.address());
        } else if ["HotFunction", "Fn0Marker", "call_it"].iter().all(|part| name.contains(part)) {
            call_it.push((name.to_owned(), symbol.address()));
        }
    }
    assert_eq!(call_it.len(), 1, "one root's `call_it` in {}: {call_it:?}", path.display());
    (main.expect("`main` in the symbol table"), call_it[0].1)
}

/// The jump table `dx` would send for a patch of the root.
fn jump_table(app: &Path, lib: &Path) -> Value {
    let (old_main, old_call) = addresses(app);
    let (new_main, new_call) = addresses(lib);
    json!({
        "lib": lib,
        "map": { old_call.to_string(): new_call },
        "aslr_reference": old_main,
        "new_base_address": new_main,
        "ifunc_count": 0,
    })
}

/// The running program: its stdin, and its stdout as JSON values.
struct App {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    stderr: std::thread::JoinHandle<String>,
    /// Everything read so far.
    seen: Vec<Value>,
}

impl App {
    fn start(path: &Path) -> App {
        let mut child = Command::new(path)
            // Bind every symbol of a patch when it is loaded: a missing one is
            // a `dlopen` error, not a crash at its first call.
            .env("LD_BIND_NOW", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        App { stdin: child.stdin.take(), child, lines, stderr, seen: Vec::new() }
    }

    /// Reads lines until `want` returns something.
    fn until<T>(&mut self, what: &str, mut want: impl FnMut(&Value) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(line) if !left.is_zero() => line,
                Err(mpsc::RecvTimeoutError::Disconnected) => panic!(
                    "the program's output ended (or was not JSON lines) while waiting for \
                     {what}; its stderr:\n{}",
                    self.stop()
                ),
                _ => panic!("timed out waiting for {what}; the program's stderr:\n{}", self.stop()),
            };
            self.seen.push(line);
            if let Some(found) = want(self.seen.last().unwrap()) {
                return found;
            }
        }
    }

    fn send(&mut self, table: &Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{table}").unwrap();
        stdin.flush().unwrap();
    }

    /// Ends the program (stdin closed, then killed if it lingers) and returns
    /// what it wrote on stderr.
    fn stop(&mut self) -> String {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let stderr = std::mem::replace(&mut self.stderr, std::thread::spawn(String::new));
        stderr.join().unwrap_or_default()
    }
}

#[derive(Clone, Copy, Debug)]
struct Item {
    count: u64,
    total: u64,
    price: u64,
    at: u128,
}

fn item(line: &Value) -> Option<Item> {
    let item = line.get("item")?;
    Some(Item {
        count: item["count"].as_u64().unwrap(),
        total: item["total"].as_u64().unwrap(),
        price: item["price"].as_u64().unwrap(),
        at: u128::from(item["at"].as_u64().unwrap()),
    })
}

/// Which version's `price` made an item.
fn version(item: Item) -> u64 {
    item.price / 1_000_000 * 1_000_000
}

struct Patched {
    report: Value,
    /// The events and items between sending the table and the report.
    lines: Vec<Value>,
    applied_at: u128,
    /// From `apply_patch` (loading the library included) to the reload's end.
    reload_micros: u128,
    /// The reload alone, as the engine measured it.
    reload_took_micros: u128,
}

fn patch(app: &mut App, table: &Value) -> Patched {
    let from = app.seen.len();
    app.send(table);
    let report = app.until("the patch report", |line| {
        assert!(line.get("patch-failed").is_none(), "subsecond refused the patch: {line}");
        line.get("patched").cloned()
    });
    let number = |key: &str| report[key].as_str().unwrap().parse::<u128>().unwrap();
    Patched {
        applied_at: number("applied_at"),
        reload_micros: number("reload_micros"),
        reload_took_micros: number("reload_took_micros"),
        lines: app.seen[from..app.seen.len() - 1].to_vec(),
        report,
    }
}

fn count_events(lines: &[Value], kind: &str) -> usize {
    lines.iter().filter(|l| l["type"] == kind).count()
}

/// Checks `next` against the item before it: the count goes on by one and
/// the total by the price (the `hot_scan` state is kept; no item is lost or
/// handled twice).
fn follows(last: &mut Item, next: Item) {
    assert_eq!(next.count, last.count + 1, "the count goes on: {last:?} then {next:?}");
    assert_eq!(next.total, last.total + next.price, "the total is kept: {last:?} then {next:?}");
    *last = next;
}

/// The next `n` items, each checked with [`follows`].
fn next_items(app: &mut App, last: &mut Item, n: usize) -> Vec<Item> {
    let mut items = Vec::new();
    while items.len() < n {
        let next = app.until("an item", item);
        follows(last, next);
        items.push(next);
    }
    items
}

/// A patch whose root panics: reported, nothing committed, the old code
/// (edit-1) keeps running.
fn apply_broken(app: &mut App, last: &mut Item, table: &Value, tasks: u64) {
    let broken = patch(app, table);
    let report = &broken.report;
    assert_eq!((&report["patches"], &report["reloads"]), (&json!(1), &json!(1)), "{report}");
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report}");
    assert!(errors[0].as_str().unwrap().contains("edit-2: the new code panics"), "{report}");
    assert_eq!(count_events(&broken.lines, "reload-error"), 1);
    assert_eq!(report["tasks"], tasks, "{report}");
    for item in broken.lines.iter().filter_map(item) {
        follows(last, item);
        assert_eq!(version(item), EDIT_1, "the old code keeps running: {item:?}");
    }
    for item in next_items(app, last, 5) {
        assert_eq!(version(item), EDIT_1, "the old code keeps running: {item:?}");
    }
}

fn median(mut values: Vec<u128>) -> u128 {
    values.sort_unstable();
    values[values.len() / 2]
}

#[test]
fn real_patches_swap_the_code_of_a_living_subscription() {
    // One form after the other: both builds write the same `feed_app`.
    for form in [Form::FnItem, Form::Closure] {
        patch_a_living_subscription(BINARY_CRATE, form);
    }
}

#[test]
fn real_patches_of_a_workspace_library_swap_the_code_under_subsecond_0_8() {
    for form in [Form::FnItem, Form::Closure] {
        patch_a_living_subscription(WORKSPACE_LIBRARY, form);
    }
}

/// Builds the program and its four patches; returns the program and the jump
/// table of each edit.
fn build_patches(fixture: Fixture, form: Form) -> (PathBuf, BTreeMap<&'static str, Value>) {
    let dir = fixture.target_dir();
    let builds: Vec<(&str, Build, PathBuf)> = ["edit-1", "edit-2", "edit-3", "edit-4"]
        .into_iter()
        .map(|edit| {
            let build = build(fixture, form, edit);
            let lib = dir.join(format!("patch-{form:?}-{edit}.so"));
            link(&build.patch, &lib);
            (edit, build, lib)
        })
        .collect();
    let first = &builds[0].1;
    for (edit, build, _) in &builds[1..] {
        assert!(build.app_fresh, "{edit} rebuilt the program: it must differ only in the patch");
        assert_eq!(build.runtime, first.runtime, "every patch links against the same hmr-runtime");
    }
    let tables = builds.iter().map(|(edit, _, lib)| (*edit, jump_table(&first.app, lib))).collect();
    (first.app.clone(), tables)
}

fn patch_a_living_subscription(fixture: Fixture, form: Form) {
    let (program, tables) = build_patches(fixture, form);
    let mut app = App::start(&program);
    let ready = app.until("the program to start", |line| line.get("ready").cloned());
    let tasks = ready["tasks"].as_u64().unwrap();
    let pointer_sized = ready["root_size"] == size_of::<fn()>();
    assert_eq!(pointer_sized, matches!(form, Form::Closure), "{form:?}: {ready}");
    // The first items may come before `ready`.
    let first = match app.seen.iter().find_map(item) {
        Some(first) => first,
        None => app.until("a first item", item),
    };
    assert_eq!((first.count, version(first)), (1, V1), "the first item");
    let mut last = first;
    for early in app.seen.iter().filter_map(item).skip(1).collect::<Vec<_>>() {
        follows(&mut last, early);
    }
    for item in next_items(&mut app, &mut last, 5) {
        assert_eq!(version(item), V1);
    }

    let mut reloads = Vec::new();
    let mut reloads_alone = Vec::new();
    let mut to_new_code = Vec::new();
    // `rebuilt`: how many tracks the patch rebuilds (the rest are updated).
    let mut apply = |app: &mut App, last: &mut Item, edit: &str, price: u64, rebuilt: u64| {
        let patched = patch(app, &tables[edit]);
        let report = &patched.report;
        assert_eq!(report["patches"], 1, "the handler fired once: {report}");
        assert_eq!(report["reloads"], 1, "one reload ran: {report}");
        assert_eq!(report["errors"], json!([]), "{report}");
        let changes = (&report["updated"], &report["rebuilt"]);
        assert_eq!(changes, (&json!(2 - rebuilt), &json!(rebuilt)), "{report}");
        assert_eq!(report["disposed"], 0, "{report}");
        assert_eq!(report["tasks"], tasks, "no second task: {report}");
        let calls: Vec<&Value> =
            patched.lines.iter().filter(|l| l["type"] == "hmr-module-call").collect();
        assert_eq!(calls.len(), 1, "one reload: {calls:?}");
        assert_eq!((&calls[0]["module"], &calls[0]["reason"]), (&json!("feed"), &json!("patch")));
        assert_eq!(count_events(&patched.lines, "track-update"), 2, "both tracks reached");
        let mut keys: Vec<&str> = patched
            .lines
            .iter()
            .filter(|l| l["type"] == "track-call")
            .map(|l| l["key"].as_str().unwrap())
            .collect();
        keys.sort_unstable();
        let krate = fixture.edited_crate;
        assert_eq!(keys, [format!("{krate}::feed::prices"), format!("{krate}::feed::totals")]);
        assert_eq!(count_events(&patched.lines, "subscribe"), 0, "the living task is kept");
        // Items flow on, through the old code until the swap and through the
        // new code from then on.
        let last_before = last.count;
        let during = patched.lines.iter().filter_map(item);
        let mut switched = None;
        for next in during.chain(std::iter::from_fn(|| Some(app.until("an item", item)))) {
            follows(last, next);
            if version(next) == price {
                switched.get_or_insert(next);
                let tick = next.price - price;
                assert!(
                    price != EDIT_4 || tick.is_multiple_of(2),
                    "edit-4 lets even ticks through: {next:?}"
                );
            } else {
                assert!(switched.is_none(), "old code after the new code: {next:?}");
            }
            if switched.is_some_and(|s| next.count >= s.count + 3) {
                break;
            }
            assert!(
                switched.is_some() || next.count < last_before + 1000,
                "1000 items after {edit}, none through its code: {next:?}"
            );
        }
        reloads.push(patched.reload_micros);
        reloads_alone.push(patched.reload_took_micros);
        // Wall clocks may step: a negative interval counts as 0.
        to_new_code.push(switched.unwrap().at.saturating_sub(patched.applied_at));
    };

    apply(&mut app, &mut last, "edit-1", EDIT_1, 0);

    apply_broken(&mut app, &mut last, &tables["edit-2"], tasks);

    // The next patch applies, and patches keep applying: closures swapped
    // (`prices` and `totals` updated), an operator added (`prices` rebuilt,
    // `totals` and its total kept), and removed again.
    for (edit, price, rebuilt) in [
        ("edit-3", EDIT_3, 0),
        ("edit-1", EDIT_1, 0),
        ("edit-4", EDIT_4, 1),
        ("edit-3", EDIT_3, 1),
        ("edit-1", EDIT_1, 0),
    ] {
        apply(&mut app, &mut last, edit, price, rebuilt);
    }

    let total_subscribes = count_events(&app.seen, "subscribe");
    let stderr = app.stop();
    assert_eq!(total_subscribes, 1, "one task for the whole run");
    assert!(stderr.contains("edit-2: the new code panics"), "the panic was printed: {stderr}");
    eprintln!(
        "{} ({form:?} root), {} patches, medians: apply_patch to the reload's end {} µs {reloads:?} \
         (the reload alone {} µs {reloads_alone:?}); apply_patch to the first item through \
         the new code {} µs {to_new_code:?} (the new ticks come every 2 ms)",
        fixture.dir,
        reloads.len(),
        median(reloads.clone()),
        median(reloads_alone.clone()),
        median(to_new_code.clone()),
    );
}
