//! Reload units and the functions that re-run them.

pub(crate) mod module;
#[cfg(feature = "subsecond")]
pub(crate) mod patch;
