// A type error in the body is reported once, on the user's token, as
// without the attribute.
use hmr_runtime::hmr_track;

#[hmr_track]
fn prices() -> u32 {
    "not a number"
}

#[hmr_track]
async fn quotes() -> u32 {
    "not a number either"
}

fn main() {
    let _ = prices();
    drop(quotes());
}
