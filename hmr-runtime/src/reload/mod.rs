//! Reload units and the functions that re-run them.

pub(crate) mod module;
pub(crate) mod module_async;
#[cfg(any(feature = "subsecond", feature = "subsecond-0-8"))]
pub(crate) mod patch;
pub(crate) mod roots;
