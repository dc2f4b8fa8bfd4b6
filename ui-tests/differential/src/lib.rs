//! The forms of the differential lint check, `ui-tests/differential/check`.
//!
//! Every function here carries
//! `#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]` (with arguments
//! on a few). The check runs `cargo clippy` on this crate without and with the
//! feature `tracked` and requires the same diagnostics at the same
//! `line:col` from both: `#[hmr_track]` must add no warning and hide none. The
//! attribute line is in the source either way, so the spans line up; the full
//! path leaves no unused import behind when the feature is off.
//!
//! The crate is not meant to be lint-clean. Forms warn where a user's code
//! would (pedantic's `must_use_candidate` and `missing_errors_doc` on many),
//! and the forms under "Warnings on purpose" warn by design, so the check
//! sees warnings pass through the attribute and has something to compare.
//!
//! Every form compiles without the attribute: the check compares lints, not
//! errors. Left out for that reason: `-> impl Fn(u32) -> u32 { todo!() }` and
//! `-> impl Stream<Item = u32> { todo!() }` (E0277: `!` is neither).

use std::fmt::{Debug, Display};
use std::future::Future;
use std::num::ParseIntError;
use std::pin::Pin;
use std::rc::Rc;

use futures::stream::{self, BoxStream, LocalBoxStream, Stream, StreamExt};

// Sync functions.

/// A plain function.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn plain(x: u32) -> u32 {
    x + 1
}

/// Items first in the body, then statements.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn items_first(x: u32) -> u32 {
    const STEP: u32 = 2;
    fn helper(x: u32) -> u32 {
        x * STEP
    }
    let doubled = helper(x);
    doubled + 1
}

/// An early `return`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn early_return(x: u32) -> u32 {
    if x == 0 {
        return 1;
    }
    x * 2
}

/// `?` in a function returning `Result`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn question_mark(text: &str) -> Result<u32, ParseIntError> {
    let value: u32 = text.trim().parse()?;
    Ok(value * 2)
}

/// Type, lifetime and const parameters and a where clause.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn generic<'a, T: ?Sized, const N: usize>(items: &'a [&'a T; N]) -> &'a T
where
    T: Display,
{
    items[0]
}

/// `impl Trait` in argument and return position.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn impl_display(value: impl Display) -> impl Display {
    format!("<{value}>")
}

/// Parameter patterns: tuple and array destructuring, `_` and `mut`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn patterns((a, b): (u32, u32), _: u8, [first, ..]: [u32; 3], mut n: u32) -> u32 {
    n += a + b + first;
    n
}

/// Parameters named like the expansion's own helpers.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn helper_names(__hmr_guard: u32, __hmr_site: u32) -> u32 {
    __hmr_guard + __hmr_site
}

/// The attribute's arguments.
#[cfg_attr(
    feature = "tracked",
    hmr_runtime::hmr_track(key = "differential::keyed", name = "Keyed", reset)
)]
pub fn keyed() -> u32 {
    7
}

/// `extern "C"`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub extern "C" fn extern_c(x: u32) -> u32 {
    x * 3
}

/// `unsafe fn`.
///
/// # Safety
///
/// `pointer` must be valid for reads.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub unsafe fn unsafe_read(pointer: *const u32) -> u32 {
    // SAFETY: the caller passes a valid pointer.
    unsafe { *pointer }
}

/// A function returning `!`.
///
/// # Panics
///
/// Always.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn never(message: &str) -> ! {
    panic!("{message}")
}

/// The function's own attributes and an inner attribute.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
#[track_caller]
#[must_use]
#[inline]
pub fn attributes() -> u32 {
    #![allow(clippy::let_and_return)]
    let line = std::panic::Location::caller().line();
    line
}

/// A deprecated function (its caller below warns).
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
#[deprecated = "use `plain`"]
pub fn deprecated_fn() -> u32 {
    1
}

// Methods and traits.

/// The receiver of the methods below.
pub struct Feed {
    value: u32,
}

impl Feed {
    /// An associated function without a receiver.
    #[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
    pub fn new(value: u32) -> Self {
        Feed { value }
    }

    /// `&self`.
    #[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
    pub fn get(&self) -> u32 {
        self.value
    }

    /// `&mut self`.
    #[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
    pub fn bump(&mut self) {
        self.value += 1;
    }

    /// `self`.
    #[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
    pub fn into_value(self) -> u32 {
        self.value
    }

    /// `self: Rc<Self>`.
    #[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
    pub fn shared(self: Rc<Self>) -> u32 {
        self.value
    }

    /// `self: Pin<&mut Self>`.
    #[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
    pub fn pinned(self: Pin<&mut Self>) -> u32 {
        self.value
    }

    /// An `async` method.
    #[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
    pub async fn async_method(&self) -> u32 {
        self.value
    }

