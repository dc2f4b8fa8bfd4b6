//! Expansion snapshots: `expand/*.rs` expanded by `cargo expand` must equal
//! the checked-in `expand/*.expanded.rs`, so a change to the generated code
//! shows up in review.
//!
//! Needs `cargo expand` on PATH, at the version CI installs (its output
//! format changes between versions):
//! `cargo install cargo-expand --version 1.0.127 --locked`.
//! Regenerate with `MACROTEST=overwrite cargo test -p hmr-ui-tests --test expand`
//! and read the diff.

use std::path::Path;
use std::process::Command;

const INSTALL: &str = "cargo install cargo-expand --version 1.0.127 --locked";

#[test]
fn expansions() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let installed = Command::new(cargo)
        .args(["expand", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(installed, "`cargo expand` is not on PATH; install it with `{INSTALL}` (CI does)");
    // `file!()` expands to the path rustc was given, here an absolute one:
    // make it workspace-relative, as in a normal build, so the snapshots
    // don't depend on where the repository is checked out. (Cargo merges
    // this with macrotest's own `build.rustflags`; a `RUSTFLAGS` variable
    // would override both.)
    let workspace =
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("ui-tests is in a workspace");
    let remap = format!("build.rustflags=[\"--remap-path-prefix={}/=\"]", workspace.display());
    let args = ["--config", remap.as_str()];
    if std::env::var_os("MACROTEST").is_some_and(|value| value == "overwrite") {
        macrotest::expand_args("expand/*.rs", args);
    } else {
        // Unlike `expand_args`, fails when a snapshot is missing instead of
        // writing it.
        macrotest::expand_without_refresh_args("expand/*.rs", args);
    }
}
