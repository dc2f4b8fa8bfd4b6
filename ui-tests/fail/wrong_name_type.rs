use hmr_runtime::hmr_track;

#[hmr_track(name = Prices)]
fn prices() {}

fn main() {
    prices();
}
