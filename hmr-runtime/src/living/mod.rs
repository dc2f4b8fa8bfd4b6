//! The living graph's model, below the accumulator: the parts an execution
//! built ([`graph`]), the commit that swaps a new version into them at an item
//! boundary ([`commit`]), and the synchronisation they use ([`sync`], loom's
//! under `--cfg loom`). It knows no store, no hook and no entity type: the
//! entity types (`entities`) build on it, and the dispatcher applies a
//! committed update through it.

pub(crate) mod commit;
pub(crate) mod graph;
pub(crate) mod sync;
