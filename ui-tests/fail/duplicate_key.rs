use hmr_runtime::hmr_track;

#[hmr_track(key = "prices", key = "quotes")]
fn prices() {}

fn main() {
    prices();
}
