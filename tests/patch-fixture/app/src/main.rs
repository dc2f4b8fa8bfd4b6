//! `feed_app`: a long-running stream program, edited while it runs by the
//! end-to-end patch test (tests/tests/patching.rs), the way `dx serve
//! --hot-patch` edits an app.
//!
//! It prints JSON lines on stdout: every hmr event (a `JsonLines` sink), every
//! item its subscription handles, and one report per patch. Each line of stdin
//! is a `subsecond::JumpTable` (what `dx` sends its apps); the program applies
//! it with `subsecond::apply_patch`, waits for hmr's reload to finish and
//! reports `hmr_runtime::modules::patch_status()` and the number of live tokio tasks.

mod feed;

// The program around `feed`, shared with the fixture of a workspace library
// (../../patch-fixture-0-8/app/src/main.rs).
include!("driver.rs");
