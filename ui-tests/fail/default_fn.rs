// syn 3 parses `default` into `FnModifiers`, which this macro rejects rather
// than dropping. The second error is rustc's own: specialization is unstable,
// so on stable the item is an error with or without the attribute.
use hmr_runtime::hmr_track;

struct Feed;

impl Feed {
    #[hmr_track]
    default fn quotes(&self) {}
}

fn main() {
    Feed.quotes();
}
