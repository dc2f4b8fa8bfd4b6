//! Parameter patterns: destructuring, `_`, `mut`, and parameters named like
//! the expansion's own helpers, which must not collide with them.

#![allow(non_snake_case)]

use hmr_runtime::{capture_events, hmr_track};

struct Point {
    x: i32,
    y: i32,
}

#[hmr_track]
fn sum((a, b): (i32, i32), Point { x, y }: Point, _: u8, [first, ..]: [i32; 3]) -> i32 {
    a + b + x + y + first
}

#[hmr_track]
fn bump(mut n: u32) -> u32 {
    n += 1;
    n
}

#[hmr_track]
fn helpers(__hmr_guard: u32, __HMR_SITE: u32, __hmr_site: u32, __hmr_name: u32) -> u32 {
    __hmr_guard + __HMR_SITE + __hmr_site + __hmr_name
}


fn main() {
    let (value, events) = capture_events(|| sum((1, 2), Point { x: 3, y: 4 }, 0, [5, 6, 7]));
    assert_eq!((value, hmr_ui_tests::call_count(&events)), (15, 1));
    let (value, events) = capture_events(|| bump(1));
    assert_eq!((value, hmr_ui_tests::call_count(&events)), (2, 1));
    let (value, events) = capture_events(|| helpers(1, 10, 100, 1000));
    assert_eq!((value, hmr_ui_tests::call_count(&events)), (1111, 1));
}
