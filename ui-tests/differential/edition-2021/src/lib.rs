//! Tracked `async fn`s in an edition 2021 crate. There a plain
//! `fn f(text: &str) -> impl Future<Output = usize>` captures no lifetime its
//! bounds do not name, so a future that borrows `text` would not compile;
//! the attribute's `impl Future` must capture as an `async fn` does.

use std::fmt::Display;

/// Borrows an argument its output does not name.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub async fn borrowed_len(text: &str) -> usize {
    futures::future::ready(()).await;
    text.len()
}

/// Borrows two arguments, and returns one.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub async fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
    futures::future::ready(()).await;
    if a.len() >= b.len() {
        a
    } else {
        b
    }
}

/// Patterns, `mut` and an unused argument.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub async fn patterns((a, b): (u32, u32), mut c: u32, unused: u32) -> u32 {
    c += 1;
    futures::future::ready(a + b + c).await
}

/// Generic, with `?`.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub async fn generic<T: Display + Send>(value: T) -> Result<u32, std::num::ParseIntError> {
    let parsed = futures::future::ready(value.to_string().parse()).await?;
    Ok(parsed)
}

/// A reader of a feed.
pub struct Feed {
    value: u32,
}

impl Feed {
    /// A method borrowing `self`.
    #[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
    pub async fn read(&self) -> u32 {
        futures::future::ready(()).await;
        self.value
    }

    /// A method taking `mut self`.
    #[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
    pub async fn bump(mut self) -> u32 {
        self.value += 1;
        futures::future::ready(self.value).await
    }
}

/// `#[must_use]`: an unused output warns at the call below.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
#[must_use]
pub async fn must_use_output() -> u32 {
    futures::future::ready(1).await
}

/// Drops [`must_use_output`]'s output.
pub async fn drops_the_output() {
    must_use_output().await;
}

/// Attributes on parameters, and `ref mut` patterns.
#[cfg_attr(feature = "tracked", hmr_runtime::hmr_track)]
pub async fn parameter_attributes(
    #[allow(unused_variables)] quiet: u32,
    #[cfg(any())] gone: u32,
    ref mut counter: u32,
    (ref mut a, b): (u32, u32),
) -> u32 {
    *counter += 1;
    *a += b;
    futures::future::ready(*counter + *a).await
}
