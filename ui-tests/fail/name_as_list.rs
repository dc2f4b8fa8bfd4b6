use hmr_runtime::hmr_track;

#[hmr_track(name("x"))]
fn prices() {}

fn main() {
    prices();
}
