use hmr_runtime::hmr_track;

#[hmr_track(reset = "yes")]
fn prices() {}

fn main() {
    prices();
}
