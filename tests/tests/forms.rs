//! `#[hmr_track]` on every function form: each compiles, behaves exactly like
//! the undecorated function, and emits balanced `track-call` /
//! `track-call-return` events. Compiled under the strictest lints, so the
//! expansion provably adds no warnings (CI runs clippy with `-D warnings`).
#![deny(warnings, unused_qualifications, clippy::all, clippy::pedantic)]
#![allow(unsafe_code, reason = "`unsafe fn` and `async unsafe fn` are forms under test")]
#![allow(
    clippy::unused_self,
    clippy::needless_pass_by_value,
    clippy::unnecessary_wraps,
    clippy::trivially_copy_pass_by_ref,
    clippy::boxed_local,
    clippy::unused_async,
    clippy::extra_unused_type_parameters,
    reason = "the forms under test are deliberately shaped like this"
)]

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use futures::executor::block_on;
use hmr_runtime::{TrackId, capture_events, current_track, events::Outcome, hmr_track};
use hmr_tests::{Call, calls, is_fn};

/// Runs `f`, checks its events are balanced, returns its value and calls.
fn traced<R>(f: impl FnOnce() -> R) -> (R, Vec<Call>) {
    let (value, events) = capture_events(f);
    hmr_tests::assert_nested(&events);
    (value, calls(&events))
}

fn one_call<R>(name: &str, f: impl FnOnce() -> R) -> R {
    let (value, calls) = traced(f);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert!(is_fn(&calls[0].key, name), "{} is not `{name}`", calls[0].key);
    assert_eq!(calls[0].outcome, Outcome::Returned);
    value
}

// ---- free functions ------------------------------------------------------

#[hmr_track]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[test]
fn free_fn() {
    assert_eq!(one_call("add", || add(2, 3)), 5);
}

// ---- methods and receivers -----------------------------------------------

struct Counter {
    n: u32,
}

impl Counter {
    #[hmr_track]
    fn by_ref(&self) -> u32 {
        self.n
    }

    #[hmr_track]
    fn by_mut(&mut self) -> u32 {
        self.n += 1;
        self.n
    }

    #[hmr_track]
    fn by_value(self) -> u32 {
        self.n
    }

    #[hmr_track]
    fn by_mut_value(mut self) -> u32 {
        self.n *= 2;
        self.n
    }

    #[hmr_track]
    fn boxed(self: Box<Self>) -> u32 {
        self.n
    }

    #[hmr_track]
    fn rc(self: Rc<Self>) -> u32 {
        self.n
    }

    #[hmr_track]
    fn pinned(self: Pin<&mut Self>) -> u32 {
        self.get_mut().n
    }

    #[hmr_track]
    fn associated(n: u32) -> Counter {
        Counter { n }
    }
}

#[test]
fn inherent_method_ref() {
    assert_eq!(one_call("by_ref", || Counter { n: 4 }.by_ref()), 4);
}

#[test]
fn inherent_method_mut() {
    let mut c = Counter { n: 4 };
    assert_eq!(one_call("by_mut", || c.by_mut()), 5);
    assert_eq!(c.n, 5);
}

#[test]
fn receiver_self() {
    assert_eq!(one_call("by_value", || Counter { n: 7 }.by_value()), 7);
}

#[test]
fn receiver_mut_self() {
    assert_eq!(one_call("by_mut_value", || Counter { n: 7 }.by_mut_value()), 14);
}

#[test]
fn receiver_box_self() {
    assert_eq!(one_call("boxed", || Box::new(Counter { n: 8 }).boxed()), 8);
}

#[test]
fn receiver_rc_self() {
    assert_eq!(one_call("rc", || Rc::new(Counter { n: 9 }).rc()), 9);
}

#[test]
fn receiver_pin_mut_self() {
    let mut c = Counter { n: 10 };
    assert_eq!(one_call("pinned", || Pin::new(&mut c).pinned()), 10);
}

#[test]
fn associated_fn_key_names_the_type() {
    let (c, calls) = traced(|| Counter::associated(3));
    assert_eq!(c.n, 3);
    assert!(calls[0].key.ends_with("forms::Counter::associated"), "{}", calls[0].key);
}

// ---- traits ----------------------------------------------------------------

trait Shape {
    fn area(&self) -> u32;

