use hmr_runtime::hmr_track;

#[hmr_track]
const fn answer() -> u32 {
    42
}

fn main() {
    let _ = answer();
}
