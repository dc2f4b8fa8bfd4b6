//! loom models of the item-boundary commit (placeholder, replaced below).