    #[hmr_track]
    fn double_area(&self) -> u32 {
        self.area() * 2
    }
}

struct Square(u32);

impl Shape for Square {
    #[hmr_track]
    fn area(&self) -> u32 {
        self.0 * self.0
    }
}

#[test]
fn trait_impl_method() {
    let (area, calls) = traced(|| Square(3).area());
    assert_eq!(area, 9);
    assert!(
        calls[0].key.contains("as") && calls[0].key.ends_with("Shape>::area"),
        "{}",
        calls[0].key
    );
}

#[test]
fn provided_trait_method() {
    let (area, calls) = traced(|| Square(2).double_area());
    assert_eq!(area, 8);
    assert_eq!(calls.len(), 2);
    assert!(calls[0].key.ends_with("forms::Shape::double_area"), "{}", calls[0].key);
    // The impl's method ran inside the provided one.
    assert_eq!(calls[1].parent, Some(calls[0].id));
}

// ---- two impl blocks, same method name -------------------------------------

struct Foo<T>(T);

impl Foo<i32> {
    #[hmr_track]
    fn get(&self) -> i64 {
        i64::from(self.0)
    }
}

impl Foo<u8> {
    #[hmr_track]
    fn get(&self) -> i64 {
        i64::from(self.0) + 1000
    }
}

#[test]
fn two_impl_blocks_have_distinct_keys() {
    let (_, a) = traced(|| Foo(1i32).get());
    let (_, b) = traced(|| Foo(1u8).get());
    assert!(a[0].key.ends_with("Foo<i32>::get"), "{}", a[0].key);
    assert!(b[0].key.ends_with("Foo<u8>::get"), "{}", b[0].key);
    assert_ne!(a[0].id, b[0].id);
}

// ---- generics --------------------------------------------------------------

/// A type with no `Debug`, `Clone` or anything: generic arguments need no bounds.
struct Opaque;

#[hmr_track]
fn generic_type<T>(value: T) -> T {
    value
}

#[hmr_track]
fn generic_const<const N: usize>(values: [u8; N]) -> usize {
    values.len() + N
}

#[hmr_track]
fn generic_lifetime<'a, 'b: 'a>(a: &'a str, _b: &'b str) -> &'a str {
    a
}

#[hmr_track]
fn generic_where<T>(value: T) -> Vec<T>
where
    T: Send,
{
    vec![value]
}

#[test]
fn type_generic_without_bounds() {
    let Opaque = one_call("generic_type", || generic_type(Opaque));
}

#[test]
fn const_generic() {
    assert_eq!(one_call("generic_const", || generic_const([1, 2, 3])), 6);
}

#[test]
fn lifetime_generic() {
    assert_eq!(one_call("generic_lifetime", || generic_lifetime("a", "b")), "a");
}

#[test]
fn where_clause() {
    assert_eq!(one_call("generic_where", || generic_where(5)).len(), 1);
}

// ---- impl Trait ------------------------------------------------------------

#[hmr_track]
fn sum_all(values: impl IntoIterator<Item = u32>) -> impl Fn() -> u32 + Clone {
    let total: u32 = values.into_iter().sum();
    move || total
}

#[hmr_track]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|x| x % 2 == 0)
}

#[test]
fn impl_trait_argument_and_iterator_return() {
    assert_eq!(one_call("evens", || evens(7).collect::<Vec<_>>()), [0, 2, 4, 6]);
}

// ---- returned closures -----------------------------------------------------

#[hmr_track]
fn make_adder(k: u32) -> impl Fn(u32) -> u32 {
    move |x| x + k
}

#[hmr_track]
fn make_counter() -> impl FnMut() -> u32 {
    let mut n = 0;
    move || {
        n += 1;
        n
    }
}

#[hmr_track]
fn make_boxed(k: u32) -> Box<dyn Fn(&str) -> usize + Send> {
    if k == 0 {
        return Box::new(|s: &str| s.len());
    }
    Box::new(move |s: &str| s.len() + k as usize)
}

#[hmr_track]
fn make_once(label: String) -> impl FnOnce(&str) -> String {
    move |suffix| label + suffix
}

