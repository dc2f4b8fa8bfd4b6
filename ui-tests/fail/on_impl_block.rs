use hmr_runtime::hmr_track;

struct Feed;

#[hmr_track]
impl Feed {
    fn quotes(&self) {}
}

fn main() {
    Feed.quotes();
}
