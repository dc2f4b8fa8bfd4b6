//! `async fn`: free, `unsafe`, with references, `impl Trait` return, `?`
//! through `From`, early `return`, in traits and impls. The future stays
//! `Send` when the body is, and a dropped future is recorded as cancelled.

use std::fmt::Display;
use std::future::Future;
use std::num::ParseIntError;

use futures::executor::block_on;
use hmr_runtime::{Event, events::Outcome, capture_events, hmr_track};

#[hmr_track]
async fn double(x: u32) -> u32 {
    x * 2
}

#[hmr_track]
async unsafe fn read(pointer: *const u32) -> u32 {
    // SAFETY: the caller passes a valid pointer.
    unsafe { *pointer }
}

#[hmr_track]
async fn first_word(text: &str) -> &str {
    text.split(' ').next().unwrap_or(text)
}

#[hmr_track]
async fn shown(x: u32) -> impl Display {
    if x == 0 {
        return String::from("zero");
    }
    futures::future::ready(format!("{x}")).await
}

#[derive(Debug)]
struct Wrapped;

impl From<ParseIntError> for Wrapped {
    fn from(_: ParseIntError) -> Self {
        Wrapped
    }
}

#[hmr_track]
async fn parse(text: &str) -> Result<u32, Wrapped> {
    let value: u32 = text.parse()?;
    Ok(double(value).await)
}

#[hmr_track]
async fn unit() {
    futures::future::ready(()).await;
}

#[hmr_track]
async fn pending_forever() {
    futures::future::pending::<()>().await;
}

trait Feed {
    #[hmr_track]
    async fn provided(&self) -> u32 {
        self.required().await + 1
    }

    async fn required(&self) -> u32;
}

struct Prices;

impl Feed for Prices {
    #[hmr_track]
    async fn required(&self) -> u32 {
        41
    }
}

impl Prices {
    #[hmr_track]
    async fn by_ref(&self, name: &str) -> String {
        name.to_uppercase()
    }

    #[hmr_track]
    async fn new() -> Self {
        Prices
    }
}

/// Generic and lifetime-carrying return types are named inside the body.
#[hmr_track]
async fn made<T: Default>() -> T {
    T::default()
}

#[hmr_track]
async fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.len() >= b.len() { a } else { b }
}

#[hmr_track]
async fn boxed_impl() -> Box<impl Display> {
    Box::new(4)
}

fn assert_send<F: Future + Send>(future: F) -> F {
    future
}


fn main() {
    let here = module_path!();
    let (value, events) = capture_events(|| block_on(assert_send(double(4))));
    assert_eq!(value, 8);
    assert_eq!(hmr_ui_tests::called_keys(&events), [format!("{here}::double")]);

    let value = 3;
    // SAFETY: `&value` is valid.
    assert_eq!(block_on(unsafe { read(&value) }), 3);
    assert_eq!(block_on(first_word("hot reload")), "hot");
    assert_eq!(block_on(shown(0)).to_string(), "zero");
    assert_eq!(block_on(shown(5)).to_string(), "5");
    block_on(unit());

    let (parsed, events) = capture_events(|| block_on(parse("21")));
    assert_eq!(parsed.unwrap(), 42);
    assert_eq!(hmr_ui_tests::called_keys(&events), [format!("{here}::parse"), format!("{here}::double")]);
    assert!(block_on(parse("x")).is_err());

    let (value, events) = capture_events(|| block_on(Prices.provided()));
    assert_eq!(value, 42);
    assert_eq!(hmr_ui_tests::called_keys(&events).len(), 2);
    assert_eq!(block_on(Prices.by_ref("abc")), "ABC");
    let Prices = block_on(Prices::new());
    assert_eq!(block_on(made::<u8>()), 0);
    assert_eq!(block_on(longest("ab", "c")), "ab");
    assert_eq!(block_on(boxed_impl()).to_string(), "4");

    // Polled once, then dropped: the track's return says so.
    let ((), events) = capture_events(|| {
        let mut future = Box::pin(pending_forever());
        let waker = futures::task::noop_waker();
        let _ = future.as_mut().poll(&mut std::task::Context::from_waker(&waker));
    });
    let outcomes: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            Event::TrackCallReturn { outcome, .. } => Some(*outcome),
            _ => None,
        })
        .collect();
    assert_eq!(outcomes, [Outcome::Cancelled]);
}
