//! trybuild: every `pass/*.rs` compiles and runs; every `fail/*.rs` fails to
//! compile with exactly the diagnostics in its `.stderr`.
//!
//! The `.stderr` files are pinned to the toolchain they were generated with
//! (rustc 1.95): another rustc words and places diagnostics differently, so
//! there the fail cases are skipped with a note instead of failing. Regenerate
//! them with `TRYBUILD=overwrite cargo test -p hmr-ui-tests --test ui` and read
//! the diff.

use std::process::Command;

/// The `rustc --version` prefix the `.stderr` files were generated with.
const PINNED_RUSTC: &str = "rustc 1.95.";

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("pass/*.rs");
    let rustc = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("--version")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    if rustc.starts_with(PINNED_RUSTC) {
        cases.compile_fail("fail/*.rs");
    } else {
        eprintln!(
            "skipping fail/*.rs: the .stderr files are pinned to {PINNED_RUSTC}x, this is {rustc:?}"
        );
    }
}
