//! loom models of the item-boundary commit (`Clock`, `Commit`, `Mailbox`,
//! `Boundary`): every interleaving of readers handling items with commits
//! staging and publishing, with a close, with the reader going away.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p hmr-runtime --lib --release loom`
//!
//! Letters count their builds and drops in a [`Probe`] (std atomics: loom
//! runs its threads one at a time, so the counts are exact and add no
//! interleavings); each carries the epoch of the commit that staged it, so a
//! reader can tell which commit it sees.
//!
//! Two-thread models are exhaustive. The three-thread ones are bounded to
//! [`PREEMPTIONS`] preemptions: set `LOOM_MAX_PREEMPTIONS` to go deeper.

use std::future::poll_fn;
use std::sync::Arc as StdArc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::{Poll, Wake};

use loom::future::block_on;
use loom::thread;

use super::*;
use crate::living::sync::{self, Probe};

/// The preemption bound of the three-thread models.
const PREEMPTIONS: usize = 3;

/// What the models stage: the tag the probe counts it by, and the epoch of
/// the commit that staged it (1 for the value a mailbox is built with).
struct Note {
    tag: u32,
    epoch: u64,
    probe: StdArc<Probe>,
}

impl Note {
    fn new(probe: &StdArc<Probe>, tag: u32, epoch: u64) -> Note {
        probe.count_built(tag);
        Note { tag, epoch, probe: probe.clone() }
    }
}

impl Drop for Note {
    fn drop(&mut self) {
        self.probe.count_dropped(self.tag);
    }
}

impl Letter for Note {}

/// A mailbox holding tag 1, as a part is built with its first value.
fn mailbox(probe: &StdArc<Probe>) -> sync::Arc<Mailbox<Note>> {
    sync::Arc::new(Mailbox::new(Some(Note::new(probe, 1, 1))))
}

/// The reader of a mailbox, as a living part reads it: the version it last
/// saw and the value it has.
struct Part {
    mail: sync::Arc<Mailbox<Note>>,
    seen: u64,
    current: Option<Note>,
}

impl Part {
    fn new(mail: &sync::Arc<Mailbox<Note>>) -> Part {
        Part { mail: mail.clone(), seen: 0, current: None }
    }

    /// Reads the mailbox (keeping the newest letter it got); the epoch of
    /// the value the part now has.
    fn read(&mut self) -> u64 {
        match self.mail.take(&mut self.seen) {
            Mail::Letters(mut letters) => self.current = letters.pop(),
            Mail::Nothing | Mail::Later => {}
            Mail::Closed => panic!("nobody closes this mailbox"),
        }
        self.current.as_ref().expect("a part always has a value").epoch
    }
}

/// One item through A then B: the epochs of the values each handled it with.
fn item(a: &mut Part, b: &mut Part) -> (u64, u64) {
    let _boundary = Boundary::enter();
    (a.read(), b.read())
}

/// Stages `tag` into every mailbox under one commit and publishes it; the
/// commit's epoch.
fn commit(mailboxes: &[(&sync::Arc<Mailbox<Note>>, &StdArc<Probe>)], tag: u32) -> u64 {
    let mut commit = Commit::begin();
    let epoch = commit.epoch;
    for (mailbox, probe) in mailboxes {
        commit.stage(mailbox, Note::new(probe, tag, epoch));
    }
    assert!(commit.publish().is_empty(), "no drop panicked");
    epoch
}

