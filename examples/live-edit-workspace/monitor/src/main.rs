//! The binary of the workspace example: it connects to dx and registers the
//! root. The pipelines, and the root itself, are in the library `pipes`.
//!
//! ```sh
//! cargo install dioxus-cli@0.8.0-alpha.3 --locked
//! cd examples/live-edit-workspace && dx serve --hot-patch -p monitor
//! ```
//!
//! Then edit `pipes/src/lib.rs` and save (see its docs for what to try).
//! Without dx (`cargo run -p monitor` here) it just measures: nothing sends
//! patches.

#[path = "../../../live-edit/src/changes.rs"]
mod changes;

#[tokio::main]
async fn main() {
    // Connects to `dx serve`'s dev server when there is one and applies the
    // patches it sends.
    dioxus_devtools::connect_subsecond();
    let _changes = hmr_runtime::add_sink(changes::Changes::default());
    hmr_runtime::root("app", pipes::app).expect("the first version runs");
    std::future::pending::<()>().await;
}
