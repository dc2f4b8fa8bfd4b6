//! Sync scopes: `enter` on the way in, the guard's `Drop` on every way out.

use std::marker::PhantomData;

use super::callsite::Callsite;
use crate::accumulator::dispatch::{emit, listening, publish};
use crate::accumulator::stack::{Frame, STACK};
use crate::events::{Event, Outcome};

/// Opens a track scope for one call of the function at `site`.
#[inline]
#[must_use]
pub fn enter(site: &'static Callsite) -> ScopeGuard {
    let key = site.key();
    let opened = STACK.try_with(|stack| {
        let mut stack = stack.borrow_mut();
        let depth = stack.push_call(key);
        let reduced = stack.frames[depth - 1].reduced;
        let event = if reduced || listening() { stack.top_call_event() } else { None };
        (depth, event, reduced)
    });
    let Ok((depth, event, reduced)) = opened else {
        // The thread is being torn down: run untracked.
        return ScopeGuard { depth: 0, _not_send: PhantomData };
    };
    if let Some(event) = event {
        send(event, reduced);
    }
    ScopeGuard { depth, _not_send: PhantomData }
}

/// Closes its scope when dropped: on return, `?`, early `return` and unwinding.
#[derive(Debug)]
pub struct ScopeGuard {
    depth: usize,
    // The frame lives on this thread's stack.
    _not_send: PhantomData<*const ()>,
}

impl Drop for ScopeGuard {
    #[inline]
    fn drop(&mut self) {
        if self.depth == 0 {
            return;
        }
        // Closed in place: moving the whole frame out (and through two
        // `Option`s) cost more than the rest of the scope.
        let closed = STACK.try_with(|stack| stack.borrow_mut().pop_call(self.depth));
        if let Ok(Some(closed)) = closed {
            let outcome =
                if std::thread::panicking() { Outcome::Unwound } else { Outcome::Returned };
            let event = Event::TrackCallReturn { id: closed.id, entity: closed.entity, outcome };
            send(event, closed.reduced);
        }
    }
}

/// Emit the `track-call-return` of a closed frame, if anyone needs it.
#[inline]
pub(crate) fn close(frame: &Frame, outcome: Outcome) {
    if frame.reduced || listening() {
        let event = Event::TrackCallReturn { id: frame.id, entity: frame.entity, outcome };
        send(event, frame.reduced);
    }
}

/// Route an event: to the store when its frame is reduced, else to listeners only.
pub(crate) fn send(event: Event, reduced: bool) {
    if reduced {
        emit(event);
    } else if listening() {
        publish(&event);
    }
}