#[test]
fn returned_fn_opens_a_scope_per_call() {
    let (adder, defined) = traced(|| make_adder(10));
    assert_eq!(defined.len(), 1, "the defining call itself is tracked");
    let (values, each) = traced(|| (adder(1), adder(2)));
    assert_eq!(values, (11, 12));
    assert_eq!(each.len(), 2);
    assert!(each.iter().all(|c| c.key == defined[0].key), "{each:#?}");
}

#[test]
fn returned_fn_mut_keeps_its_state() {
    let mut counter = make_counter();
    let (values, each) = traced(|| (counter(), counter(), counter()));
    assert_eq!(values, (1, 2, 3));
    assert_eq!(each.len(), 3);
    assert!(each.iter().all(|c| is_fn(&c.key, "make_counter")));
}

#[test]
fn returned_boxed_fn_with_early_return() {
    let zero = make_boxed(0);
    let two = make_boxed(2);
    let (values, each) = traced(|| (zero("abc"), two("abc")));
    assert_eq!(values, (3, 5));
    assert_eq!(each.len(), 2);
    assert!(each.iter().all(|c| is_fn(&c.key, "make_boxed")));
}

#[test]
fn returned_fn_once() {
    let once = make_once("a".to_owned());
    let (value, each) = traced(|| once("b"));
    assert_eq!(value, "ab");
    assert!(is_fn(&each[0].key, "make_once"));
}

#[test]
fn returned_closure_with_bounds() {
    let total = sum_all([1, 2, 3]);
    let copy = total.clone();
    let (values, each) = traced(|| (total(), copy()));
    assert_eq!(values, (6, 6));
    assert_eq!(each.len(), 2);
}

// ---- diverging, unsafe, extern ---------------------------------------------

#[hmr_track]
fn diverges(message: &str) -> ! {
    panic!("{message}")
}

#[test]
fn never_returning_fn_unwinds() {
    let (result, events) = capture_events(|| std::panic::catch_unwind(|| diverges("stop")));
    assert!(result.is_err());
    let calls = calls(&events);
    assert_eq!(calls[0].outcome, Outcome::Unwound);
    assert_eq!(current_track(), None);
}

/// # Safety
/// `ptr` must be valid for reads.
#[hmr_track]
unsafe fn read(ptr: *const u32) -> u32 {
    // SAFETY: the caller promises `ptr` is valid.
    unsafe { *ptr }
}

#[test]
fn unsafe_fn() {
    let x = 41;
    // SAFETY: `&x` is valid.
    assert_eq!(one_call("read", || unsafe { read(&raw const x) }), 41);
}

#[hmr_track]
extern "C" fn c_abi(x: i32) -> i32 {
    x * 3
}

#[test]
fn extern_c_fn() {
    assert_eq!(one_call("c_abi", || c_abi(5)), 15);
    let f: extern "C" fn(i32) -> i32 = c_abi;
    assert_eq!(f(2), 6);
}

// ---- async -----------------------------------------------------------------

#[hmr_track]
async fn fetch(x: u32) -> u32 {
    let inner = current_track();
    std::future::ready(()).await;
    assert_eq!(current_track(), inner);
    x + 1
}

#[hmr_track]
async fn fallible(ok: bool) -> Result<u32, String> {
    let value: u32 = if ok { "7" } else { "x" }.parse().map_err(|_| "not a number".to_owned())?;
    Ok(value)
}

/// # Safety
/// None needed; the form is what is under test.
#[hmr_track]
async unsafe fn async_unsafe(x: u32) -> u32 {
    x * 2
}

trait Service {
    async fn call(&self, x: u32) -> u32;

    #[hmr_track]
    async fn call_twice(&self, x: u32) -> u32 {
        self.call(x).await + self.call(x).await
    }
}

struct Echo;

impl Service for Echo {
    #[hmr_track]
    async fn call(&self, x: u32) -> u32 {
        x
    }
}

#[hmr_track]
fn boxed_future(x: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move { x + 100 })
}

#[test]
fn async_fn() {
    assert_eq!(one_call("fetch", || block_on(fetch(1))), 2);
}

#[test]
fn async_fn_with_question_mark() {
    assert_eq!(one_call("fallible", || block_on(fallible(true))), Ok(7));
    assert_eq!(one_call("fallible", || block_on(fallible(false))), Err("not a number".to_owned()));
}

