use hmr_runtime::hmr_track;

#[hmr_track]
#[hmr_track]
fn prices() {}

fn main() {
    prices();
}
