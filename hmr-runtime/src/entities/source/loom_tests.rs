//! loom models of the switch protocol (`Switch` + `Source` over the commit's
//! `Mailbox`): every interleaving of a receiver's poll with a switch (a
//! commit staging a new inner stream), a dispose, or a handle's drop.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p hmr-runtime --lib --release loom`
//!
//! The inner streams count their drops in std atomics: loom runs its threads
//! one at a time, so the counters are exact and add no interleavings. An
//! inner that is pending never registers the waker: only the switch can wake
//! the receiver, so a lost wakeup is a loom deadlock.
//!
//! Two-thread models are exhaustive. The three-thread ones are bounded to
//! [`PREEMPTIONS`] preemptions (each at most about 20 seconds): set
//! `LOOM_MAX_PREEMPTIONS` to go deeper.

use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc as StdArc, Mutex as StdMutex};
use std::task::Wake;

use loom::future::block_on;
use loom::thread;

use super::*;
use crate::living::sync::Probe;

impl Probe {
    /// An inner stream that yields `tag` forever, or is pending forever.
    fn inner(self: &StdArc<Probe>, tag: u32, yields: bool) -> Inner<u32> {
        self.count_built(tag);
        Box::pin(Tagged { tag, yields, probe: self.clone() })
    }
}

struct Tagged {
    tag: u32,
    yields: bool,
    probe: StdArc<Probe>,
}

impl Stream for Tagged {
    type Item = u32;
    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u32>> {
        assert!(self.probe.alive(self.tag), "a dropped inner was polled");
        if self.yields { Poll::Ready(Some(self.tag)) } else { Poll::Pending }
    }
}

impl Drop for Tagged {
    fn drop(&mut self) {
        self.probe.count_dropped(self.tag);
    }
}

/// A waker that only counts: for polls that must not block.
#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: StdArc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn poll_once(rx: &mut Source<u32>) -> Poll<Option<u32>> {
    let waker = Waker::from(StdArc::new(Count::default()));
    Pin::new(rx).poll_next(&mut Context::from_waker(&waker))
}

/// Polls until an item or the end; loom reports a deadlock if nothing wakes it.
fn next(rx: &mut Source<u32>) -> Option<u32> {
    block_on(poll_fn(|cx| Pin::new(&mut *rx).poll_next(cx)))
}

/// The preemption bound of the three-thread models.
const PREEMPTIONS: usize = 3;

/// What a committed re-execution does to a living source: one commit
/// staging `inner`, published.
fn switch_to(switch: &Switch<u32>, inner: Inner<u32>) {
    switch_logged(switch, inner, 0, &StdMutex::default());
}

/// `switch_to`, noting `tag` in `order` while the commit is held: commits
/// are serialised, so `order` is the order they are published in.
fn switch_logged(switch: &Switch<u32>, inner: Inner<u32>, tag: u32, order: &StdMutex<Vec<u32>>) {
    let mut commit = Commit::begin();
    order.lock().unwrap().push(tag);
    switch.stage(&mut commit, inner);
    assert!(commit.publish().is_empty(), "no drop panicked");
}

/// A receiver parked on a pending inner is woken by a switch (or sees it),
/// takes the new inner and drops the old one; the receiver's drop, the last
/// handle's, takes the inner down. A lost wakeup is a loom deadlock.
fn parked_receiver_is_woken(bounded: bool) {
    sync::model(None, move || {
        let probe = Probe::new();
        let (mut rx, switch) = Source::first(probe.inner(1, false), bounded);
        let t = thread::spawn({
            let (switch, probe) = (switch.clone(), probe.clone());
            move || switch_to(&switch, probe.inner(2, true))
        });
        assert_eq!(next(&mut rx), Some(2));
        assert!(!probe.alive(1), "the receiver drops the inner it switched from");
        t.join().unwrap();
        assert_eq!(probe.live(), 1);
        drop(rx);
        assert_eq!(probe.live(), 0, "the last handle's drop tears the inner down");
        drop(switch);
    });
}

/// An unbounded source (an input, a receiver: no boundary of its own) reads
/// the published epoch.
#[test]
fn loom_switch_wakes_the_parked_receiver() {
    parked_receiver_is_woken(false);
}

/// A bounded source: each poll opens a boundary, which may predate the
/// commit's publish.
#[test]
fn loom_commit_wakes_a_parked_bounded_source() {
    parked_receiver_is_woken(true);
}

