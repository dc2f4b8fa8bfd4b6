#![deny(deprecated)]

use hmr_runtime::hmr_track;

// `#[deprecated]` survives the attribute: calling the function is still caught.
#[hmr_track]
#[deprecated = "use `quote` instead"]
fn old_quote() -> u32 {
    42
}

fn main() {
    let _ = old_quote();
}
