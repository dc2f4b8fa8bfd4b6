use hmr_runtime::hmr_track;

#[hmr_track]
struct Feed {
    value: u32,
}

fn main() {
    let _ = Feed { value: 1 }.value;
}
