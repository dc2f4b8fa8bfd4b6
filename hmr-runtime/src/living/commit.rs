//! The item-boundary commit: the one swap protocol of every living part
//! (docs/design.md §7, the swap protocol).
//!
//! A living part (a hot operator's closure, a source's inner stream, a
//! subscription's pipeline and handler) reads what a re-execution sends it
//! from its [`Mailbox`]. Letters are *staged* under a [`Commit`] and tagged
//! with the commit's epoch; the commit then *publishes* that epoch, once, for
//! every part it staged into. A reader takes only the letters whose epoch is
//! at most the epoch of the item it is handling, so every part an item goes
//! through sees the same commits:
//!
//! - a subscription's task opens a [`Boundary`] per item: it reads the
//!   published epoch once, and every part polled for that item (the input,
//!   each operator, the handler) reads that same epoch;
//! - a stable stream ([`Source`](crate::Source)) opens one when polled outside
//!   any boundary (a consumer polling it by hand);
//! - a part polled with no boundary open reads the published epoch itself.
//!
//! Commits are serialised, so epochs are published in order and a reader
//! never goes back to an older version. A part's fast path is one atomic
//! load and a compare (its mailbox's version); the epoch is read only when
//! something was staged.
//!
//! This module knows nothing of tracks, stores or events: it is modelled
//! with loom as it is (`commit/loom_tests.rs`).

use std::collections::VecDeque;
use std::task::Waker;

use super::sync::{self, AtomicU64, AtomicWaker, Mutex, Ordering};

/// The published epoch and the lock that serialises commits.
pub(crate) struct Clock {
    /// The newest published epoch; starts at 1 (0 means "no boundary").
    epoch: AtomicU64,
    committing: Mutex<()>,
}

impl Clock {
    #[cfg(not(loom))]
    const fn new() -> Clock {
        Clock { epoch: AtomicU64::new(1), committing: Mutex::new(()) }
    }

    #[cfg(loom)]
    fn new() -> Clock {
        Clock { epoch: AtomicU64::new(1), committing: Mutex::new(()) }
    }
}

#[cfg(not(loom))]
static CLOCK: Clock = Clock::new();

#[cfg(loom)]
loom::lazy_static! {
    static ref CLOCK: Clock = Clock::new();
}

