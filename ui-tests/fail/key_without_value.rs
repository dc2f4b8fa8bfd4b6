use hmr_runtime::hmr_track;

#[hmr_track(key)]
fn prices() {}

fn main() {
    prices();
}
