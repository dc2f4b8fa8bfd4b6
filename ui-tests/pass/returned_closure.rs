//! Functions returning closures: each call of the returned closure opens a
//! scope with the function's key, as the call of the function did.

use std::fmt::Debug;

use hmr_runtime::{capture_events, hmr_track};

#[hmr_track]
fn adder(n: i32) -> impl Fn(i32) -> i32 {
    move |x| x + n
}

/// Not `move`, parameters inferred from the return type, elided lifetimes.
#[hmr_track]
fn length() -> impl Fn(&str) -> usize {
    |s| s.len()
}

#[hmr_track]
fn tail() -> impl Fn(&str) -> &str + Send + Sync + 'static {
    |s| &s[1..]
}

#[hmr_track]
fn higher_ranked() -> impl for<'a> Fn(&'a str) -> &'a str {
    |s| s.trim()
}

#[hmr_track]
fn counter() -> impl FnMut() -> u32 {
    let mut n = 0;
    move || {
        n += 1;
        n
    }
}

#[hmr_track]
fn once(text: String) -> impl FnOnce() -> String {
    move || text
}

fn double(x: u32) -> u32 {
    x * 2
}

/// Not a closure literal: a function item, wrapped.
#[hmr_track]
fn by_name() -> impl Fn(u32) -> u32 + Copy {
    double
}

/// Returned from `match` arms, a block and an early `return`.
#[hmr_track]
fn choose(k: u32) -> impl Fn(u32) -> u32 + Clone {
    let scale = move |x: u32| x * k;
    if k == 9 {
        return scale;
    }
    match k {
        0 => scale,
        _ => {
            let same = scale;
            same
        }
    }
}

#[hmr_track]
fn make_boxed(n: i32) -> Box<dyn Fn(i32) -> i32 + Send + 'static> {
    if n > 0 {
        return Box::new(move |x| x + n);
    }
    Box::new(|x| x)
}

#[hmr_track]
fn boxed_mut() -> Box<dyn FnMut() -> u32> {
    let mut n = 10;
    Box::new(move || {
        n += 1;
        n
    })
}

#[hmr_track]
fn boxed_once(text: &str) -> Box<dyn FnOnce() -> String + '_> {
    Box::new(move || text.to_uppercase())
}

struct Reader {
    value: u32,
}

impl Reader {
    #[hmr_track]
    fn reader(&self) -> impl Fn() -> u32 + '_ {
        || self.value
    }
}

#[hmr_track]
fn generic<T: Copy + Debug>(prefix: T) -> impl Fn(T) -> String {
    move |x| format!("{prefix:?}{x:?}")
}

#[hmr_track]
#[track_caller]
fn tracked_caller() -> impl Fn() -> u32 {
    let line = std::panic::Location::caller().line();
    move || line
}

#[hmr_track]
async fn make_async() -> impl Fn(u32) -> u32 {
    |x| x + 1
}


fn main() {
    let here = module_path!();
    let (add, events) = capture_events(|| adder(1));
    assert_eq!(hmr_ui_tests::called_keys(&events), [format!("{here}::adder")]);
    let (sums, events) = capture_events(|| (add(1), add(2)));
    assert_eq!(sums, (2, 3));
    assert_eq!(hmr_ui_tests::called_keys(&events), [format!("{here}::adder"), format!("{here}::adder")]);

    let (len, events) = capture_events(|| length()("four"));
    assert_eq!((len, hmr_ui_tests::called_keys(&events).len()), (4, 2));
    assert_eq!(tail()("xyz"), "yz");
    assert_eq!(higher_ranked()(" a "), "a");

    let mut count = counter();
    let (counts, events) = capture_events(|| (count(), count()));
    assert_eq!((counts, hmr_ui_tests::called_keys(&events).len()), ((1, 2), 2));
    let (text, events) = capture_events(|| once("moved".into())());
    assert_eq!((text.as_str(), hmr_ui_tests::called_keys(&events).len()), ("moved", 2));

    let (value, events) = capture_events(|| by_name()(4));
    assert_eq!((value, hmr_ui_tests::called_keys(&events).len()), (8, 2));
    assert_eq!((choose(0)(5), choose(2)(5), choose(9)(5)), (0, 10, 45));
    let cloned = choose(1).clone();
    assert_eq!(cloned(1), 1);

    let (values, events) = capture_events(|| (make_boxed(1)(1), make_boxed(0)(1)));
    assert_eq!((values, hmr_ui_tests::called_keys(&events).len()), ((2, 1), 4));
    let mut next = boxed_mut();
    assert_eq!((next(), next()), (11, 12));
    let (text, events) = capture_events(|| boxed_once("abc")());
    assert_eq!((text.as_str(), hmr_ui_tests::called_keys(&events).len()), ("ABC", 2));

    let reader = Reader { value: 7 };
    let (value, events) = capture_events(|| reader.reader()());
    assert_eq!(value, 7);
    assert_eq!(hmr_ui_tests::called_keys(&events), [format!("{here}::Reader::reader"), format!("{here}::Reader::reader")]);
    assert_eq!(generic(1)(2), "12");
    assert_eq!(tracked_caller()(), line!());
    assert_eq!(futures::executor::block_on(make_async())(1), 2);
}
