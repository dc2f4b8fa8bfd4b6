//! loom models of the switch protocol (`Switch` + `Source`): every
//! interleaving of a receiver's poll with a switch, a dispose, or the
//! receiving handle's drop.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p hmr-runtime --lib --release loom`
//!
//! The inner streams count their drops in std atomics: loom runs its threads
//! one at a time, so the counters are exact and add no interleavings. An
//! inner that is pending never registers the waker: only the switch can wake
//! the receiver, so a lost wakeup is a loom deadlock.
//!
//! Two-thread models are exhaustive. The three-thread ones are bounded to
//! [`PREEMPTIONS`] preemptions (each a few seconds; unbounded, the dispose
//! model runs for more than 20 minutes): set `LOOM_MAX_PREEMPTIONS` to go deeper.

use std::future::poll_fn;
use std::sync::Arc as StdArc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::task::Wake;

use loom::future::block_on;
use loom::thread;

use super::*;
use crate::entities::sync::Probe;

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
const PREEMPTIONS: usize = 4;

fn new_switch(first: Inner<u32>) -> sync::Arc<Switch<u32>> {
    sync::Arc::new(Switch::new(Some(first)))
}

/// A receiver parked on a pending inner is woken by a switch (or sees it),
/// takes the new inner, and the old one is gone by the time `switch` returns.
#[test]
fn loom_switch_wakes_the_parked_receiver() {
    sync::model(None, || {
        let probe = Probe::new();
        let switch = new_switch(probe.inner(1, false));
        let mut rx = Source::receiving(switch.clone());
        let switched = StdArc::new(AtomicBool::new(false));
        let t = thread::spawn({
            let (switch, probe, switched) = (switch.clone(), probe.clone(), switched.clone());
            move || {
                switch.switch(probe.inner(2, true));
                switched.store(true, SeqCst);
            }
        });
        assert_eq!(next(&mut rx), Some(2));
        // The switching thread may still be dropping the inner it replaced.
        assert!(!probe.alive(1) || !switched.load(SeqCst), "the old inner outlived the switch");
        t.join().unwrap();
        assert_eq!(probe.live(), 1);
        drop(rx);
        assert_eq!(probe.live(), 1, "the receiver's drop hands the inner back to the switch");
        drop(switch);
        assert_eq!(probe.live(), 0);
    });
}

/// A receiver busy yielding the old inner's items switches to the new one:
/// never an old item after a new one, and after the switch returned the next
/// poll yields from the new inner.
#[test]
fn loom_switch_while_yielding() {
    sync::model(None, || {
        let probe = Probe::new();
        let switch = new_switch(probe.inner(1, true));
        let mut rx = Source::receiving(switch.clone());
        let t = thread::spawn({
            let (switch, probe) = (switch.clone(), probe.clone());
            move || switch.switch(probe.inner(2, true))
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
        let switch = new_switch(probe.inner(1, false));
        let mut rx = Source::receiving(switch.clone());
        let switcher = thread::spawn({
            let (switch, probe) = (switch.clone(), probe.clone());
            move || switch.switch(probe.inner(2, false))
        });
        let disposer = thread::spawn({
            let switch = switch.clone();
            move || switch.dispose()
        });
        assert_eq!(next(&mut rx), None);
        switcher.join().unwrap();
        disposer.join().unwrap();
        assert_eq!(probe.live(), 0);
        assert!(matches!(poll_once(&mut rx), Poll::Pending | Poll::Ready(None)));
    });
}

/// Two switches race: exactly one inner survives, the one the receiver
/// yields from.
#[test]
fn loom_two_switches_last_wins() {
    sync::model(Some(PREEMPTIONS), || {
        let probe = Probe::new();
        let switch = new_switch(probe.inner(1, false));
        let mut rx = Source::receiving(switch.clone());
        let switchers: Vec<_> = [2, 3]
            .into_iter()
            .map(|tag| {
                let (switch, probe) = (switch.clone(), probe.clone());
                thread::spawn(move || switch.switch(probe.inner(tag, true)))
            })
            .collect();
        let first = next(&mut rx).expect("a switched-in inner yields");
        assert!(first == 2 || first == 3);
        for t in switchers {
            t.join().unwrap();
        }
        let Poll::Ready(Some(last)) = poll_once(&mut rx) else { panic!("the last inner yields") };
        assert_eq!(probe.live(), 1);
        assert!(probe.alive(last), "the receiver yields from the surviving inner");
    });
}

/// The receiving handle is dropped while a waiting one polls: the waiting
/// one is woken, becomes the receiver, and gets the inner stream.
#[test]
fn loom_receiver_drop_hands_back() {
    sync::model(None, || {
        let probe = Probe::new();
        let switch = new_switch(probe.inner(1, true));
        let mut first = Source::receiving(switch.clone());
        let mut second = Source::waiting(switch.clone());
        let t = thread::spawn(move || {
            assert_eq!(poll_once(&mut first), Poll::Ready(Some(1)));
            drop(first);
        });
        assert_eq!(next(&mut second), Some(1));
        assert!(second.receiver);
        t.join().unwrap();
        assert_eq!(probe.live(), 1);
    });
}

/// The hand-back races a switch: the waiting handle still takes over, and
/// yields from the new inner once the switch returned.
#[test]
fn loom_receiver_drop_races_a_switch() {
    sync::model(None, || {
        let probe = Probe::new();
        let switch = new_switch(probe.inner(1, true));
        let first = Source::receiving(switch.clone());
        let mut second = Source::waiting(switch.clone());
        let dropper = thread::spawn(move || drop(first));
        let switcher = thread::spawn({
            let (switch, probe) = (switch.clone(), probe.clone());
            move || switch.switch(probe.inner(2, true))
        });
        assert!(matches!(next(&mut second), Some(1 | 2)));
        dropper.join().unwrap();
        switcher.join().unwrap();
        assert_eq!(poll_once(&mut second), Poll::Ready(Some(2)));
        assert_eq!(probe.live(), 1);
    });
}
