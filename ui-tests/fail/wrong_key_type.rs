use hmr_runtime::hmr_track;

#[hmr_track(key = 1)]
fn prices() {}

fn main() {
    prices();
}
