//! The `#[hmr_track]` attribute of [hmr-runtime](https://docs.rs/hmr-runtime).
//!
//! Depend on `hmr-runtime`, which re-exports the attribute; this crate is its
//! implementation detail and pinned to it exactly.
//!
//! ```toml
//! [dependencies]
//! hmr-runtime = "0.1"
//! ```
//!
//! See [`macro@hmr_track`] for what the attribute does and accepts.

mod args;
mod expand;
mod returned_closure;
mod returns;
mod validate;

use proc_macro::TokenStream;

/// Tracks every call of a function: each call opens a runtime scope (a
/// *track*) that the function's entities attach to, and that a re-execution
/// after an edit finds again by its structural path.
///
/// ```ignore
/// use hmr_runtime::hmr_track;
///
/// #[hmr_track]
/// fn prices(feed: &Feed) -> impl Stream<Item = Price> {
///     feed.quotes().hot_map(|q| q.price)
/// }
/// ```
///
/// The function behaves exactly as without the attribute; its body gets a
/// few statements in front that open the scope and close it when the call
/// ends, by return, `?`, panic or (for an `async fn`) when the future is
/// dropped.
///
/// - **Sync functions**, methods with any receiver, `unsafe` and `extern`
///   functions, generic functions: the scope covers the call.
/// - **`async fn`**: the scope is re-entered on every poll of the future, so
///   tasks interleaved on one thread never see each other's scopes.
/// - **Functions returning `impl Fn…` or `Box<dyn Fn…>`** (also `FnMut`,
///   `FnOnce`): the call opens a scope, and so does every call of the
///   returned closure, with the same call site.
///   Every `return` of the body is rewritten to pass through the wrapper,
///   except one inside a macro call, which the attribute cannot see: with
///   `Box<dyn Fn…>` the closure it returns goes untracked, with `impl Fn…`
///   the function does not compile (mismatched types). Return outside the
///   macro call instead.
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
/// A `const fn`, an item that is not a function, and a function without a
/// body are rejected, as are unknown, mistyped and repeated arguments.
#[proc_macro_attribute]
pub fn hmr_track(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::hmr_track(args.into(), item.into()).into()
}
