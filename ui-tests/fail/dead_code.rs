// The expansion uses nothing of the user's: an uncalled tracked function is
// still dead code.
#![deny(dead_code)]

use hmr_runtime::hmr_track;

#[hmr_track]
fn never_called() {}

fn main() {}
