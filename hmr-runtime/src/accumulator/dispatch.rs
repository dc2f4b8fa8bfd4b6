//! Emission: events go to the reducer (when they touch the store) and to
//! listeners (captures on this thread, installed sinks).

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;

use super::hooks::{Disposer, Hook, hooks};
use super::reducer::{Effects, reduce};
pub(crate) use crate::events::listeners::{
    EVERYONE, LISTENERS, horizon, install_listener, listening,
};
use crate::events::sink::publish_to_sinks;
use crate::events::{Event, Name};
use crate::store::records::{Apply, give_back};
use crate::store::store;

/// What reducing an event leaves to do once the store is unlocked: swaps of
/// committed updates (first), then disposers.
#[must_use]
#[derive(Default)]
pub(crate) struct Aftermath {
    applies: Vec<Apply>,
    disposers: Vec<Disposer>,
}

impl Aftermath {
    /// Swap the committed updates into the living entities, as one commit:
    /// every living task takes them at its next item boundary, all at once
    /// (docs/design.md §7.3). A module runs this under its lock, so the next version
    /// sees the swapped graph. Parts the updates replaced are disposed once
    /// the commit is published.
    pub(crate) fn apply(&mut self) {
        let mut applies = std::mem::take(&mut self.applies);
        if applies.is_empty() {
            give_back(applies);
            return;
        }
        let mut commit = crate::living::commit::Commit::begin();
        let mut replaced = Vec::new();
        let mut spent = Vec::with_capacity(applies.len());
        for apply in applies.drain(..) {
            // A user `Drop` that panics (an old closure, a replaced
            // pipeline) is reported; the other swaps still happen.
            match catch_unwind(AssertUnwindSafe(|| super::hooks::apply_update(apply, &mut commit)))
            {
                Ok(leftovers) => {
                    replaced.extend(leftovers.replaced);
                    if !leftovers.spent.is_empty() {
                        spent.push(leftovers.spent);
                    }
                }
                Err(payload) => swap_panicked(&*payload),
            }
        }
        for payload in commit.publish() {
            swap_panicked(&*payload);
        }
        // The new parts whose contents went to living ones hold user values
        // (seeds, initial values): dropped now that the commit is unlocked.
        for parts in spent {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(parts))) {
                swap_panicked(&*payload);
            }
        }
        for part in replaced {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| part.dispose())) {
                swap_panicked(&*payload);
            }
        }
        give_back(applies);
    }

    /// Apply, then run the disposers (see [`dispose_all`]).
    pub(crate) fn finish(mut self, module: &str) {
        self.apply();
        dispose_all(module, self.disposers);
    }
}

#[cold]
fn swap_panicked(payload: &(dyn std::any::Any + Send)) {
    let message =
        format!("swapping in the new version panicked: {}", crate::support::panic_message(payload));
    emit(Event::ReloadError { module: Name::default(), message, path: None });
}

thread_local! {
    /// This thread's active captures, innermost last, with their numbers.
    static CAPTURES: RefCell<Vec<(u64, Vec<Event>)>> = const { RefCell::new(Vec::new()) };
}

/// Reduce `event` (and what it causes) into the store, then publish them all.
pub(crate) fn emit(event: Event) {
    reduce_and_publish([(event, EVERYONE)]).finish("");
}

/// [`emit`] when calls are recorded (the `enabled` feature).
pub(crate) fn emit_if_enabled(event: Event) {
    if cfg!(feature = "enabled") {
        emit(event);
    }
}

/// Reduces `event`, publishes it to the listeners up to `horizon` (what it
/// causes to everyone), and hands back the swaps and disposers it made due,
/// to run once the caller has released its locks.
pub(crate) fn emit_deferring_disposal(event: Event, horizon: u64) -> Aftermath {
    reduce_and_publish([(event, horizon)])
}

/// Runs disposers; one that panics is reported as a `reload-error` of
/// `module` and the rest still run.
pub(crate) fn dispose_all(module: &str, disposers: Vec<Disposer>) {
    for dispose in disposers {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(dispose)) {
            let message = format!(
                "disposing an entity panicked: {}",
                crate::support::panic_message(&*payload)
            );
            emit(Event::ReloadError { module: module.into(), message, path: None });
        }
    }
}

/// Route a scope's event: reduce it if the scope reaches the store, publish
/// it to the listeners within the scope's horizon (0: none).
pub(crate) fn route_event(event: Event, reduce: bool, horizon: u64) {
    if reduce {
        reduce_and_publish([(event, horizon)]).finish("");
    } else if horizon != 0 {
        publish(&event, horizon);
    }
}

