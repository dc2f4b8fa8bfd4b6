//! Async scopes: a tracked `async fn` future owns its frame and moves it onto
//! the polling thread's stack for each poll (like `tracing::Instrumented`), so
//! tasks interleaved on one thread never see each other's scopes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::scope::{announce_top, close, send};
use crate::accumulator::stack::{Frame, Keyed, Parked, STACK, Stack};
use crate::events::Outcome;
use crate::events::callsite::Callsite;

/// Runs `fut` inside a track scope of `site`, opened at its first poll.
///
/// The turbofish `T` pins the output type, so `?` inside an `async` block
/// infers the way it does in the `async fn` the block came from.
pub fn instrument<T, F: Future<Output = T>>(site: &'static Callsite, fut: F) -> Instrumented<F> {
    Instrumented { site, scope: AsyncScope::new(), fut }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    New,
    Running,
    Unwound,
    Done,
}

/// The part of an instrumented future that does not depend on what it
/// polls: its scope's frame between polls, and where it is in its life.
///
/// Everything done with it is out of line and not generic: the generic
/// `poll`s nest inside an async recursion (one per level), so they keep a
/// frame of a few words, and a `Frame` (over a hundred bytes) is moved only
/// in these functions. Between polls the frame is [`Parked`] (one pointer),
/// so the future, which callers build and move on their own stack frames,
/// grows by two words only.
#[derive(Debug)]
struct AsyncScope {
    /// The frame, between polls.
    frame: Option<Parked>,
    state: State,
}

impl AsyncScope {
    const fn new() -> AsyncScope {
        AsyncScope { frame: None, state: State::New }
    }

    /// [`enter`](Self::enter) for a tracked `async fn`, opening its scope at
    /// the first poll.
    #[inline(never)]
    fn enter_site(&mut self, site: &'static Callsite) -> Reenter<'_> {
        if self.state == State::New {
            let key = site.key();
            self.open(|stack| stack.new_async_frame(key));
        }
        self.enter()
    }

    /// Opens the scope at its first poll: builds its frame with `make` under
    /// the current top, and announces its call.
    #[inline(never)]
    fn open(&mut self, make: impl FnOnce(&mut Stack) -> Frame) {
        let opened = STACK.try_with(|stack| {
            let mut stack = stack.borrow_mut();
            let frame = make(&mut stack);
            let depth = stack.enter_async(frame);
            let event = announce_top(&mut stack);
            (stack.take_back(depth), event)
        });
        self.state = State::Running;
        if let Ok((frame, event)) = opened {
            self.frame = frame.map(Frame::park);
            if let Some((event, route)) = event {
                send(event, route);
            }
        }
    }

    /// Pushes the scope's frame for one poll; the guard takes it back, also
    /// when the poll panics, and closes the scope when the poll completes it.
    #[inline(never)]
    fn enter(&mut self) -> Reenter<'_> {
        let panicking_at_poll = std::thread::panicking();
        // No frame: polled after completion, or on a thread being torn down;
        // the future runs untracked. (Polled from a thread-local destructor,
        // the frame is gone with the thread's stack.)
        let depth = match self.frame.take() {
            Some(parked) => {
                let frame = parked.unpark();
                STACK.try_with(|s| s.borrow_mut().enter_async(frame)).unwrap_or(0)
            }
            None => 0,
        };
        Reenter { scope: self, depth, panicking_at_poll, ready: false }
    }

    /// The future is dropped: a scope still open was cancelled, or unwound.
    #[inline(never)]
    fn dropped(&mut self) {
        if let Some(parked) = self.frame.take() {
            let outcome =
                if self.state == State::Unwound { Outcome::Unwound } else { Outcome::Cancelled };
            close(parked.frame(), outcome);
        }
    }
}

/// Puts the frame back into the future after a poll, also when it panics,
/// and closes the scope if the poll completed it.
struct Reenter<'a> {
    scope: &'a mut AsyncScope,
    /// The depth the frame was pushed at (0: not pushed, an untracked poll).
    depth: usize,
    /// Polled from code that was already unwinding (a `Drop` during a panic).
    panicking_at_poll: bool,
    /// The poll returned `Ready`.
    ready: bool,
}

impl Drop for Reenter<'_> {
    #[inline(never)]
    fn drop(&mut self) {
        if self.depth == 0 {
            return;
        }
        let scope = &mut *self.scope;
        let taken = STACK.try_with(|s| s.borrow_mut().take_back(self.depth));
        if let Ok(Some(frame)) = taken {
            scope.frame = Some(frame.park());
        }
        if std::thread::panicking() && !self.panicking_at_poll {
            scope.state = State::Unwound;
        }
        if self.ready {
            scope.state = State::Done;
            if let Some(parked) = scope.frame.take() {
                close(parked.frame(), Outcome::Returned);
            }
        }
    }
}

pin_project! {
    /// The future of a tracked `async fn`.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<F> {
        site: &'static Callsite,
        scope: AsyncScope,
        #[pin]
        fut: F,
    }

    impl<F> PinnedDrop for Instrumented<F> {
        fn drop(this: Pin<&mut Self>) {
            this.project().scope.dropped();
        }
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        // The guard drops in place after the poll (`drop(guard)` would copy
        // it first).
        let mut guard = this.scope.enter_site(this.site);
        let poll = this.fut.poll(cx);
        guard.ready = poll.is_ready();
        poll
    }
}

pin_project! {
    /// The future of [`keyed_async`](crate::keyed_async): `fut` inside a
    /// keyed scope, opened at its first poll.
    #[must_use = "futures do nothing unless polled"]
    pub struct KeyedFuture<F> {
        key: Option<Keyed>,
        scope: AsyncScope,
        #[pin]
        fut: F,
    }

    impl<F> PinnedDrop for KeyedFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            this.project().scope.dropped();
        }
    }
}

impl<F> std::fmt::Debug for KeyedFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedFuture").finish_non_exhaustive()
    }
}

/// `fut` in the keyed scope `key`, opened at its first poll.
pub(crate) fn keyed_future<F: Future>(key: Keyed, fut: F) -> KeyedFuture<F> {
    KeyedFuture { key: Some(key), scope: AsyncScope::new(), fut }
}

impl<F: Future> Future for KeyedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if let Some(key) = this.key.take() {
            this.scope.open(|stack| stack.new_keyed_frame(key));
        }
        let mut guard = this.scope.enter();
        let poll = this.fut.poll(cx);
        guard.ready = poll.is_ready();
        poll
    }
}