#[cfg(not(loom))]
std::thread_local! {
    /// The epoch of the item this thread is handling; 0 outside any boundary.
    static BOUNDARY: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[cfg(loom)]
loom::thread_local! {
    static BOUNDARY: std::cell::Cell<u64> = std::cell::Cell::new(0);
}

std::thread_local! {
    static INPUT_DISPOSED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The newest published epoch.
pub(crate) fn published() -> u64 {
    CLOCK.epoch.load(Ordering::Acquire)
}

/// The epoch a part polled now reads: its item's, or the published one.
fn epoch() -> u64 {
    let boundary = BOUNDARY.with(std::cell::Cell::get);
    if boundary == 0 { published() } else { boundary }
}

/// The span of one item: while it lives, every part polled on this thread
/// reads the epoch it sampled. Nested boundaries keep the outer one.
#[must_use]
pub(crate) struct Boundary {
    outermost: bool,
}

impl Boundary {
    /// Opens a boundary if none is open on this thread.
    #[inline]
    pub(crate) fn enter() -> Boundary {
        let open = BOUNDARY.with(std::cell::Cell::get) != 0;
        if !open {
            let now = published();
            BOUNDARY.with(|b| b.set(now));
        }
        Boundary { outermost: !open }
    }
}

impl Boundary {
    /// An input polled in this item ended because its track was disposed
    /// (a source, a channel's receiver): the subscription consuming it closes
    /// instead of waiting for a rebuild.
    pub(crate) fn note_input_disposed() {
        INPUT_DISPOSED.with(|d| d.set(true));
    }

    /// Whether an input ended by disposal since the last call.
    pub(crate) fn take_input_disposed() -> bool {
        INPUT_DISPOSED.with(|d| d.replace(false))
    }
}

impl Drop for Boundary {
    #[inline]
    fn drop(&mut self) {
        if self.outermost {
            BOUNDARY.with(|b| b.set(0));
        }
    }
}

/// Something a commit staged into: woken when the commit is published.
trait Notify: Send + Sync {
    fn published(&self);
}

/// A mailbox a commit staged into.
#[cfg(not(loom))]
type Listed = sync::Arc<dyn Notify>;
#[cfg(loom)]
type Listed = Box<dyn Notify>;

/// One commit: letters staged under it become visible, all at once, when it
/// is published. Holds the global commit lock from [`begin`](Commit::begin)
/// to [`publish`](Commit::publish) (or its drop, which publishes too: a
/// letter staged is never left unpublished).
pub(crate) struct Commit {
    epoch: u64,
    staged: Vec<Listed>,
    /// What the commit replaced, dropped once it is published and unlocked
    /// (dropping runs user code, which may start another commit).
    discarded: Vec<Box<dyn Send>>,
    lock: Option<sync::MutexGuard<'static, ()>>,
}

impl Commit {
    /// Starts the next commit, after the one running (if any) is published.
    pub(crate) fn begin() -> Commit {
        let lock = sync::lock(&CLOCK.committing);
        let epoch = CLOCK.epoch.load(Ordering::Acquire) + 1;
        Commit { epoch, staged: Vec::new(), discarded: Vec::new(), lock: Some(lock) }
    }

    /// Stages `letter` for `mailbox`'s reader, visible from this commit's epoch.
    ///
    /// An unread mailbox keeps at most [`KEPT`] published letters, however
    /// many commits pass: older ones are folded into the next
    /// ([`Letter::absorb`]).
    pub(crate) fn stage<T: Letter>(&mut self, mailbox: &sync::Arc<Mailbox<T>>, letter: T) {
        let listed = {
            let mut state = sync::lock(&mailbox.state);
            let listed = std::mem::replace(&mut state.listed, self.epoch) == self.epoch;
            // What is dropped is discarded: dropped once the commit is
            // unlocked (it may run user code).
            if state.closed {
                // A closed mailbox's reader is gone: the letter is dropped unread.
                self.discard(letter);
            } else {
                // A reader whose item began before a commit was published
                // still reads at that item's epoch, so published letters are
                // kept for it. Only an unread mailbox piles them up (a part
                // that handles no items): past `KEPT`, the oldest are folded
                // into the next, newest first. A reader whose item spans
                // more than `KEPT` commits would then miss its epoch's letter.
                let published = CLOCK.epoch.load(Ordering::Acquire);
                // Letters are in epoch order: those past the published epoch
                // (this commit's own) are at the end, so counting from the
                // end costs nothing when the mailbox holds many.
                let unpublished =
                    state.letters.iter().rev().take_while(|(e, _)| *e > published).count();
                let visible = state.letters.len() - unpublished;
                for i in (0..visible.saturating_sub(KEPT)).rev() {
                    let Some((_, old)) = state.letters.remove(i) else { break };
                    // The letter it folds into moved down to `i`.
                    let rest = state.letters[i].1.absorb(old);
                    self.discard(rest);
                }
                state.letters.push_back((self.epoch, letter));
                mailbox.version.fetch_add(1, Ordering::AcqRel);
            }
            listed
        };
        if !listed {
            self.list(mailbox);
        }
    }

    /// Lists `mailbox` to be woken when this commit is published.
    #[cfg(not(loom))]
    fn list<T: Letter>(&mut self, mailbox: &sync::Arc<Mailbox<T>>) {
        self.staged.push(mailbox.clone());
    }

    /// Lists `mailbox` to be woken when this commit is published (loom's
    /// `Arc` does not coerce to `Arc<dyn Notify>`: boxed).
    #[cfg(loom)]
    fn list<T: Letter>(&mut self, mailbox: &sync::Arc<Mailbox<T>>) {
        self.staged.push(Box::new(mailbox.clone()));
    }

    /// Publishes the epoch: every letter staged under this commit becomes
    /// readable at once, and every reader parked on a mailbox it staged into
    /// is woken. Returns the panics of the values it discarded (user `Drop`
    /// code), each caught so that the others are dropped too.
    pub(crate) fn publish(mut self) -> Vec<Box<dyn std::any::Any + Send>> {
        self.finish()
    }

    /// Drops `value` once the commit is published and unlocked.
    pub(crate) fn discard(&mut self, value: impl Send + 'static) {
        self.discarded.push(Box::new(value));
    }

    fn finish(&mut self) -> Vec<Box<dyn std::any::Any + Send>> {
        let Some(lock) = self.lock.take() else { return Vec::new() };
        CLOCK.epoch.store(self.epoch, Ordering::Release);
        let staged = std::mem::take(&mut self.staged);
        drop(lock);
        for mailbox in staged {
            mailbox.published();
        }
        std::mem::take(&mut self.discarded)
            .into_iter()
            .filter_map(|value| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(value))).err()
            })
            .collect()
    }
}

impl Drop for Commit {
    fn drop(&mut self) {
        drop(self.finish());
    }
}

/// Published letters an unread mailbox keeps (see [`Commit::stage`]).
pub(crate) const KEPT: usize = 256;

/// What a mailbox carries.
pub(crate) trait Letter: Send + Sized + 'static {
    /// Folds `older`, a letter the reader will never read on its own, into
    /// this newer one; returns what is left of it, to drop. By default the
    /// newer letter replaces the older entirely.
    fn absorb(&mut self, older: Self) -> Self {
        older
    }
}

impl<F: ?Sized + Send + 'static> Letter for Box<F> {}

impl<T: 'static> Letter for std::pin::Pin<Box<dyn futures_core::Stream<Item = T> + Send>> {}

/// Where a living part receives what commits send it: letters tagged with
/// the epoch that makes them visible, and a close.
pub(crate) struct Mailbox<T> {
    /// Bumped when a letter is staged, a commit publishes, or it closes;
    /// readers compare it with the last value they saw (their fast path).
    version: AtomicU64,
    /// The reader's waker, for readers that park (sources, tasks).
    waker: AtomicWaker,
    state: Mutex<Inbox<T>>,
}