#[test]
fn async_unsafe_fn() {
    // SAFETY: nothing to uphold.
    assert_eq!(one_call("async_unsafe", || block_on(unsafe { async_unsafe(4) })), 8);
}

#[test]
fn async_fn_in_trait_and_provided_async_method() {
    let (value, calls) = traced(|| block_on(Echo.call_twice(5)));
    assert_eq!(value, 10);
    assert_eq!(calls.len(), 3);
    assert!(is_fn(&calls[0].key, "call_twice"));
    assert!(calls[1..].iter().all(|c| is_fn(&c.key, "call") && c.parent == Some(calls[0].id)));
    assert_ne!(calls[1].id, calls[2].id, "two calls in one parent: #0 and #1");
}

#[test]
fn fn_returning_boxed_future() {
    assert_eq!(one_call("boxed_future", || block_on(boxed_future(1))), 101);
}

#[test]
fn dropped_future_is_cancelled() {
    let ((), events) = capture_events(|| {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut never = Box::pin(never_done());
        assert!(never.as_mut().poll(&mut cx).is_pending());
        assert_eq!(current_track(), None, "the scope is left between polls");
        drop(never);
    });
    let calls = calls(&events);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].outcome, Outcome::Cancelled);
}

#[test]
fn future_never_polled_opens_no_scope() {
    let ((), events) = capture_events(|| drop(never_done()));
    assert!(events.is_empty(), "{events:#?}");
}

#[hmr_track]
async fn never_done() {
    std::future::pending::<()>().await;
}

#[hmr_track]
async fn panics_inside() {
    std::future::ready(()).await;
    panic!("inside a future");
}

#[test]
fn panicking_future_is_unwound() {
    let (result, events) =
        capture_events(|| std::panic::catch_unwind(|| block_on(panics_inside())));
    assert!(result.is_err());
    let calls = calls(&events);
    assert_eq!(calls[0].outcome, Outcome::Unwound);
    assert_eq!(current_track(), None);
}

/// No `.await`: the body runs in its first poll, in a sync call's scope.
#[hmr_track]
async fn without_await(fail: bool) -> Option<TrackId> {
    assert!(!fail, "panics in its only poll");
    current_track()
}

/// No `.await` token, but `join!` awaits: the scope must be left while the
/// future is pending.
#[hmr_track]
async fn joins(gate: futures::channel::oneshot::Receiver<u32>) -> (u32, Option<TrackId>) {
    let (value, ()) = futures::join!(gate, futures::future::ready(()));
    let value = value.unwrap_or(0);
    (value, current_track())
}

#[test]
fn async_fn_without_await_is_one_sync_scope() {
    let (own, events) = capture_events(|| block_on(without_await(false)));
    let first = calls(&events);
    assert_eq!(first.len(), 1);
    assert_eq!(own, Some(first[0].id), "the body runs in the fn's scope");
    assert_eq!(first[0].outcome, Outcome::Returned);

    let (result, events) =
        capture_events(|| std::panic::catch_unwind(|| block_on(without_await(true))));
    assert!(result.is_err());
    assert_eq!(calls(&events)[0].outcome, Outcome::Unwound);
    assert_eq!(current_track(), None);
}

#[test]
fn a_macro_that_awaits_keeps_the_async_scope() {
    let ((), events) = capture_events(|| {
        let (send, gate) = futures::channel::oneshot::channel();
        let mut future = Box::pin(joins(gate));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        assert_eq!(current_track(), None, "the scope is left while pending");
        send.send(4).unwrap();
        let std::task::Poll::Ready((value, inner)) = future.as_mut().poll(&mut cx) else {
            panic!("ready once the gate opened");
        };
        assert_eq!(value, 4);
        assert!(inner.is_some());
    });
    assert_eq!(calls(&events).len(), 1);
}

/// Above another attribute macro, which may want an `async fn` (here
/// `#[tokio::test]`, which expands after `#[hmr_track]`): the `async fn`
/// stays one.
#[hmr_track]
#[tokio::test]
async fn above_another_attribute_macro() {
    std::future::ready(()).await;
    assert!(current_track().is_some(), "the test body runs in its scope");
}

/// Patterns the `async fn` lowering binds `mut` (`ref mut`).
#[hmr_track]
#[allow(clippy::toplevel_ref_arg, reason = "the form under test")]
async fn async_patterns(ref mut counter: u32, (ref mut a, b): (u32, u32)) -> u32 {
    *counter += 1;
    *a += b;
    std::future::ready(*counter + *a).await
}

