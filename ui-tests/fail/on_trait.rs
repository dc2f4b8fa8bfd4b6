use hmr_runtime::hmr_track;

#[hmr_track]
trait Source {
    fn poll(&self) -> u32;
}

fn main() {}