    /// A method returning a closure that borrows `self`.
    #[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
    pub fn reader(&self) -> impl Fn() -> u32 + '_ {
        || self.value
    }

    /// A method returning a stream that borrows `self`.
    #[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
    pub fn items(&self) -> impl Stream<Item = u32> + '_ {
        stream::iter([self.value])
    }

    /// A method returning an owned stream.
    #[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
    pub fn owned(&self) -> impl Stream<Item = u32> + 'static {
        stream::iter([self.value])
    }
}

/// A trait with provided methods.
pub trait Source {
    /// A provided method.
    #[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
    fn provided(&self) -> u32 {
        self.base() + 1
    }

    /// A provided `async` method.
    #[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
    async fn provided_async(&self) -> u32 {
        self.base() + 2
    }

    /// A required method.
    fn base(&self) -> u32;
}

impl Source for Feed {
    #[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
    fn base(&self) -> u32 {
        self.value
    }
}

// Async functions.

/// An `async fn`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub async fn async_fn(x: u32) -> u32 {
    futures::future::ready(x * 2).await
}

/// An `async fn` returning `Result`, with `?`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub async fn async_question_mark(text: &str) -> Result<u32, ParseIntError> {
    let value: u32 = text.parse()?;
    Ok(async_fn(value).await)
}

/// An `async fn` returning `impl Display`, with an early `return`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub async fn async_display(x: u32) -> impl Display {
    if x == 0 {
        return String::from("zero");
    }
    futures::future::ready(format!("{x}")).await
}

/// An `async fn` returning `()`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub async fn async_unit() {
    futures::future::ready(()).await;
}

/// An `async fn` borrowing its arguments.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub async fn async_longest<'a>(a: &'a str, b: &'a str) -> &'a str {
    futures::future::ready(()).await;
    if a.len() >= b.len() { a } else { b }
}

/// An `async fn` returning a closure.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub async fn async_closure() -> impl Fn(u32) -> u32 {
    futures::future::ready(()).await;
    |x| x + 1
}

// Returned closures.

/// A closure literal.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn closure_literal(n: u32) -> impl Fn(u32) -> u32 {
    move |x| x + n
}

/// A closure bound to a variable, returned early and at the end.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn closure_variable(k: u32) -> impl Fn(u32) -> u32 {
    let scale = move |x| x * k;
    if k == 0 {
        return scale;
    }
    scale
}

/// Parameters inferred from the return type, elided lifetimes.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn closure_elided() -> impl Fn(&str) -> usize {
    |s| s.len()
}

/// A higher-ranked closure.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn closure_higher_ranked() -> impl for<'a> Fn(&'a str) -> &'a str {
    |s| s.trim()
}

/// `FnMut`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn closure_fn_mut() -> impl FnMut() -> u32 {
    let mut n = 0;
    move || {
        n += 1;
        n
    }
}

/// `FnOnce`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn closure_fn_once(text: String) -> impl FnOnce() -> String {
    move || text
}

fn double(x: u32) -> u32 {
    x * 2
}

/// A function item, not a closure literal.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn closure_by_name() -> impl Fn(u32) -> u32 + Copy {
    double
}

/// A generic closure.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn closure_generic<T: Copy + Debug>(prefix: T) -> impl Fn(T) -> String {
    move |x| format!("{prefix:?}{x:?}")
}

/// `Box<dyn Fn … + Send>`, returned early and at the end.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn boxed_closure(n: u32) -> Box<dyn Fn(u32) -> u32 + Send> {
    if n == 0 {
        return Box::new(|x| x);
    }
    Box::new(move |x| x + n)
}

/// `Box<dyn FnMut>`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn boxed_fn_mut() -> Box<dyn FnMut() -> u32> {
    let mut n = 10;
    Box::new(move || {
        n += 1;
        n
    })
}

/// `Box<dyn FnOnce + '_>`, borrowing an argument.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn boxed_fn_once(text: &str) -> Box<dyn FnOnce() -> String + '_> {
    Box::new(move || text.to_uppercase())
}

// Returned streams and futures.

/// `impl Stream`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn impl_stream(n: u32) -> impl Stream<Item = u32> {
    stream::iter(0..n)
}

/// `impl futures::Stream + Send`, returned from `match` arms, a `loop`'s
/// `break` and an early `return`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn stream_branches(k: u32) -> impl futures::Stream<Item = u32> + Send {
    if k > 3 {
        return stream::iter(0..0);
    }
    let mut n = k;
    let start = loop {
        if n % 2 == 0 {
            break n;
        }
        n += 1;
    };
    match start {
        0 => stream::iter(0..3),
        s => stream::iter(s..3),
    }
}

/// A macro call as the tail.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn stream_from_macro() -> impl Stream<Item = u32> + Unpin + 'static {
    macro_rules! numbers {
        () => {
            stream::iter(vec![1, 2])
        };
    }
    numbers!()
}

/// `BoxStream<'static, _>`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn box_stream(n: u32) -> BoxStream<'static, u32> {
    stream::iter(0..n).boxed()
}

/// `futures::stream::BoxStream<'_, _>`, borrowing an argument.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn box_stream_borrowed(items: &[u32]) -> futures::stream::BoxStream<'_, u32> {
    stream::iter(items.iter().copied()).boxed()
}