/// A waker that only counts.
#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: StdArc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A commit staging into A and B races an item reading A then B: the item
/// sees the same commit in both (never A new and B old, nor the reverse);
/// the next item, after the commit, sees it in both; the values replaced are
/// dropped, the new ones kept.
#[test]
fn loom_commit_racing_a_poll() {
    sync::model(None, || {
        let (pa, pb) = (Probe::new(), Probe::new());
        let (a, b) = (mailbox(&pa), mailbox(&pb));
        let committer = thread::spawn({
            let (a, b, pa, pb) = (a.clone(), b.clone(), pa.clone(), pb.clone());
            move || commit(&[(&a, &pa), (&b, &pb)], 2)
        });
        let (mut ra, mut rb) = (Part::new(&a), Part::new(&b));
        let (ea, eb) = item(&mut ra, &mut rb);
        assert_eq!(ea, eb, "one item saw A at epoch {ea} and B at epoch {eb}");
        assert_eq!(committer.join().unwrap(), 2);
        assert_eq!(item(&mut ra, &mut rb), (2, 2));
        for probe in [&pa, &pb] {
            assert!(!probe.alive(1) && probe.alive(2), "only the newest value is alive");
        }
        drop((ra, rb, a, b));
        assert_eq!(pa.live() + pb.live(), 0);
    });
}

/// Two commits (tags 2 and 3) race a reader handling two items: each item
/// sees one commit in both mailboxes, the second never an older one than the
/// first; once both are published an item sees the newest, and every value
/// but the newest has been dropped.
#[test]
fn loom_two_commits_racing_two_items() {
    sync::model(Some(PREEMPTIONS), || {
        let (pa, pb) = (Probe::new(), Probe::new());
        let (a, b) = (mailbox(&pa), mailbox(&pb));
        let committers: Vec<_> = [2, 3]
            .into_iter()
            .map(|tag| {
                let (a, b, pa, pb) = (a.clone(), b.clone(), pa.clone(), pb.clone());
                thread::spawn(move || (commit(&[(&a, &pa), (&b, &pb)], tag), tag))
            })
            .collect();
        let (mut ra, mut rb) = (Part::new(&a), Part::new(&b));
        let mut last = 0;
        for _ in 0..2 {
            let (ea, eb) = item(&mut ra, &mut rb);
            assert_eq!(ea, eb, "one item saw A at epoch {ea} and B at epoch {eb}");
            assert!(ea >= last, "an item saw epoch {ea} after one saw {last}");
            last = ea;
        }
        let newest = committers.into_iter().map(|t| t.join().unwrap()).max().unwrap();
        assert_eq!(newest.0, 3);
        assert_eq!(item(&mut ra, &mut rb), (3, 3));
        for probe in [&pa, &pb] {
            assert_eq!(probe.live(), 1, "only the newest value is alive");
            assert!(probe.alive(newest.1));
        }
        drop((ra, rb, a, b));
        assert_eq!(pa.live() + pb.live(), 0);
    });
}

/// A pipeline that has handled items (its parts read their first values)
/// begins an item after commit 2 was published; commits 3 and 4 race it.
/// The item sees one commit in A and B whatever lands meanwhile: the newest
/// letter up to its epoch stays readable however many commits follow.
#[test]
fn loom_commits_racing_one_item() {
    sync::model(None, || {
        let (pa, pb) = (Probe::new(), Probe::new());
        let (a, b) = (mailbox(&pa), mailbox(&pb));
        let (mut ra, mut rb) = (Part::new(&a), Part::new(&b));
        assert_eq!(item(&mut ra, &mut rb), (1, 1));
        assert_eq!(commit(&[(&a, &pa), (&b, &pb)], 2), 2);
        let committer = thread::spawn({
            let (a, b, pa, pb) = (a.clone(), b.clone(), pa.clone(), pb.clone());
            move || {
                // Tag 3 twice: the probe counts tags 1 to 3.
                assert_eq!(commit(&[(&a, &pa), (&b, &pb)], 3), 3);
                assert_eq!(commit(&[(&a, &pa), (&b, &pb)], 3), 4);
            }
        });
        let (ea, eb) = item(&mut ra, &mut rb);
        assert_eq!(ea, eb, "one item saw A at epoch {ea} and B at epoch {eb}");
        assert!(ea >= 2, "an item begun after commit 2 saw epoch {ea}");
        committer.join().unwrap();
        assert_eq!(item(&mut ra, &mut rb), (4, 4));
        for probe in [&pa, &pb] {
            assert_eq!(probe.live(), 1, "only the newest value is alive");
        }
        drop((ra, rb, a, b));
        assert_eq!(pa.live() + pb.live(), 0);
    });
}

