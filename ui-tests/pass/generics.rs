//! Generics of every kind, with no bounds added by the expansion: type,
//! lifetime and const parameters, where clauses, `impl Trait` in argument
//! and return position.

use std::fmt::Display;

use hmr_runtime::{capture_events, hmr_track};

#[hmr_track]
fn first<'a, T: ?Sized, const N: usize>(items: &'a [&'a T; N]) -> &'a T
where
    T: Display,
{
    items[0]
}

#[hmr_track]
fn show(value: impl Display) -> impl Display {
    format!("<{value}>")
}

#[hmr_track]
fn largest<T>(items: Vec<T>) -> Option<T>
where
    T: Ord,
{
    items.into_iter().max()
}


fn main() {
    let (value, events) = capture_events(|| first::<str, 2>(&["a", "b"]).to_owned());
    assert_eq!((value.as_str(), hmr_ui_tests::call_count(&events)), ("a", 1));
    let (value, events) = capture_events(|| show(7).to_string());
    assert_eq!((value.as_str(), hmr_ui_tests::call_count(&events)), ("<7>", 1));
    let (value, events) = capture_events(|| largest(vec![3, 9, 2]));
    assert_eq!((value, hmr_ui_tests::call_count(&events)), (Some(9), 1));
}
