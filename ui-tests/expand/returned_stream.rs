use futures::stream::{self, BoxStream, Stream, StreamExt};
use hmr_runtime::hmr_track;

/// The body's value goes through the runtime's dispatch before the scope
/// closes: a `Send + 'static` stream comes back as a stable `Source`.
#[hmr_track]
pub fn prices(input: impl Stream<Item = u32> + Send + 'static) -> impl Stream<Item = u32> {
    input.map(|x| x * 2)
}

/// A boxed stream is bound at its declared type and boxed again only when
/// recording; `return` becomes `break` out of a labeled block.
#[hmr_track]
pub fn ticks(n: u32) -> BoxStream<'static, u32> {
    if n == 0 {
        return stream::empty().boxed();
    }
    stream::iter(0..n).boxed()
}

fn main() {
    let _ = prices(stream::iter([1, 2]));
    let _ = ticks(3);
}
