use hmr_runtime::hmr_track;

#[hmr_track(keys = "prices")]
fn prices() {}

fn main() {
    prices();
}