struct Inbox<T> {
    /// Staged letters, oldest first, each with the epoch it is visible from.
    /// A deque: an unread mailbox folds its oldest letter on every commit.
    letters: VecDeque<(u64, T)>,
    /// The epoch of the last commit that staged here: a commit lists each
    /// mailbox once, to wake it when published.
    listed: u64,
    closed: bool,
}

/// What a reader found in its mailbox.
pub(crate) enum Mail<T> {
    /// Nothing new for this item.
    Nothing,
    /// Letters visible at this item's epoch, oldest first (never empty).
    Letters(Vec<T>),
    /// Letters were published that this item's epoch cannot see: the item
    /// began before their commit. Handle it with what the part has, then
    /// poll again (the caller wakes itself).
    Later,
    /// The mailbox was closed (the part was disposed or stopped).
    Closed,
}

impl<T> Mailbox<T> {
    /// An empty mailbox, or one holding `first` (visible at once).
    pub(crate) fn new(first: Option<T>) -> Mailbox<T> {
        Mailbox {
            version: AtomicU64::new(1),
            waker: AtomicWaker::new(),
            state: Mutex::new(Inbox {
                letters: first.into_iter().map(|l| (0, l)).collect(),
                listed: 0,
                closed: false,
            }),
        }
    }

    /// Whether nothing was staged, published or closed since `seen`.
    #[inline]
    pub(crate) fn unchanged(&self, seen: u64) -> bool {
        self.version.load(Ordering::Acquire) == seen
    }

    /// The reader's check: `seen` is the version it last read. One atomic
    /// load and a compare when nothing changed.
    #[inline]
    pub(crate) fn take(&self, seen: &mut u64) -> Mail<T> {
        let version = self.version.load(Ordering::Acquire);
        if version == *seen {
            return Mail::Nothing;
        }
        self.take_slow(seen, version)
    }

    #[cold]
    #[inline(never)]
    fn take_slow(&self, seen: &mut u64, version: u64) -> Mail<T> {
        let epoch = epoch();
        let mut state = sync::lock(&self.state);
        if state.closed {
            *seen = version;
            return Mail::Closed;
        }
        let visible = state.letters.iter().take_while(|(e, _)| *e <= epoch).count();
        let later = state.letters.get(visible).map(|(e, _)| *e);
        // With letters left for a later epoch, stay behind the version so the
        // next check looks again.
        if later.is_none() {
            *seen = version;
        }
        if visible > 0 {
            let taken: Vec<T> = state.letters.drain(..visible).map(|(_, l)| l).collect();
            return Mail::Letters(taken);
        }
        drop(state);
        match later {
            Some(e) if e <= published() => Mail::Later,
            _ => Mail::Nothing,
        }
    }

    /// Whether a letter waits, whatever its epoch, for which `f` holds.
    pub(crate) fn any(&self, f: impl Fn(&T) -> bool) -> bool {
        sync::lock(&self.state).letters.iter().any(|(_, l)| f(l))
    }

    /// Takes the newest letter whatever its epoch, dropping the others (here,
    /// unlocked): a part that was never living hands over what it was built
    /// with (adoption at commit).
    pub(crate) fn take_last(&self) -> Option<T> {
        let mut letters = std::mem::take(&mut sync::lock(&self.state).letters);
        letters.pop_back().map(|(_, l)| l)
    }

    /// Takes every letter whatever its epoch.
    pub(crate) fn take_all(&self) -> Vec<T> {
        let mut state = sync::lock(&self.state);
        let letters = std::mem::take(&mut state.letters);
        letters.into_iter().map(|(_, l)| l).collect()
    }

    /// Closes it: the reader's next check finds [`Mail::Closed`]; letters
    /// staged and not read are dropped (here, unlocked), later ones rejected.
    pub(crate) fn close(&self) -> bool {
        let unread = {
            let mut state = sync::lock(&self.state);
            if state.closed {
                return false;
            }
            state.closed = true;
            self.version.fetch_add(1, Ordering::AcqRel);
            std::mem::take(&mut state.letters)
        };
        drop(unread);
        self.waker.wake();
        true
    }

    /// Registers the reader's waker: a publish or a close wakes it.
    pub(crate) fn register(&self, waker: &Waker) {
        self.waker.register(waker);
    }
}

impl<T: Letter> Notify for Mailbox<T> {
    fn published(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
        self.waker.wake();
    }
}

#[cfg(loom)]
impl<T: Letter> Notify for sync::Arc<Mailbox<T>> {
    fn published(&self) {
        Mailbox::published(self);
    }
}

/// Stages one letter in a commit of its own (the loom models).
#[cfg(all(test, loom))]
pub(crate) fn commit_now<T: Letter>(mailbox: &sync::Arc<Mailbox<T>>, letter: T) {
    let mut commit = Commit::begin();
    commit.stage(mailbox, letter);
    assert!(commit.publish().is_empty());
}

#[cfg(all(test, loom))]
mod loom_tests;
