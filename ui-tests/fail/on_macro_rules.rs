use hmr_runtime::hmr_track;

#[hmr_track]
macro_rules! prices {
    () => {};
}

fn main() {
    prices!();
}