/// Attributes on parameters: the `async fn` form is kept.
#[hmr_track]
async fn async_parameter_attributes(
    #[allow(unused_variables)] quiet: u32,
    #[cfg(any())] gone: u32,
    kept: u32,
) -> u32 {
    std::future::ready(kept).await
}

#[test]
fn async_fn_with_ref_mut_patterns_and_parameter_attributes() {
    assert_eq!(one_call("async_patterns", || block_on(async_patterns(1, (2, 3)))), 7);
    let value =
        one_call("async_parameter_attributes", || block_on(async_parameter_attributes(0, 5)));
    assert_eq!(value, 5);
}

// ---- parameters and bodies -------------------------------------------------

struct Pair {
    left: u32,
    right: u32,
}

#[hmr_track]
fn destructure(Pair { left, right }: Pair, (a, _): (u32, u32), _: u32) -> u32 {
    left + right + a
}

#[test]
fn destructuring_and_underscore_params() {
    assert_eq!(one_call("destructure", || destructure(Pair { left: 1, right: 2 }, (3, 4), 5)), 6);
}

#[hmr_track]
#[allow(non_snake_case, reason = "the names collide with the expansion's on purpose")]
fn macro_local_names(__hmr_guard: u32, __hmr_site: u32, __HMR_SITE: u32, __hmr_name: u32) -> u32 {
    __hmr_guard + __hmr_site + __HMR_SITE + __hmr_name
}

#[test]
fn params_named_like_macro_locals() {
    assert_eq!(one_call("macro_local_names", || macro_local_names(1, 2, 3, 4)), 10);
}

#[hmr_track]
fn inner_attributes() -> u32 {
    #![allow(clippy::let_and_return)]
    let x = 5;
    x
}

#[test]
fn inner_attributes_in_the_body() {
    assert_eq!(one_call("inner_attributes", inner_attributes), 5);
}

#[hmr_track]
fn early_return(x: i32) -> Result<i32, String> {
    if x < 0 {
        return Err("negative".to_owned());
    }
    let parsed: i32 = x.to_string().parse().map_err(|_| "unparsable".to_owned())?;
    let none: Option<i32> = None;
    let _unused = none.ok_or_else(|| "none".to_owned());
    Ok(parsed * 2)
}

#[hmr_track]
fn question_mark(s: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = s.parse()?;
    Ok(n + 1)
}

#[test]
fn early_return_and_question_mark() {
    assert_eq!(one_call("early_return", || early_return(-1)), Err("negative".to_owned()));
    assert_eq!(one_call("early_return", || early_return(4)), Ok(8));
    assert!(one_call("question_mark", || question_mark("x")).is_err());
    assert_eq!(one_call("question_mark", || question_mark("1")), Ok(2));
}

#[hmr_track]
fn panics(message: &str) -> u32 {
    if message.is_empty() {
        return 0;
    }
    panic!("{message}");
}

#[test]
fn panic_is_unwound() {
    let (result, events) = capture_events(|| std::panic::catch_unwind(|| panics("boom")));
    assert!(result.is_err());
    assert_eq!(calls(&events)[0].outcome, Outcome::Unwound);
    assert_eq!(current_track(), None);
}

// ---- attributes that must keep working -------------------------------------

#[hmr_track]
#[track_caller]
fn caller_line() -> u32 {
    std::panic::Location::caller().line()
}

#[test]
fn track_caller_still_reports_the_caller() {
    let line = line!() + 1;
    let reported = caller_line();
    assert_eq!(reported, line);
}

/// Documented, must-use, inline, deprecated: all kept.
#[hmr_track]
#[must_use]
#[inline]
#[deprecated = "kept on purpose"]
fn decorated() -> u32 {
    1
}

#[test]
#[allow(deprecated, reason = "calling the deprecated fn is the point")]
fn doc_must_use_inline_deprecated() {
    assert_eq!(one_call("decorated", decorated), 1);
}

#[hmr_track(key = "custom::key", name = "Custom")]
fn custom_key() {}

#[test]
fn key_argument_replaces_the_static_key() {
    let ((), calls) = traced(custom_key);
    assert_eq!(calls[0].key, "custom::key");
}

