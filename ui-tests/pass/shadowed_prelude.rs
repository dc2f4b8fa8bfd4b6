//! The expansion names nothing through the prelude or relative paths: a
//! crate that shadows `std`, `core`, `Box`, `Option`, `Result` and friends
//! still compiles.

#![allow(dead_code, non_camel_case_types, unused_macros)]

mod std {}
mod core {}
mod hmr_runtime {}

struct Box;
struct Option;
struct Some;
struct None;
struct Result;
struct Ok;
struct Err;
struct str;
trait Future {}
trait Fn {}
macro_rules! line {
    () => {
        "shadowed"
    };
}
macro_rules! file {
    () => {
        0
    };
}

fn type_name_of() {}
fn enter() {}
fn instrument() {}

#[::hmr_runtime::hmr_track]
fn sync_fn(x: u32) -> u32 {
    x + 1
}

#[::hmr_runtime::hmr_track(key = "keyed", name = "named")]
async fn async_fn(x: u32) -> u32 {
    ::std::future::ready(x + 2).await
}

#[::hmr_runtime::hmr_track]
fn boxed() -> ::std::boxed::Box<dyn ::core::ops::Fn(u32) -> u32> {
    ::std::boxed::Box::new(|x| x + 3)
}

#[::hmr_runtime::hmr_track]
fn returned() -> impl ::core::ops::Fn(u32) -> u32 {
    |x| x + 4
}

fn main() {
    assert_eq!(sync_fn(0), 1);
    assert_eq!(::futures::executor::block_on(async_fn(0)), 2);
    assert_eq!(boxed()(0), 3);
    assert_eq!(returned()(0), 4);
}