/// A receiver busy yielding the old inner's items switches to the new one:
/// never an old item after a new one, and once the commit is published the
/// next poll yields from the new inner (the old one dropped).
#[test]
fn loom_switch_while_yielding() {
    sync::model(None, || {
        let probe = Probe::new();
        let (mut rx, switch) = Source::first(probe.inner(1, true), true);
        let t = thread::spawn({
            let probe = probe.clone();
            move || switch_to(&switch, probe.inner(2, true))
        });
        let mut last = 0;
        for _ in 0..2 {
            let Poll::Ready(Some(item)) = poll_once(&mut rx) else { panic!("inners always yield") };
            assert!(item >= last, "item {item} from the old inner after one from the new");
            last = item;
        }
        t.join().unwrap();
        assert_eq!(poll_once(&mut rx), Poll::Ready(Some(2)));
        assert!(!probe.alive(1));
        assert_eq!(probe.live(), 1);
    });
}

/// Dispose ends the stream, whatever a racing switch does: the parked
/// receiver is woken and ends, and no inner stays alive.
#[test]
fn loom_dispose_ends_the_stream() {
    sync::model(Some(PREEMPTIONS), || {
        let probe = Probe::new();
        let (mut rx, switch) = Source::first(probe.inner(1, false), true);
        let switcher = thread::spawn({
            let (switch, probe) = (switch.clone(), probe.clone());
            move || switch_to(&switch, probe.inner(2, false))
        });
        let disposer = thread::spawn(move || switch.dispose());
        assert_eq!(next(&mut rx), None);
        switcher.join().unwrap();
        disposer.join().unwrap();
        assert_eq!(probe.live(), 0);
        assert_eq!(poll_once(&mut rx), Poll::Ready(None), "the stream is over for good");
    });
}

/// Two switches race: the receiver yields from one of them, and once both
/// are published, from the one published last; exactly that inner survives.
#[test]
fn loom_two_switches_last_wins() {
    sync::model(Some(PREEMPTIONS), || {
        let probe = Probe::new();
        let (mut rx, switch) = Source::first(probe.inner(1, false), true);
        let order = StdArc::new(StdMutex::new(Vec::new()));
        let switchers: Vec<_> = [2, 3]
            .into_iter()
            .map(|tag| {
                let (switch, probe, order) = (switch.clone(), probe.clone(), order.clone());
                thread::spawn(move || switch_logged(&switch, probe.inner(tag, true), tag, &order))
            })
            .collect();
        let first = next(&mut rx).expect("a switched-in inner yields");
        assert!(first == 2 || first == 3);
        for t in switchers {
            t.join().unwrap();
        }
        let newest = *order.lock().unwrap().last().unwrap();
        assert_eq!(poll_once(&mut rx), Poll::Ready(Some(newest)), "the last switch wins");
        assert_eq!(probe.live(), 1);
        assert!(probe.alive(newest));
    });
}

/// The receiving handle is dropped while a waiting one polls: the waiting
/// one is woken, becomes the receiver, and gets the inner stream.
#[test]
fn loom_receiver_drop_hands_back() {
    sync::model(None, || {
        let probe = Probe::new();
        let (mut first, switch) = Source::first(probe.inner(1, true), true);
        let mut second = Source::waiting(switch);
        let t = thread::spawn(move || {
            assert_eq!(poll_once(&mut first), Poll::Ready(Some(1)));
            drop(first);
        });
        assert_eq!(next(&mut second), Some(1));
        assert!(second.receiver);
        t.join().unwrap();
        assert_eq!(probe.live(), 1);
        drop(second);
        assert_eq!(probe.live(), 0);
    });
}

/// The hand-back races a switch: the waiting handle still takes over, and
/// yields from the new inner once the switch is published.
#[test]
fn loom_receiver_drop_races_a_switch() {
    sync::model(Some(PREEMPTIONS), || {
        let probe = Probe::new();
        let (first, switch) = Source::first(probe.inner(1, true), true);
        let mut second = Source::waiting(switch.clone());
        let dropper = thread::spawn(move || drop(first));
        let switcher = thread::spawn({
            let probe = probe.clone();
            move || switch_to(&switch, probe.inner(2, true))
        });
        assert!(matches!(next(&mut second), Some(1 | 2)));
        dropper.join().unwrap();
        switcher.join().unwrap();
        assert_eq!(poll_once(&mut second), Poll::Ready(Some(2)));
        assert_eq!(probe.live(), 1);
    });
}

/// The last handle is dropped while a switch is staged: whichever wins, no
/// inner stream stays alive once both are done (nobody would consume it).
#[test]
fn loom_last_handle_drop_races_a_switch() {
    sync::model(None, || {
        let probe = Probe::new();
        let (rx, switch) = Source::first(probe.inner(1, true), true);
        let switcher = thread::spawn({
            let (switch, probe) = (switch.clone(), probe.clone());
            move || switch_to(&switch, probe.inner(2, true))
        });
        drop(rx);
        switcher.join().unwrap();
        assert_eq!(probe.live(), 0, "an inner stream outlived the last handle");
        drop(switch);
    });
}