/// `LocalBoxStream` (not `Send`).
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn local_box_stream() -> LocalBoxStream<'static, u32> {
    stream::iter([1]).boxed_local()
}

/// `Pin<Box<dyn Stream + Send>>`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn pinned_stream(n: u32) -> Pin<Box<dyn Stream<Item = u32> + Send>> {
    Box::pin(stream::iter(0..n))
}

/// Precise capturing, `+ use<>`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn stream_use() -> impl Stream<Item = u32> + use<> {
    stream::iter([1])
}

/// A type parameter not bounded by `'static`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn stream_generic<T: Send>(item: T) -> impl Stream<Item = T> {
    stream::iter([item])
}

/// `Pin<Box<dyn Future + Send>>` built by `Box::pin(async move { … })`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn boxed_future(n: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move { n + 1 })
}

/// `Pin<Box<dyn Future + '_>>`, borrowing an argument.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn boxed_future_borrowed(text: &str) -> Pin<Box<dyn Future<Output = usize> + '_>> {
    Box::pin(async move { text.len() })
}

// Placeholder bodies: `todo!()`, `unimplemented!()`, `panic!()`.

/// A placeholder returning `Box<dyn Fn>`; the unused argument warns.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn placeholder_boxed_closure(x: u32) -> Box<dyn Fn(u32) -> u32> {
    todo!()
}

/// A placeholder returning `Box<dyn FnMut + Send>`, by `panic!`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn placeholder_boxed_fn_mut() -> Box<dyn FnMut() -> u32 + Send> {
    panic!("not yet")
}

/// A placeholder returning `BoxStream<'static, _>`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn placeholder_box_stream() -> futures::stream::BoxStream<'static, u32> {
    unimplemented!()
}

/// A placeholder returning `Pin<Box<dyn Stream + Send>>`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn placeholder_pinned_stream() -> Pin<Box<dyn Stream<Item = u32> + Send>> {
    todo!()
}

/// A placeholder returning `Pin<Box<dyn Future + Send>>`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn placeholder_boxed_future() -> Pin<Box<dyn Future<Output = u32> + Send>> {
    todo!()
}

/// A placeholder returning `u32`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn placeholder_u32() -> u32 {
    todo!()
}

/// A placeholder returning `()`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn placeholder_unit() {
    todo!()
}

/// A placeholder returning `Result`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn placeholder_result() -> Result<u32, ParseIntError> {
    todo!()
}

/// A placeholder returning `impl Display` (`!` is `Display`).
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn placeholder_impl_display() -> impl Display {
    todo!()
}

/// A placeholder `async fn`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub async fn placeholder_async() -> u32 {
    todo!()
}

/// A placeholder `async fn` returning `impl Display`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub async fn placeholder_async_display() -> impl Display {
    todo!()
}

/// A placeholder whose arguments are all unused (each warns).
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn placeholder_unused_arguments(a: u32, b: &str) -> u32 {
    unimplemented!()
}

/// A placeholder whose message uses the arguments.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn placeholder_message(x: u32) -> Box<dyn Fn(u32) -> u32> {
    unimplemented!("adding {x}")
}

impl Feed {
    /// A placeholder method returning `Box<dyn Fn>`.
    #[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
    pub fn placeholder_method(&self) -> Box<dyn Fn(u32) -> u32> {
        todo!()
    }
}

// Warnings on purpose: each form warns without the attribute, so the check
// sees that they pass through it unchanged.

/// Warns: unused variable `doubled`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn unused_variable(x: u32) -> u32 {
    let doubled = x * 2;
    x
}

/// Warns: variable does not need to be mutable.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn unused_mut(x: u32) -> u32 {
    let mut y = x;
    y + 1
}

/// Warns: unreachable expression (after `todo!()`).
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn unreachable_after_todo(x: u32) -> u32 {
    todo!();
    x
}

/// Warns: `clippy::needless_return`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn needless_return(x: u32) -> u32 {
    return x + 1;
}

/// Warns: `clippy::let_and_return`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn let_and_return(x: u32) -> u32 {
    let y = x + 1;
    y
}

/// Warns: `clippy::needless_pass_by_value`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn needless_pass_by_value(items: Vec<u32>) -> usize {
    items.len()
}

/// Warns: `clippy::unnecessary_wraps` (private: the lint spares exported
/// functions).
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
fn unnecessary_wraps(x: u32) -> Option<u32> {
    Some(x + 1)
}

/// Calls the private form above, so it is not dead code.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn calls_unnecessary_wraps(x: u32) -> Option<u32> {
    unnecessary_wraps(x)
}

/// Warns: `clippy::unused_async`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub async fn unused_async(x: u32) -> u32 {
    x + 1
}

/// Warns: use of a deprecated function.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub fn calls_deprecated() -> u32 {
    deprecated_fn() + 1
}

/// Warns: function `never_called` is never used.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
fn never_called() -> u32 {
    1
}
