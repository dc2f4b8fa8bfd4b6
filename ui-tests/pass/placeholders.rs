//! Placeholder bodies in closure- and stream-returning functions compile
//! without a warning the plain function does not have (before, the wrapper
//! around the returned value was unreachable code). Clippy's side is checked
//! by ui-tests/differential.
#![deny(warnings)]

use futures::stream::BoxStream;
use hmr_runtime::hmr_track;

#[hmr_track]
fn boxed_closure() -> Box<dyn Fn(u32) -> u32> {
    todo!()
}

#[hmr_track]
fn boxed_stream() -> BoxStream<'static, u32> {
    unimplemented!()
}

#[hmr_track]
fn pinned_stream() -> std::pin::Pin<Box<dyn futures::Stream<Item = u32> + Send>> {
    ::core::panic!("not yet")
}

#[hmr_track]
fn with_message(x: u32) -> Box<dyn FnMut() -> u32 + Send> {
    unreachable!("never called with {x}")
}

fn main() {
    std::panic::set_hook(Box::new(|_| {}));
    assert!(std::panic::catch_unwind(boxed_closure).is_err());
    assert!(std::panic::catch_unwind(boxed_stream).is_err());
    assert!(std::panic::catch_unwind(pinned_stream).is_err());
    assert!(std::panic::catch_unwind(|| with_message(1)).is_err());
}
