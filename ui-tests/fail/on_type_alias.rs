use hmr_runtime::hmr_track;

#[hmr_track]
type Price = u32;

fn main() {
    let _: Price = 1;
}
