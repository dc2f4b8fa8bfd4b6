//! What the expansion calls when the `enabled` feature is off: nothing.
//! Everything inlines away, so a tracked function compiles to itself.

use std::future::Future;
use std::marker::PhantomData;

use crate::events::callsite::Callsite;

/// Does nothing.
#[inline(always)]
#[allow(clippy::inline_always, reason = "the whole point: the call must vanish")]
#[must_use]
pub fn enter(_site: &'static Callsite) -> ScopeGuard {
    ScopeGuard { _not_send: PhantomData }
}

/// Holds nothing; has no `Drop`.
#[derive(Debug)]
pub struct ScopeGuard {
    _not_send: PhantomData<*const ()>,
}

/// Returns `fut` itself.
#[inline(always)]
#[allow(clippy::inline_always, reason = "the whole point: the call must vanish")]
pub fn instrument<T, F: Future<Output = T>>(_site: &'static Callsite, fut: F) -> F {
    fut
}
