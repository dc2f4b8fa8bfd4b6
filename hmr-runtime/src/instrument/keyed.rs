//! Keyed scopes: `keyed(key, f)` gives the tracked calls inside `f` an
//! identity taken from a value instead of their position.

use std::fmt::Debug;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::Location;

/// Runs `f` in a scope identified by `key`: the tracked calls made inside `f`
/// take their identity from the key instead of their repeat count, as React
/// elements take theirs from `key` instead of their position in a list.
///
/// One pipeline per symbol, built in a loop, is the case it is for. Matched
/// by position, removing the first symbol would hand each pipeline the state
/// of the one after it; matched by key, it disposes exactly the removed
/// symbol's tracks, and every other pipeline keeps its state.
///
/// The key is any `Hash + Debug` value (a symbol, an id). Its `Hash` is its
/// identity; its `Debug` text shows in paths (`m/app::desk#0/["AAPL"]/app::pipeline#0`)
/// and in the keyed scope's `track-call` (`key: "[\"AAPL\"]"`). A keyed scope
/// is a track: it opens and closes with `track-call` / `track-call-return`
/// events, a re-execution that reaches it again updates it, and one that no
/// longer does disposes it with everything inside. Using one key twice in the
/// same execution numbers the second (`["AAPL"]#1`), as repeated calls are.
///
/// The scope is open while `f` runs. A tracked `async fn` opens its scope at
/// its first poll, so one only *called* inside `f` and awaited after it is
/// placed where it is awaited, not under the key: await it inside (in an
/// async context, use [`keyed_async`]).
///
/// ```
/// use hmr_runtime::{capture_entity, hmr_track, keyed, module, snapshot, EntityKind};
///
/// #[hmr_track(key = "docs::pipeline")]
/// fn pipeline(symbol: &str) {
///     capture_entity(EntityKind::Factory, format!("feed({symbol})"));
/// }
///
/// fn desk(symbols: &[&str]) {
///     for symbol in symbols {
///         keyed(symbol, || pipeline(symbol));
///     }
/// }
///
/// module("docs-keyed", || desk(&["AAPL", "MSFT"])).unwrap();
/// let before = snapshot();
/// let msft = before.tracks().find(|t| t.path == r#"docs-keyed/["MSFT"]/docs::pipeline#0"#);
/// let msft = msft.unwrap().id;
///
/// // AAPL removed: MSFT's pipeline keeps its track, so its state.
/// module("docs-keyed", || desk(&["MSFT"])).unwrap();
/// let after = snapshot();
/// assert!(after.track(msft).is_some());
/// assert_eq!(after.tracks().filter(|t| t.key == "docs::pipeline").count(), 1);
/// ```
#[track_caller]
pub fn keyed<K: Hash + Debug, R>(key: K, f: impl FnOnce() -> R) -> R {
    #[cfg(feature = "enabled")]
    let _scope = {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        enabled::enter(format!("[{key:?}]"), hasher.finish(), Location::caller())
    };
    #[cfg(not(feature = "enabled"))]
    let _ = (&key, Location::caller(), DefaultHasher::new().finish());
    f()
}

/// [`keyed`] for a future: `fut` runs in the scope identified by `key`,
/// opened at its first poll and re-entered on every poll, so the tracked
/// calls it makes, `async fn`s included, take their identity from the key.
///
/// ```
/// use hmr_runtime::{hmr_track, keyed_async, module_async, snapshot};
///
/// #[hmr_track(key = "docs::connect_symbol")]
/// async fn connect(symbol: &str) {
///     tokio::task::yield_now().await;
///     hmr_runtime::capture_entity(hmr_runtime::EntityKind::Factory, format!("feed({symbol})"));
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// module_async("docs-keyed-async", || async {
///     for symbol in ["AAPL", "MSFT"] {
///         keyed_async(symbol, connect(symbol)).await;
///     }
/// })
/// .await
/// .unwrap();
/// let store = snapshot();
/// let msft = r#"docs-keyed-async/["MSFT"]/docs::connect_symbol#0"#;
/// assert!(store.tracks_with_key("docs::connect_symbol").any(|t| t.path == msft));
/// # });
/// ```
#[track_caller]
pub fn keyed_async<K: Hash + Debug, F: Future>(key: K, fut: F) -> KeyedAsync<F> {
    #[cfg(feature = "enabled")]
    {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        let keyed = enabled::keyed(format!("[{key:?}]"), hasher.finish(), Location::caller());
        crate::instrument::future::keyed_future(keyed, fut)
    }
    #[cfg(not(feature = "enabled"))]
    {
        let _ = (&key, Location::caller(), DefaultHasher::new().finish());
        fut
    }
}

/// The future [`keyed_async`] returns.
#[cfg(feature = "enabled")]
pub type KeyedAsync<F> = crate::instrument::future::KeyedFuture<F>;
/// The future [`keyed_async`] returns (the future itself: feature `enabled`
/// is off).
#[cfg(not(feature = "enabled"))]
pub type KeyedAsync<F> = F;

#[cfg(feature = "enabled")]
mod enabled {
    use std::panic::Location;

    use crate::accumulator::dispatch::listening;
    use crate::accumulator::stack::{Keyed, STACK};
    use crate::instrument::scope::{ScopeGuard, announce_top, send};

    /// Apart from the hashes of static keys.
    const KEYED_SALT: u64 = 0x6b65_7965_6400_0000;

    /// A keyed scope's identity.
    pub(super) fn keyed(text: String, hash: u64, site: &'static Location<'static>) -> Keyed {
        Keyed { text: text.into(), hash: hash ^ KEYED_SALT, site }
    }

    /// Opens the keyed scope; the guard closes it as a track scope's does.
    pub(super) fn enter(text: String, hash: u64, site: &'static Location<'static>) -> ScopeGuard {
        let keyed = keyed(text, hash, site);
        let opened = STACK.try_with(|stack| {
            let mut stack = stack.borrow_mut();
            let (depth, reduced) = stack.push_keyed(keyed);
            let event = if reduced || listening() { announce_top(&mut stack) } else { None };
            (depth, event)
        });
        let Ok((depth, event)) = opened else {
            return ScopeGuard::inert();
        };
        if let Some((event, route)) = event {
            send(event, route);
        }
        ScopeGuard::at(depth)
    }
}
