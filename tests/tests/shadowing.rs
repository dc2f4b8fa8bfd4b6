//! The expansion works in a crate that shadows `std`, `core`, `Box`,
//! `Option` and `Result`: it names everything by absolute path.
#![allow(dead_code, non_camel_case_types, reason = "shadows on purpose")]

use hmr_runtime::{capture_events, hmr_track};
use hmr_tests::calls;

mod std {}
mod core {}
struct Box;
struct Option;
struct Result;
struct Some;
struct None;
struct Ok;
struct Err;
struct Fn;
struct Future;

#[hmr_track]
fn plain(x: u32) -> u32 {
    x + 1
}

#[hmr_track]
fn closure(k: u32) -> impl ::std::ops::Fn(u32) -> u32 {
    move |x| x + k
}

#[hmr_track]
fn boxed(k: u32) -> ::std::boxed::Box<dyn ::std::ops::Fn(u32) -> u32> {
    ::std::boxed::Box::new(move |x| x * k)
}

#[hmr_track]
async fn later(x: u32) -> u32 {
    ::std::future::ready(x * 2).await
}

#[test]
fn shadowed_prelude_names() {
    let (values, events) = capture_events(|| {
        (plain(1), closure(2)(3), boxed(4)(5), ::futures::executor::block_on(later(6)))
    });
    assert_eq!(values, (2, 5, 20, 12));
    // plain, closure + its call, boxed + its call, later
    assert_eq!(calls(&events).len(), 6);
}
