use hmr_runtime::hmr_track;

#[hmr_track]
fn prices() -> u32 {
    let base = 1 +;
    base
}

fn main() {
    let _ = prices();
}
