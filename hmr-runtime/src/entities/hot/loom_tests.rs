//! loom models of the closure slot (`Slot` + `Hot`, `HotNode::adopt`): every
//! interleaving of an operator calling its closure with re-executions
//! putting new ones in.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p hmr-runtime --lib --release loom`
//!
//! Closures count their drops in std atomics: loom runs its threads one at a
//! time, so the counters are exact and add no interleavings.

use std::sync::Arc as StdArc;

use loom::thread;

use super::*;
use crate::entities::sync::Probe;

type Fun = dyn FnMut(u32) -> u32 + Send;

impl Probe {
    /// A closure that returns its tag.
    fn closure(self: &StdArc<Probe>, tag: u32) -> Box<Fun> {
        self.count_built(tag);
        let token = Token { tag, probe: self.clone() };
        Box::new(move |_| {
            assert!(token.probe.alive(token.tag), "a dropped closure was called");
            token.tag
        })
    }
}

/// What a closure captures: counts the closure's drop.
struct Token {
    tag: u32,
    probe: StdArc<Probe>,
}

impl Drop for Token {
    fn drop(&mut self) {
        self.probe.count_dropped(self.tag);
    }
}

/// A slot holding `f`, as `hot` builds it (without the graph).
fn slot(f: Box<Fun>) -> sync::Arc<Slot<Fun>> {
    sync::Arc::new(Slot { version: AtomicU64::new(1), next: Mutex::new(Some(f)) })
}

fn operator(slot: &sync::Arc<Slot<Fun>>) -> Hot<Fun> {
    Hot { slot: slot.clone(), seen: 0, current: None }
}

fn call(hot: &mut Hot<Fun>) -> u32 {
    (hot.get().expect("the living operator has a closure"))(0)
}

/// What a committed re-execution does: the living node adopts the new one's closure.
fn adopt(living: &sync::Arc<Slot<Fun>>, f: Box<Fun>) {
    assert!(HotNode(living.clone()).adopt(&HotNode(slot(f))));
}

/// An operator calling its closure while a re-execution adopts a new one:
/// each call uses the old or the new closure, never the old after the new,
/// the new once the adopt returned; each closure is dropped exactly once.
#[test]
fn loom_adopt_while_calling() {
    sync::model(None, || {
        let probe = Probe::new();
        let living = slot(probe.closure(1));
        let mut hot = operator(&living);
        let t = thread::spawn({
            let (living, probe) = (living.clone(), probe.clone());
            move || adopt(&living, probe.closure(2))
        });
        let mut last = 0;
        for _ in 0..2 {
            let tag = call(&mut hot);
            assert!(tag >= last, "closure {tag} called after closure {last}");
            last = tag;
        }
        t.join().unwrap();
        assert_eq!(call(&mut hot), 2);
        assert!(!probe.alive(1));
        assert_eq!(probe.live(), 1);
        drop((hot, living));
        assert_eq!(probe.live(), 0);
    });
}

/// Two adopts race with the operator: exactly one new closure survives,
/// the one the operator calls (the last one put in the slot), and nothing
/// is left in the slot.
#[test]
fn loom_two_adopts_last_wins() {
    sync::model(None, || {
        let probe = Probe::new();
        let living = slot(probe.closure(1));
        let mut hot = operator(&living);
        let adopts: Vec<_> = [2, 3]
            .into_iter()
            .map(|tag| {
                let (living, probe) = (living.clone(), probe.clone());
                thread::spawn(move || adopt(&living, probe.closure(tag)))
            })
            .collect();
        assert!([1, 2, 3].contains(&call(&mut hot)));
        for t in adopts {
            t.join().unwrap();
        }
        let last = call(&mut hot);
        assert!(last == 2 || last == 3);
        assert_eq!(probe.live(), 1);
        assert!(probe.alive(last));
        assert!(lock(&living.next).is_none());
        drop((hot, living));
        assert_eq!(probe.live(), 0);
    });
}
