//! Emission: events go to the reducer (when they touch the store) and to
//! listeners (captures on this thread, installed sinks).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::reducer::{Effects, reduce};
use crate::events::sink::publish_to_sinks;
use crate::events::{EntityId, Event};
use crate::store::Store;

/// Active captures plus installed sinks: with none, no event is built.
pub(crate) static LISTENERS: AtomicUsize = AtomicUsize::new(0);

static STORE: Mutex<Store> = Mutex::new(Store::new());

type Disposer = Box<dyn FnOnce() + Send>;
static DISPOSERS: Mutex<BTreeMap<EntityId, Disposer>> = Mutex::new(BTreeMap::new());

thread_local! {
    static CAPTURES: RefCell<Vec<Vec<Event>>> = const { RefCell::new(Vec::new()) };
}

#[inline]
pub(crate) fn listening() -> bool {
    LISTENERS.load(Ordering::Relaxed) != 0
}

pub(crate) fn store() -> MutexGuard<'static, Store> {
    STORE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reduce `event` (and what it causes) into the store, then publish them all.
pub(crate) fn emit(event: Event) {
    reduce_and_publish(event, true);
}

/// Reduce an event that listeners already saw (a `track-call` that reaches
/// the store late, when its scope captures its first entity); publish only
/// what it causes.
pub(crate) fn reduce_late(event: Event) {
    reduce_and_publish(event, false);
}

fn reduce_and_publish(event: Event, publish_event: bool) {
    let mut fx = Effects::default();
    let mut published = Vec::new();
    {
        let mut store = store();
        reduce(&mut store, &event, &mut fx);
        if publish_event {
            published.push(event);
        }
        while !fx.events.is_empty() {
            for follow in std::mem::take(&mut fx.events) {
                reduce(&mut store, &follow, &mut fx);
                published.push(follow);
            }
        }
    }
    if listening() {
        for event in &published {
            publish(event);
        }
    }
    if !fx.disposed.is_empty() || !fx.forgotten.is_empty() {
        let (run, forgotten): (Vec<Disposer>, Vec<Disposer>) = {
            let mut map = DISPOSERS.lock().unwrap_or_else(PoisonError::into_inner);
            (
                fx.disposed.iter().filter_map(|e| map.remove(e)).collect(),
                fx.forgotten.iter().filter_map(|e| map.remove(e)).collect(),
            )
        };
        // Dropped and run outside every lock: a disposer may emit events.
        drop(forgotten);
        for dispose in run {
            dispose();
        }
    }
}

/// Hand `event` to listeners only (it does not touch the store).
pub(crate) fn publish(event: &Event) {
    let _ = CAPTURES.try_with(|c| {
        if let Ok(mut captures) = c.try_borrow_mut() {
            for capture in captures.iter_mut() {
                capture.push(event.clone());
            }
        }
    });
    publish_to_sinks(event);
}

pub(crate) fn on_dispose(entity: EntityId, f: Disposer) {
    DISPOSERS.lock().unwrap_or_else(PoisonError::into_inner).insert(entity, f);
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
    CAPTURES.with(|c| c.borrow_mut().push(Vec::new()));
    LISTENERS.fetch_add(1, Ordering::Relaxed);
    let mut capturing = Capturing { done: false };
    let result = f();
    let events = CAPTURES.with(|c| c.borrow_mut().pop()).unwrap_or_default();
    capturing.done = true;
    drop(capturing);
    (result, events)
}