/// Reduce the events of a deferred scope (its `track-call` first), under
/// one lock, published to no one (no listener was installed when they
/// happened), and run what they made due. `events` is left empty.
pub(crate) fn reduce_batch(events: &mut Vec<Event>) {
    reduce_and_publish(events.drain(..).map(|e| (e, 0))).finish("");
}

/// Reduce `events` in order, publish each to the listeners up to its
/// horizon, and return the swaps and disposers the reduction made due
/// (those of forgotten entities are dropped unrun).
fn reduce_and_publish(events: impl IntoIterator<Item = (Event, u64)>) -> Aftermath {
    // Every tracked call in a module comes through here several times: the
    // buffers of its effects are this thread's, reused (a re-entry, from a
    // `Drop` run below, gets fresh ones).
    let Scratch { mut fx, mut dropped } = SCRATCH.try_with(Cell::take).unwrap_or_default();
    let mut published = Vec::new();
    {
        let mut store = store();
        for (event, horizon) in events {
            // Listeners get a copy; the store takes the event itself.
            if horizon != 0 && listening() {
                reduce(&mut store, event.clone(), &mut fx);
                published.push((event, horizon));
            } else {
                reduce(&mut store, event, &mut fx);
            }
            // What it caused, before the next event.
            while !fx.events.is_empty() {
                let mut follows = std::mem::take(&mut fx.events);
                for follow in follows.drain(..) {
                    if listening() {
                        reduce(&mut store, follow.clone(), &mut fx);
                        published.push((follow, EVERYONE));
                    } else {
                        reduce(&mut store, follow, &mut fx);
                    }
                }
                if fx.events.is_empty() {
                    fx.events = follows;
                }
            }
        }
    }
    if listening() {
        for (event, horizon) in &published {
            publish(event, *horizon);
        }
    }
    let applies = std::mem::take(&mut fx.applies);
    let mut run = Vec::new();
    if !fx.disposed.is_empty() || !fx.forgotten.is_empty() {
        let mut map = hooks();
        run.extend(fx.disposed.drain(..).filter_map(|e| Some(map.remove(&e)?.into_disposer(e))));
        dropped.extend(fx.forgotten.drain(..).filter_map(|e| map.remove(&e)));
    }
    if !dropped.is_empty() {
        // Dropped outside every lock: dropping a closure runs user code,
        // which must not unwind into the caller (a module's commit).
        let _ = catch_unwind(AssertUnwindSafe(|| dropped.clear()));
        if !dropped.is_empty() {
            // A `Drop` panicked part way: the rest go with the buffer.
            let rest = std::mem::take(&mut dropped);
            let _ = catch_unwind(AssertUnwindSafe(move || drop(rest)));
        }
    }
    let _ = SCRATCH.try_with(|scratch| scratch.set(Scratch { fx, dropped }));
    Aftermath { applies, disposers: run }
}

/// The buffers of [`reduce_and_publish`], kept between calls.
#[derive(Default)]
struct Scratch {
    fx: Effects,
    /// The hooks of forgotten entities, dropped once every lock is released.
    dropped: Vec<Hook>,
}

thread_local! {
    static SCRATCH: Cell<Scratch> =
        const { Cell::new(Scratch { fx: Effects::new(), dropped: Vec::new() }) };
}

/// Hand `event` to the listeners numbered up to `horizon` (it does not touch
/// the store).
pub(crate) fn publish(event: &Event, horizon: u64) {
    let _ = CAPTURES.try_with(|c| {
        if let Ok(mut captures) = c.try_borrow_mut() {
            for (_, capture) in captures.iter_mut().filter(|(seq, _)| *seq <= horizon) {
                capture.push(event.clone());
            }
        }
    });
    publish_to_sinks(event, horizon);
}

/// See [`crate::capture_events`].
pub(crate) fn capture_events<R>(f: impl FnOnce() -> R) -> (R, Vec<Event>) {
    struct Capturing {
        done: bool,
    }
    impl Drop for Capturing {
        fn drop(&mut self) {
            if !self.done {
                let _ = CAPTURES.try_with(|c| c.borrow_mut().pop());
            }
            LISTENERS.fetch_sub(1, Ordering::Relaxed);
        }
    }
    install_listener(|seq| CAPTURES.with(|c| c.borrow_mut().push((seq, Vec::new()))));
    let mut capturing = Capturing { done: false };
    let result = f();
    let events =
        CAPTURES.with(|c| c.borrow_mut().pop()).map(|(_, events)| events).unwrap_or_default();
    capturing.done = true;
    drop(capturing);
    (result, events)
}
