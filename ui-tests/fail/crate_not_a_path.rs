use hmr_runtime::hmr_track;

#[hmr_track(crate = "not a path")]
fn prices() {}

fn main() {
    prices();
}
