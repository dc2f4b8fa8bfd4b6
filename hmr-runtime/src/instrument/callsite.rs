//! Call sites: one `static` per `#[hmr_track]` function, holding its static key.

use std::sync::OnceLock;

use crate::events::ids::hash_str;

/// One tracked function's call site. Built by the `#[hmr_track]` expansion as
/// a `static`; the key is resolved on first use and cached.
#[derive(Debug)]
pub struct Callsite {
    name: fn() -> &'static str,
    pub(crate) file: &'static str,
    pub(crate) line: u32,
    pub(crate) column: u32,
    key: Option<&'static str>,
    display_name: Option<&'static str>,
    pub(crate) reset: bool,
    resolved: OnceLock<Key>,
}

/// A call site's resolved static key.
#[derive(Debug)]
pub(crate) struct Key {
    pub(crate) text: Box<str>,
    pub(crate) hash: u64,
    pub(crate) callsite: &'static Callsite,
}

impl Callsite {
    /// A call site. `name` returns `type_name_of` an item nested in the
    /// function's body, which names the enclosing item path.
    #[must_use]
    #[allow(clippy::too_many_arguments, reason = "built only by generated code")]
    pub const fn new(
        name: fn() -> &'static str,
        file: &'static str,
        line: u32,
        column: u32,
        key: Option<&'static str>,
        display_name: Option<&'static str>,
        reset: bool,
    ) -> Callsite {
        Callsite { name, file, line, column, key, display_name, reset, resolved: OnceLock::new() }
    }

    #[inline]
    pub(crate) fn key(&'static self) -> &'static Key {
        self.resolved.get_or_init(|| {
            let key: Box<str> = match self.key {
                Some(key) => key.into(),
                None => item_path((self.name)()).into(),
            };
            Key { hash: hash_str(&key), text: key, callsite: self }
        })
    }

    /// The `name = "…"` of the attribute, if any.
    #[must_use]
    pub fn display_name(&self) -> Option<&'static str> {
        self.display_name
    }
}

/// `std::any::type_name` of a value's type: of a fn item, its full path.
#[must_use]
pub fn type_name_of<T>(_: T) -> &'static str {
    std::any::type_name::<T>()
}

/// `app::Foo<i32>::get::__hmr_name` → `app::Foo<i32>::get`; the `{{closure}}`
/// segments that an `async fn` body adds are dropped too.
pub(crate) fn item_path(name: &str) -> &str {
    let mut path = name.strip_suffix("::__hmr_name").unwrap_or(name);
    while let Some(rest) = path.strip_suffix("::{{closure}}") {
        path = rest;
    }
    path
}

#[cfg(test)]
mod tests {
    use super::item_path;

    #[test]
    fn strips_the_helper_and_async_closures() {
        assert_eq!(item_path("app::Foo<i32>::get::__hmr_name"), "app::Foo<i32>::get");
        assert_eq!(item_path("app::run::{{closure}}::__hmr_name"), "app::run");
        assert_eq!(item_path("app::plain"), "app::plain");
    }
}
