use hmr_runtime::hmr_track;

#[hmr_track(key = 5)]
fn prices() {}

fn main() {
    prices();
}
