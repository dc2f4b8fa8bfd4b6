//! The accumulator: the stacks of open scopes, the store, and the one reducer.

pub(crate) mod dispatch;
pub(crate) mod hooks;
pub(crate) mod reducer;
pub(crate) mod stack;
