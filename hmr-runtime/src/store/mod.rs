//! The store the events are reduced into, and the queries that read it:
//! [`snapshot`] (a copy of the tracks, modules and entities), [`render_tree`],
//! [`derive_structural_path`].

pub(crate) mod queries;
pub(crate) mod records;

pub use queries::{derive_structural_path, render_tree, snapshot};
pub use records::{EntityRecord, ModuleRecord, Store, TrackRecord};

use std::sync::{Mutex, MutexGuard, PoisonError};

/// The one store of the process.
static STORE: Mutex<Store> = Mutex::new(Store::new());

/// Locks the store.
pub(crate) fn store() -> MutexGuard<'static, Store> {
    STORE.lock().unwrap_or_else(PoisonError::into_inner)
}
