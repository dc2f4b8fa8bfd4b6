//! loom models of the closure slot (`Hot` reading a `Mailbox`,
//! `HotNode::adopt` staging into it under a commit): every interleaving of
//! an operator calling its closure with commits putting new ones in.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p hmr-runtime --lib --release loom`
//!
//! Closures count their drops in std atomics: loom runs its threads one at a
//! time, so the counters are exact and add no interleavings.

use std::sync::{Arc as StdArc, Mutex as StdMutex};

use loom::thread;

use super::*;
use crate::living::commit::Boundary;
use crate::living::sync::Probe;

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
fn slot(f: Box<Fun>) -> sync::Arc<Mailbox<Box<Fun>>> {
    sync::Arc::new(Mailbox::new(Some(f)))
}

fn operator(slot: &sync::Arc<Mailbox<Box<Fun>>>) -> Hot<Fun> {
    Hot::living(slot.clone(), None, false, &crate::events::Name::default())
}

/// One item through the operator (its own boundary, as a subscription's
/// task opens one per item): the tag of the closure it called.
fn call(hot: &mut Hot<Fun>) -> u32 {
    let _boundary = Boundary::enter();
    hot.call(|f| f(0)).expect("the living operator has a closure")
}

/// What a committed re-execution does: the living node adopts the new
/// one's closure under a commit. Notes `tag` in `order` while the commit is
/// held: commits are serialised, so `order` is the order they publish in.
fn adopt(living: &sync::Arc<Mailbox<Box<Fun>>>, f: Box<Fun>, tag: u32, order: &StdMutex<Vec<u32>>) {
    let new = HotNode { slot: slot(f), state: None };
    let mut commit = Commit::begin();
    order.lock().unwrap().push(tag);
    assert!(HotNode { slot: living.clone(), state: None }.adopt(&new, &mut commit));
    assert!(commit.publish().is_empty(), "no drop panicked");
    assert!(new.slot.take_all().is_empty(), "the living node took the new closure");
}

/// An operator calling its closure while a re-execution adopts a new one:
/// each call uses the old or the new closure, never the old after the new,
/// the new once the commit is published; each closure is dropped exactly once.
#[test]
fn loom_adopt_while_calling() {
    sync::model(None, || {
        let probe = Probe::new();
        let living = slot(probe.closure(1));
        let mut hot = operator(&living);
        let t = thread::spawn({
            let (living, probe) = (living.clone(), probe.clone());
            move || adopt(&living, probe.closure(2), 2, &StdMutex::default())
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

/// Two adopts race with the operator: exactly one new closure survives, the
/// one the operator calls (the one the last commit published), and nothing
/// is left in the slot.
#[test]
fn loom_two_adopts_last_wins() {
    sync::model(Some(3), || {
        let probe = Probe::new();
        let living = slot(probe.closure(1));
        let mut hot = operator(&living);
        let order = StdArc::new(StdMutex::new(Vec::new()));
        let adopts: Vec<_> = [2, 3]
            .into_iter()
            .map(|tag| {
                let (living, probe, order) = (living.clone(), probe.clone(), order.clone());
                thread::spawn(move || adopt(&living, probe.closure(tag), tag, &order))
            })
            .collect();
        assert!([1, 2, 3].contains(&call(&mut hot)));
        for t in adopts {
            t.join().unwrap();
        }
        let newest = *order.lock().unwrap().last().unwrap();
        assert_eq!(call(&mut hot), newest, "the last commit wins");
        assert_eq!(probe.live(), 1);
        assert!(probe.alive(newest));
        assert!(living.take_all().is_empty(), "nothing left in the slot");
        drop((hot, living));
        assert_eq!(probe.live(), 0);
    });
}
