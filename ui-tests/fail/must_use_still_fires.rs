#![deny(unused_must_use)]

use hmr_runtime::hmr_track;

// `#[must_use]` survives the attribute: ignoring the result is still caught.
#[hmr_track]
#[must_use]
fn price() -> u32 {
    42
}

fn main() {
    price();
}
