//! The `#[hmr_track]` attribute of [hmr-runtime](https://docs.rs/hmr-runtime).
//!
//! Depend on `hmr-runtime`, which re-exports the attribute; this crate is its
//! implementation detail and pinned to it exactly.
//!
//! ```toml
//! [dependencies]
//! hmr-runtime = { path = "../hmr/hmr-runtime" } # not published yet: a path to a clone
//! ```
//!
//! See [`macro@hmr_track`] for what the attribute does and accepts.

mod args;
mod boxed_future;
mod expand;
mod returned_closure;
mod returned_stream;
mod returns;
mod stack;
mod validate;

use proc_macro::TokenStream;

/// Tracks every call of a function: each call opens a runtime scope (a
/// *track*) that the function's entities attach to, and that a re-execution
/// after an edit finds again by its structural path.
///
/// ```
/// use futures::Stream;
/// use hmr_runtime::{HmrStreamExt, hmr_track, source};
///
/// struct Quote {
///     price: f64,
/// }
///
/// #[hmr_track]
/// fn prices(quotes: impl Stream<Item = Quote> + Send + 'static) -> impl Stream<Item = f64> {
///     source(quotes).hot_map(|q| q.price)
/// }
///
/// let quotes = futures::stream::iter([Quote { price: 1.5 }, Quote { price: 2.0 }]);
/// let prices: Vec<f64> = futures::executor::block_on(futures::StreamExt::collect(prices(quotes)));
/// assert_eq!(prices, [1.5, 2.0]);
/// ```
///
/// The function behaves as without the attribute (returned closures and
/// streams aside, see below); its body gets a few statements in front that
/// open the scope and close it when the call ends, by return, `?`, panic or
/// (for an `async fn`) when the future is dropped.
///
/// - **Sync functions**, methods with any receiver, `unsafe` and `extern`
///   functions, generic functions: the scope covers the call.
/// - **`async fn`**: the scope is re-entered on every poll of the future, so
///   tasks interleaved on one thread never see each other's scopes. The
///   function becomes what the compiler makes of an `async fn`, a `fn`
///   returning `impl Future<Output = R>` (capturing as an `async fn` does, in
///   any edition), with the scope as the outermost future: a tracked level of
///   an async recursion then takes little more stack than an untracked one.
///   Rustdoc shows that signature. Under clippy (`cfg(clippy)`, so that its
///   lints see the `async fn`), and with an attribute that means something
///   else on a `fn` (another attribute macro, which may want an `async fn`
///   like `#[tokio::test]`; `#[must_use]`, `#[track_caller]`) or on a
///   parameter, the `async fn` stays one, awaiting the scope's future.
///   Known lint differences of `cargo build` (clippy's output is the plain
///   fn's, checked in CI): rustc's `async_fn_in_trait` does not fire on a
///   tracked provided method that awaits, and a `mut self` method that writes
///   a field of `self` it never reads again warns that the value is never
///   read (the body is an `async` block that captures `self`). A body that never awaits (no
///   `.await`, and no macro but the standard and logging ones, which cannot
///   hide one) runs in its first poll: its scope is a sync call's, opened and
///   closed in that poll.
/// - **Sync functions returning a boxed `async` block**, whose body ends in
///   `Box::pin(async move { … })` or `async move { … }.boxed()` (what
///   `#[async_trait]` writes for an `async fn`, so the attribute works under
///   it): the scope covers the block, as for an `async fn`, and the call's
///   outcome is the future's. Statements before that tail run outside the
///   scope.
/// - **Functions returning `impl Fn…` or `Box<dyn Fn…>`** (also `FnMut`,
///   `FnOnce`): the call opens a scope, and so does every call of the
///   returned closure, with the same call site.
///   Every `return` of the body is rewritten to pass through the wrapper,
///   except one inside a macro call, which the attribute cannot see: with
///   `Box<dyn Fn…>` the closure it returns goes untracked, with `impl Fn…`
///   the function does not compile (mismatched types). Return outside the
///   macro call instead.
/// - **Functions returning a stream**, declared as `impl Stream<Item = T>`
///   (also `+ Send`, `+ Unpin`, `+ 'static`), `BoxStream<'static, T>` or
///   `Pin<Box<dyn Stream<Item = T> + Send>>`: the stream becomes a stable
///   handle, a `Source` recorded in the call's track before the scope
///   closes, so whoever holds the first one keeps receiving from the newest
///   version. A `Source` is returned as it is; a stream that is not
///   `Send + 'static` passes unchanged. Every `return` goes through it, as
///   for closures (with the same exception for a `return` inside a macro
///   call). With the runtime's `enabled` feature off, the function returns
///   its own stream.
///
///   A stream that borrows cannot be made stable, and the attribute must
///   tell from the signature alone (the compiler picks the wrapping by type,
///   blind to lifetimes: a borrowing stream would fail to compile rather
///   than pass). So the stream is wrapped only when its return type names
///   no lifetime but `'static`, no `&` without one, no `Self` and no type
///   parameter not bounded by `'static`, and either
///   - the return type is bounded by `'static` (`impl Stream… + 'static`,
///     `BoxStream<'static, …>`, `dyn Stream… + 'static`), or
///   - nothing in the signature could lend it a lifetime: no receiver, no
///     lifetime parameter, every type parameter and `impl Trait` argument
///     bounded by `'static`, argument types held to the same rule as the
///     return type.
///
///   Otherwise — `fn words(text: &str) -> impl Stream…`, `&self` methods,
///   `fn f<T: Send>(…)`, `+ 'a`, `+ Sync`, `LocalBoxStream` — the stream is
///   returned as it is; add `+ 'static` where it does not borrow. An
///   `async fn` is left alone for now. The attribute cannot see the
///   parameters of an enclosing `impl`, nor a lifetime elided from a path
///   (`Parser` for `Parser<'_>`): a stream that holds one fails to compile;
///   write it out, or opt out with `+ use<…>`.
///
/// # Arguments
///
/// - `key = "…"`: the static key, instead of the function's item path
///   (`app::Feed::quotes`). Stable across renames.
/// - `name = "…"`: a display name for tools; never part of identity.
/// - `reset`: rebuild this function's entities on every re-execution instead
///   of updating them in place.
/// - `crate = path`: where the runtime is, when `hmr_runtime` is re-exported
///   or renamed (`path::__private` must exist).
///
/// # Errors
///
/// A `const fn`, an item that is not a function, a function without a body
/// (a required trait method, a foreign function) and a second
/// `#[hmr_track]` are rejected, as are unknown, repeated and unnamed
/// arguments and a `key` or `name` that is not a string literal (the error
/// says `key = "…"` is expected), each with one error on the offending token.
#[proc_macro_attribute]
pub fn hmr_track(args: TokenStream, item: TokenStream) -> TokenStream {
    stack::with_room(item.into(), |item| expand::hmr_track(args.into(), item)).into()
}
