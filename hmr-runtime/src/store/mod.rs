//! The store and the queries that read it.

pub(crate) mod queries;
pub(crate) mod records;

pub use records::{EntityRecord, ModuleRecord, Store, TrackRecord};
