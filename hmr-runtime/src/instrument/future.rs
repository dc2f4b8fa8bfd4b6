//! Async scopes: a tracked `async fn` future owns its frame and moves it onto
//! the polling thread's stack for each poll (like `tracing::Instrumented`), so
//! tasks interleaved on one thread never see each other's scopes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::callsite::Callsite;
use super::scope::{announce_top, close, send};
use crate::accumulator::stack::{Frame, Keyed, STACK, Stack};
use crate::events::Outcome;

/// Runs `fut` inside a track scope of `site`, opened at its first poll.
///
/// The turbofish `T` pins the output type, so `?` inside an `async` block
/// infers the way it does in the `async fn` the block came from.
pub fn instrument<T, F: Future<Output = T>>(site: &'static Callsite, fut: F) -> Instrumented<F> {
    Instrumented { site, frame: None, state: State::New, fut }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    New,
    Running,
    Unwound,
    Done,
}

pin_project! {
    /// The future of a tracked `async fn`.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<F> {
        site: &'static Callsite,
        frame: Option<Frame>,
        state: State,
        #[pin]
        fut: F,
    }

    impl<F> PinnedDrop for Instrumented<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(frame) = this.frame.take() {
                let outcome = if *this.state == State::Unwound { Outcome::Unwound } else { Outcome::Cancelled };
                close(&frame, outcome);
            }
        }
    }
}

/// Puts the frame back into the future after a poll, also when it panics.
struct Reenter<'a> {
    slot: &'a mut Option<Frame>,
    state: &'a mut State,
    depth: usize,
    /// Polled from code that was already unwinding (a `Drop` during a panic).
    panicking_at_poll: bool,
}

impl Drop for Reenter<'_> {
    fn drop(&mut self) {
        if let Ok(Some(frame)) = STACK.try_with(|s| s.borrow_mut().take_back(self.depth)) {
            *self.slot = Some(frame);
        }
        if std::thread::panicking() && !self.panicking_at_poll {
            *self.state = State::Unwound;
        }
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if *this.state == State::New {
            let key = this.site.key();
            open(this.frame, this.state, |stack| stack.new_async_frame(key));
        }
        poll_in(this.frame, this.state, this.fut, cx)
    }
}

/// Opens an async scope at its first poll: builds its frame with `make`
/// under the current top, and announces its call.
fn open(slot: &mut Option<Frame>, state: &mut State, make: impl FnOnce(&mut Stack) -> Frame) {
    let opened = STACK.try_with(|stack| {
        let mut stack = stack.borrow_mut();
        let frame = make(&mut stack);
        let depth = stack.enter_async(frame);
        let event = announce_top(&mut stack);
        (stack.take_back(depth), event)
    });
    *state = State::Running;
    if let Ok((frame, event)) = opened {
        *slot = frame;
        if let Some((event, route)) = event {
            send(event, route);
        }
    }
}

/// Polls `fut` with its scope's frame on the stack, and closes the scope
/// when it completes.
fn poll_in<F: Future>(
    slot: &mut Option<Frame>,
    state: &mut State,
    fut: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<F::Output> {
    let Some(frame) = slot.take() else {
        // Polled after completion, or on a thread being torn down: untracked.
        return fut.poll(cx);
    };
    let pushed = STACK.try_with(|s| s.borrow_mut().enter_async(frame));
    let Ok(depth) = pushed else {
        // Polled from a thread-local destructor: the frame is gone with
        // the thread's stack; the future still runs, untracked.
        return fut.poll(cx);
    };
    let guard = Reenter { slot, state, depth, panicking_at_poll: std::thread::panicking() };
    let poll = fut.poll(cx);
    drop(guard);
    if poll.is_ready() {
        *state = State::Done;
        if let Some(frame) = slot.take() {
            close(&frame, Outcome::Returned);
        }
    }
    poll
}

pin_project! {
    /// The future of [`keyed_async`](crate::keyed_async): `fut` inside a
    /// keyed scope, opened at its first poll.
    #[must_use = "futures do nothing unless polled"]
    pub struct KeyedFuture<F> {
        key: Option<Keyed>,
        frame: Option<Frame>,
        state: State,
        #[pin]
        fut: F,
    }

    impl<F> PinnedDrop for KeyedFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(frame) = this.frame.take() {
                let outcome = if *this.state == State::Unwound { Outcome::Unwound } else { Outcome::Cancelled };
                close(&frame, outcome);
            }
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
    KeyedFuture { key: Some(key), frame: None, state: State::New, fut }
}

impl<F: Future> Future for KeyedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if let Some(key) = this.key.take() {
            open(this.frame, this.state, |stack| stack.new_keyed_frame(key));
        }
        poll_in(this.frame, this.state, this.fut, cx)
    }
}
