//! The edited crate after an edit, built as a library: the objects of this
//! crate, linked into a shared library, are one patch (see
//! tests/tests/patching.rs). Exactly one `edit-N` feature selects the edit.
//!
//! Both fixtures build it, under the name of the crate they edit: here
//! `feed_app`, the program's own crate; in ../../patch-fixture-0-8 `pipes`,
//! the workspace library that holds the pipeline. The same name keeps the
//! tracked functions' keys (`feed_app::feed::prices`, `pipes::feed::prices`).

#[cfg(any(
    all(feature = "edit-1", any(feature = "edit-2", feature = "edit-3", feature = "edit-4")),
    all(feature = "edit-2", any(feature = "edit-3", feature = "edit-4")),
    all(feature = "edit-3", feature = "edit-4"),
))]
compile_error!("a patch carries one edit: enable one `edit-N` feature");

#[path = "../../app/src/feed.rs"]
mod feed;

/// The edited crate's entry points. `start` is never called in a patch, but
/// it instantiates `subsecond::HotFn`'s call of the root in this crate: the
/// function the jump table maps the running one onto (as `dx` maps every
/// changed function of the new build onto the old one).
pub use feed::{micros, root_size, start};

/// subsecond reads a patch's load address off its `main`. `dx` links patches
/// from the binary's objects, which carry one; a library exports its own.
#[unsafe(no_mangle)]
pub extern "C" fn main() -> std::ffi::c_int {
    0
}
