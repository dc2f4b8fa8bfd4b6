use hmr_runtime::hmr_track;

#[hmr_track(reset(always))]
fn prices() {}

fn main() {
    prices();
}
