//! What `#[hmr_track]` expansions call: call sites, sync scopes, async scopes.

pub(crate) mod disabled;
#[cfg(feature = "enabled")]
pub(crate) mod future;
pub(crate) mod keyed;
#[cfg(feature = "enabled")]
pub(crate) mod scope;
