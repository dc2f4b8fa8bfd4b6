//! The pipeline of the workspace fixture's program: `feed`, as in
//! ../../patch-fixture, in a library crate of the workspace.

#[path = "../../../patch-fixture/app/src/feed.rs"]
mod feed;

/// The program's entry points into its pipeline.
pub use feed::{micros, root_size, start};