#[test]
fn site_points_at_the_function() {
    let ((), events) = capture_events(custom_key);
    let Some(hmr_runtime::Event::TrackCall { site, .. }) = events.first() else {
        panic!("no track-call: {events:#?}")
    };
    assert!(site.file.ends_with("forms.rs"), "{site:?}");
    let source = include_str!("forms.rs");
    let line = source.lines().nth(site.line as usize - 1).expect("line exists");
    assert!(line.contains("fn custom_key"), "line {}: {line}", site.line);
}

#[hmr_track]
fn cleanup() -> u32 {
    7
}

struct CallsTrackedOnDrop(std::sync::Arc<std::sync::Mutex<Vec<hmr_runtime::Event>>>);

impl Drop for CallsTrackedOnDrop {
    fn drop(&mut self) {
        let (value, events) = capture_events(cleanup);
        assert_eq!(value, 7);
        self.0.lock().unwrap().extend(events);
    }
}

#[test]
fn a_call_made_while_unwinding_elsewhere_returns_normally() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let guard = CallsTrackedOnDrop(seen.clone());
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _guard = guard;
        panic!("unwinding past a drop that calls tracked code");
    }));
    std::panic::set_hook(hook);
    assert!(result.is_err());
    let events = seen.lock().unwrap().clone();
    let calls = calls(&events);
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].outcome,
        Outcome::Returned,
        "cleanup() returned; nothing unwound through it"
    );
}

#[hmr_track]
fn closures_in_macros(k: u32) -> impl Fn(u32) -> u32 {
    // `return`s of closures written inside macro calls are theirs, not the
    // function's: no error, nothing rewritten.
    let steps: Vec<Box<dyn Fn(u32) -> u32>> = vec![
        Box::new(|x| {
            if x > 100 {
                return 0;
            }
            x + 1
        }),
        Box::new(move |x| x * k),
    ];
    assert_eq!(
        format!(
            "{}",
            (|| {
                if k == 0 {
                    return 0;
                }
                5
            })()
        ),
        "5"
    );
    move |x| steps.iter().fold(x, |acc, step| step(acc))
}

#[test]
fn returns_of_closures_inside_macro_calls_are_left_alone() {
    let f = closures_in_macros(3);
    let (value, each) = traced(|| f(1));
    assert_eq!(value, 6);
    assert!(is_fn(&each[0].key, "closures_in_macros"));
}

macro_rules! lazily {
    ($body:expr) => {
        (|| $body)()
    };
}

#[hmr_track]
fn return_in_a_macro_wrapped_closure(k: Option<u32>) -> impl Fn(u32) -> u32 {
    // The macro wraps its argument in a closure: this `return` is the
    // closure's, and the function compiles exactly as without the attribute.
    let k = lazily!(match k {
        Some(k) => k,
        None => return 0,
    });
    move |x| x + k
}

#[test]
fn a_macro_that_wraps_its_argument_in_a_closure_compiles() {
    let (values, each) = traced(|| {
        (return_in_a_macro_wrapped_closure(Some(2))(1), return_in_a_macro_wrapped_closure(None)(1))
    });
    assert_eq!(values, (3, 1));
    assert_eq!(each.len(), 4, "two definitions, two calls of the returned closures");
}

#[hmr_track]
async fn async_identity() -> impl Fn(&str) -> &str {
    |s| s
}

#[hmr_track]
async fn async_higher_ranked() -> impl for<'a> Fn(&'a str) -> &'a str {
    |s| s
}

fn first_word(s: &str) -> &str {
    s.split(' ').next().unwrap_or(s)
}

#[hmr_track]
async fn async_fn_item() -> impl Fn(&str) -> &str {
    first_word
}

#[test]
fn async_fn_returning_a_closure_that_borrows_its_input() {
    let (fs, defined) = traced(|| {
        block_on(async {
            (async_identity().await, async_higher_ranked().await, async_fn_item().await)
        })
    });
    assert_eq!(defined.len(), 3);
    let (values, each) = traced(|| ((fs.0)("a b"), (fs.1)("c d"), (fs.2)("e f")));
    assert_eq!(values, ("a b", "c d", "e"));
    assert_eq!(each.len(), 3, "each call of a returned closure opens a scope");
}
