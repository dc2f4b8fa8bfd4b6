use hmr_runtime::hmr_track;

#[hmr_track]
static LIMIT: u32 = 10;

fn main() {
    let _ = LIMIT;
}
