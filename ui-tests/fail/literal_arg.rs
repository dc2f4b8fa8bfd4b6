use hmr_runtime::hmr_track;

#[hmr_track("prices")]
fn prices() {}

fn main() {
    prices();
}
