use hmr_runtime::hmr_track;

trait Source {
    #[hmr_track]
    fn poll(&self) -> u32;
}

struct Feed;

impl Source for Feed {
    fn poll(&self) -> u32 {
        1
    }
}

fn main() {
    let _ = Feed.poll();
}
