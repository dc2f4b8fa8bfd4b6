//! Sync scopes: `enter` on the way in, the guard's `Drop` on every way out.

use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::accumulator::dispatch::{horizon, listening, reduce_batch, route_event};
use crate::accumulator::hooks::attach;
use crate::accumulator::stack::{Closed, Closing, Frame, STACK, Stack, recycle_batch};
use crate::events::callsite::Callsite;
use crate::events::{Event, Outcome};

/// Opens a track scope for one call of the function at `site`.
#[inline]
#[must_use]
pub fn enter(site: &'static Callsite) -> ScopeGuard {
    let key = site.key();
    let opened = STACK.try_with(|stack| {
        let mut stack = stack.borrow_mut();
        // In a module with no listener the scope mostly defers its events
        // to its return (docs/design.md §4.1); a listener, or the store when
        // the scope cannot defer, gets its `track-call` now.
        let (depth, now) = stack.push_call(key);
        let event = if now || listening() { announce_top(&mut stack) } else { None };
        (depth, event)
    });
    let Ok((depth, event)) = opened else {
        // The thread is being torn down: run untracked.
        return ScopeGuard { depth: 0, _not_send: PhantomData };
    };
    if let Some((event, route)) = event {
        send(event, route);
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

impl ScopeGuard {
    /// The guard of the scope pushed at `depth`.
    pub(crate) fn at(depth: usize) -> ScopeGuard {
        ScopeGuard { depth, _not_send: PhantomData }
    }

    /// A guard with no scope (the thread is being torn down).
    pub(crate) fn inert() -> ScopeGuard {
        ScopeGuard { depth: 0, _not_send: PhantomData }
    }
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
            returned(closed, unwound_or(closed.panicking_at_entry, Outcome::Returned));
        }
    }
}

/// Where an event goes: the store, listeners, or both.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Route {
    pub(crate) reduce: bool,
    /// The listener horizon (0: publish to no one).
    pub(crate) publish: u64,
}

/// Marks the top frame as announced to the current listeners and returns its
/// `track-call` with its route, if anyone needs it.
#[cold]
pub(crate) fn announce_top(stack: &mut Stack) -> Option<(Event, Route)> {
    let publish = if listening() { horizon() } else { 0 };
    let (event, reduce) = stack.announce_top(publish)?;
    Some((event, Route { reduce, publish }))
}

/// `Unwound` if a panic is unwinding through the scope (it was not already
/// unwinding when the scope opened), else `otherwise`.
pub(crate) fn unwound_or(panicking_at_entry: bool, otherwise: Outcome) -> Outcome {
    if std::thread::panicking() && !panicking_at_entry { Outcome::Unwound } else { otherwise }
}

/// Emit the `track-call-return` of a closed async frame, if anyone needs it.
pub(crate) fn close(frame: &Frame, outcome: Outcome) {
    if let Some(closed) = Closed::of(frame) {
        returned(closed, outcome);
    }
}

/// Send a closed scope's `track-call-return` along the route of its call;
/// a deferred scope's with the events it deferred, after attaching its
/// graph to its entity. The graph the scope held is dropped last, outside
/// every lock, and a panic in a `Drop` it runs is caught.
fn returned(closed: Closed, outcome: Outcome) {
    let Closing { batch, built } =
        if closed.cold { closed.take_cold() } else { Closing { batch: None, built: None } };
    let Closed { id, call, entity, reduced, announced, deferred, .. } = closed;
    if deferred
        && let (Some(entity), Some(graph)) = (entity, &built)
        && graph.holds(entity)
    {
        attach(entity, graph.clone());
    }
    let event = Event::TrackCallReturn { id, call, entity, outcome };
    match batch {
        Some(mut batch) => {
            batch.push(event);
            reduce_batch(&mut batch);
            recycle_batch(batch);
        }
        None => send(event, Route { reduce: reduced, publish: announced }),
    }
    if let Some(built) = built {
        let _ = catch_unwind(AssertUnwindSafe(move || drop(built)));
    }
}

/// Send an event along its route.
pub(crate) fn send(event: Event, route: Route) {
    route_event(event, route.reduce, route.publish);
}
