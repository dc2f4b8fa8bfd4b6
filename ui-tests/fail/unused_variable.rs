// An unused parameter is still reported, in sync and async functions alike.
#![deny(unused_variables)]

use hmr_runtime::hmr_track;

#[hmr_track]
fn sync_fn(unused: u32) {}

#[hmr_track]
async fn async_fn(unused_too: u32) {}

fn main() {
    sync_fn(1);
    drop(async_fn(2));
}
