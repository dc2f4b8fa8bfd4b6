//! Model-based test of the reducer: random call trees run as successive
//! versions of a module (some panicking half-way) are compared, after every
//! version, with what the rules of docs/design.md §2–§6 predict: which tracks exist,
//! their paths, versions, entities' shapes and last change.

use std::collections::BTreeMap;

use hmr_runtime::{
    Change, EntityKind, Event, capture_entity, capture_events, hmr_track, module, snapshot,
};

/// One call in a generated program.
#[derive(Clone, Debug)]
struct Node {
    key: usize,
    /// The shape of the entity it captures, if it captures one.
    capture: Option<&'static str>,
    children: Vec<Node>,
    /// Panic after the children ran.
    panic: bool,
}

const KEYS: [&str; 3] = ["model::k0", "model::k1", "model::k2"];
const SHAPES: [&str; 2] = ["source.hot_map(fn)", "source.hot_map(fn).hot_filter(fn)"];

#[hmr_track(key = "model::k0")]
fn k0(node: &Node) {
    body(node);
}

#[hmr_track(key = "model::k1")]
fn k1(node: &Node) {
    body(node);
}

#[hmr_track(key = "model::k2")]
fn k2(node: &Node) {
    body(node);
}

fn call(node: &Node) {
    match node.key {
        0 => k0(node),
        1 => k1(node),
        _ => k2(node),
    }
}

fn body(node: &Node) {
    if let Some(shape) = node.capture {
        capture_entity(EntityKind::Pipe, shape);
    }
    for child in &node.children {
        call(child);
    }
    assert!(!node.panic, "a broken version");
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> usize {
        usize::try_from(self.next() % n).unwrap()
    }
}

fn program(rng: &mut Rng, depth: usize, allow_panic: bool) -> Vec<Node> {
    let count = if depth == 0 { 1 + rng.below(3) } else { rng.below(3) };
    (0..count)
        .map(|_| Node {
            key: rng.below(3),
            capture: match rng.below(3) {
                0 => None,
                n => Some(SHAPES[n - 1]),
            },
            children: if depth < 2 { program(rng, depth + 1, allow_panic) } else { Vec::new() },
            panic: allow_panic && rng.below(12) == 0,
        })
        .collect()
}

/// What the store should hold for one path.
#[derive(Clone, Debug, PartialEq)]
struct Expected {
    version: u64,
    shape: &'static str,
    change: Option<Change>,
}

/// Runs the model over one version; `None` if the version panics.
fn predict(
    roots: &[Node],
    module_name: &str,
    before: &BTreeMap<String, Expected>,
) -> Option<BTreeMap<String, Expected>> {
    let mut after = BTreeMap::new();
    walk(roots, module_name, before, &mut after).then_some(after)
}

/// Walks one level of the model; false if the version panics here.
fn walk(
    nodes: &[Node],
    prefix: &str,
    before: &BTreeMap<String, Expected>,
    after: &mut BTreeMap<String, Expected>,
) -> bool {
    let mut counters = [0usize; 3];
    for node in nodes {
        let path = format!("{prefix}/{}#{}", KEYS[node.key], counters[node.key]);
        counters[node.key] += 1;
        match (before.get(&path), node.capture) {
            (Some(old), Some(shape)) => {
                let change = if old.shape == shape { Change::FnOnly } else { Change::Structural };
                after.insert(
                    path.clone(),
                    Expected { version: old.version + 1, shape, change: Some(change) },
                );
            }
            (Some(old), None) => {
                after.insert(
                    path.clone(),
                    Expected {
                        version: old.version + 1,
                        change: Some(Change::FnOnly),
                        ..old.clone()
                    },
                );
            }
            (None, Some(shape)) => {
                after.insert(path.clone(), Expected { version: 1, shape, change: None });
            }
            (None, None) => {}
        }
        if !walk(&node.children, &path, before, after) || node.panic {
            return false;
        }
    }
    true
}

fn observed(module_name: &str) -> BTreeMap<String, Expected> {
    let store = snapshot();
    let prefix = format!("{module_name}/");
    store
        .tracks()
        .filter(|t| t.path.starts_with(&prefix))
        .map(|t| {
            let shape = SHAPES.iter().find(|s| Some(**s) == store.entity_name(t.id)).copied();
            (
                t.path.to_string(),
                Expected {
                    version: t.version,
                    shape: shape.expect("a known shape"),
                    change: t.change,
                },
            )
        })
        .collect()
}

/// Unwatched, a sync call in a module defers its events to its return
/// (docs/design.md §4.1); watched by a listener, each event is reduced when
/// it happens. Both must give the store the model predicts.
#[test]
fn random_versions_match_the_model() {
    run_model("model", false);
}

#[test]
fn random_versions_match_the_model_with_a_listener_watching() {
    run_model("model-watched", true);
}

fn run_model(prefix: &str, watched: bool) {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let (mut failed, mut disposed, mut structural, mut fn_only, mut forgotten) = (0, 0, 0, 0, 0);
    for seed in 1..=150u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let name = format!("{prefix}-{seed}");
        let mut expected = BTreeMap::new();
        // The module's record: (last committed, last attempted) version. A
        // version that commits and leaves the module holding no track
        // forgets it: the next one is version 1 again.
        let (mut committed, mut attempted) = (0, 0);
        for version in 1..=6 {
            let roots = program(&mut rng, 0, version > 1);
            let run = || {
                module(&name, || {
                    for root in &roots {
                        call(root);
                    }
                })
            };
            let result = if watched {
                let (result, events) = capture_events(run);
                assert!(
                    roots.is_empty() || events.iter().any(|e| matches!(e, Event::TrackCall { .. })),
                    "the listener saw the calls"
                );
                result
            } else {
                run()
            };
            attempted += 1;
            if let Some(next) = predict(&roots, &name, &expected) {
                assert!(result.is_ok(), "seed {seed} v{version}: {result:?}");
                disposed += expected.keys().filter(|path| !next.contains_key(*path)).count();
                structural +=
                    next.values().filter(|e| e.change == Some(Change::Structural)).count();
                fn_only += next.values().filter(|e| e.change == Some(Change::FnOnly)).count();
                expected = next;
                committed = attempted;
                if expected.is_empty() {
                    (committed, attempted) = (0, 0);
                    forgotten += 1;
                }
            } else {
                assert!(result.is_err(), "seed {seed} v{version} should have panicked");
                failed += 1;
            }
            let got = observed(&name);
            assert_eq!(got, expected, "seed {seed}, version {version}: {roots:#?}");
            let record = snapshot().module(&name).map(|r| (r.version, r.attempted));
            let predicted = (attempted > 0).then_some((committed, attempted));
            assert_eq!(record, predicted, "seed {seed} v{version}: the module's record");
        }
    }
    std::panic::set_hook(hook);
    // The generator reached every rule.
    assert!(
        failed > 20 && disposed > 20 && structural > 20 && fn_only > 20 && forgotten > 5,
        "{failed} {disposed} {structural} {fn_only} {forgotten}"
    );
}
