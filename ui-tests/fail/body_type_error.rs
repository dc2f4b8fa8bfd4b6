// A type error in the body is reported once, on the user's token, as
// without the attribute.
use hmr_runtime::hmr_track;

#[hmr_track]
fn prices() -> u32 {
    "not a number"
}

#[hmr_track]
async fn quotes() -> u32 {
    std::future::ready(()).await;
    "not a number either"
}

// Never awaits: the sync scope, and rustc's own wording.
#[hmr_track]
async fn quick() -> u32 {
    "nor this"
}

fn main() {
    let _ = prices();
    drop(quotes());
    drop(quick());
}
