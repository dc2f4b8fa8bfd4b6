//! Entities: what tracked functions build and re-executions update.

pub(crate) mod builder;
pub(crate) mod capture;
pub(crate) mod channels;
pub(crate) mod ext;
pub(crate) mod hot;
pub(crate) mod ops;
pub(crate) mod source;
pub(crate) mod subscribe;
pub(crate) mod tap;