/// One thread, in order: an item that began `KEPT` commits ago still reads
/// its epoch's letter in every part (an unread mailbox keeps `KEPT`
/// published letters), and a mailbox nobody reads stays bounded however
/// many commits pass (older letters are folded, and dropped). One schedule,
/// but past loom's default branch limit (a hundred commits).
#[test]
fn loom_unread_mailbox_keeps_kept_letters() {
    let mut builder = loom::model::Builder::new();
    builder.max_branches = 10_000_000;
    builder.check(|| {
        let (pa, pb) = (Probe::new(), Probe::new());
        let (a, b) = (mailbox(&pa), mailbox(&pb));
        let both = [(&a, &pa), (&b, &pb)];
        let (mut ra, mut rb) = (Part::new(&a), Part::new(&b));
        assert_eq!(item(&mut ra, &mut rb), (1, 1));
        assert_eq!(commit(&both, 2), 2);
        let boundary = Boundary::enter();
        assert_eq!(ra.read(), 2);
        for _ in 0..KEPT {
            commit(&both, 3);
        }
        assert_eq!(rb.read(), 2, "an item spanning KEPT commits lost its epoch's letter");
        drop(boundary);
        let newest = 2 + KEPT as u64;
        assert_eq!(item(&mut ra, &mut rb), (newest, newest));
        for _ in 0..2 * KEPT {
            commit(&[(&a, &pa)], 3);
        }
        let unread = sync::lock(&a.state).letters.len();
        assert!(unread <= KEPT + 1, "an unread mailbox holds {unread} letters");
        assert_eq!(item(&mut ra, &mut rb), (newest + 2 * KEPT as u64, newest));
        drop((ra, rb, a, b));
        assert_eq!(pa.live() + pb.live(), 0);
    });
}

/// A commit races a close (the part's disposal) while the reader waits for
/// mail: the reader is woken and finds `Closed`, and no letter outlives it
/// (the close drops what was staged, a commit after it drops its letter).
#[test]
fn loom_commit_racing_a_close() {
    sync::model(Some(PREEMPTIONS), || {
        let probe = Probe::new();
        let a = mailbox(&probe);
        let committer = thread::spawn({
            let (a, probe) = (a.clone(), probe.clone());
            move || commit_now(&a, Note::new(&probe, 2, 2))
        });
        let closer = thread::spawn({
            let a = a.clone();
            move || assert!(a.close(), "closed once")
        });
        let mut reader = Part::new(&a);
        block_on(poll_fn(|cx| {
            reader.mail.register(cx.waker());
            loop {
                match reader.mail.take(&mut reader.seen) {
                    Mail::Letters(mut letters) => reader.current = letters.pop(),
                    Mail::Nothing => return Poll::Pending,
                    Mail::Later => {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    Mail::Closed => return Poll::Ready(()),
                }
            }
        }));
        committer.join().unwrap();
        closer.join().unwrap();
        assert!(matches!(reader.mail.take(&mut reader.seen), Mail::Nothing | Mail::Closed));
        assert!(!a.close(), "closed once");
        drop(reader);
        assert_eq!(probe.live(), 0, "a letter outlived the close");
    });
}

/// A commit stages into a mailbox whose reader is dropped meanwhile (its
/// task, its runtime gone): the publish (waking the waker it left) does not
/// panic, and every letter is dropped once the last `Arc` is.
#[test]
fn loom_commit_whose_reader_is_gone() {
    sync::model(None, || {
        let probe = Probe::new();
        let a = mailbox(&probe);
        let mut reader = Part::new(&a);
        assert_eq!(reader.read(), 1);
        let count = StdArc::new(Count::default());
        reader.mail.register(&std::task::Waker::from(count.clone()));
        let committer = thread::spawn({
            let (a, probe) = (a.clone(), probe.clone());
            move || commit_now(&a, Note::new(&probe, 2, 2))
        });
        drop((reader, a));
        committer.join().unwrap();
        assert_eq!(probe.live(), 0, "a letter outlived its mailbox");
    });
}
