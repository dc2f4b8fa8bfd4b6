//! Reload units and the functions that re-run them.

pub(crate) mod module;
