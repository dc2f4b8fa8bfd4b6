//! `hmr-console`: watch a program's living graph and its reloads, live
//! (attached to `hmr_runtime::console::serve()`) or replayed from a
//! `JsonLines` log. The binary is `src/main.rs`; the model and the views
//! are here, so that they are tested without a terminal.

pub mod model;
pub mod source;
pub mod view;
