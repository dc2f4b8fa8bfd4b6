//! Entities: what tracked functions build and re-executions update.

pub(crate) mod capture;
