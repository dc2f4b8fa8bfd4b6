// `crate = path` must name the runtime (or a re-export of it): anything else
// has no `__private` module, and rustc says so.
use hmr_runtime::hmr_track;

mod elsewhere {}

#[hmr_track(crate = elsewhere)]
fn prices() {}

fn main() {
    prices();
}
