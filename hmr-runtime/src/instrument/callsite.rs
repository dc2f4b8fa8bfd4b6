//! Call sites: one `static` per `#[hmr_track]` function, holding its static key.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

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
                None => self.claim(item_path((self.name)())),
            };
            Key { hash: hash_str(&key), text: key, callsite: self }
        })
    }

    /// The key derived from the item path, told apart from other functions
    /// of the same path: functions of one name in sibling blocks of a body
    /// (`{ fn f() … } { fn f() … }`) have one item path, and would share a
    /// track. The first to be called keeps the path; the others get their
    /// position added (`app::outer::f@12:8`).
    ///
    /// A code patch links new statics for the functions it rebuilt, at
    /// their new positions. Such a call site takes the key of a call site of
    /// the same path from before the patch that no call site of the patched
    /// code has taken yet: the one at its position, else the nearest (the
    /// same function, moved by the edit). Two call sites of one code version
    /// never share a key. Each call site resolves its key once and keeps it.
    ///
    /// The matching is a guess where an edit moves one sibling past another
    /// (they may swap keys), and a call site of the patched code resolved
    /// before the patch's handler ran counts as the old code's. Give such
    /// functions a `key = "…"` to be exact.
    fn claim(&'static self, path: &str) -> Box<str> {
        static CLAIMS: Mutex<BTreeMap<Box<str>, Vec<Claim>>> = Mutex::new(BTreeMap::new());
        let generation = CODE_GENERATION.load(Ordering::Acquire);
        let mut all = CLAIMS.lock().unwrap_or_else(PoisonError::into_inner);
        let claims = all.entry(path.into()).or_default();
        let taken =
            |text: &str| claims.iter().any(|c| c.generation == generation && *c.text == *text);
        // Another copy of a static of this code version, at the same place.
        let copy = claims.iter().find(|c| c.generation == generation && c.at(self));
        let moved = || {
            claims.iter().filter(|c| c.generation < generation && !taken(&c.text)).min_by_key(|c| {
                let elsewhere = (c.file != self.file, !c.at(self));
                (elsewhere, c.line.abs_diff(self.line), c.column.abs_diff(self.column))
            })
        };
        let text: Box<str> = if let Some(copy) = copy {
            copy.text.clone()
        } else if let Some(before) = moved() {
            before.text.clone()
        } else if claims.is_empty() {
            path.into()
        } else {
            // A key no claim of the path has, in any code version.
            let at = format!("{path}@{}:{}", self.line, self.column);
            let mut text = at.clone();
            let mut n = 1;
            while claims.iter().any(|c| *c.text == *text) {
                text = format!("{at}#{n}");
                n += 1;
            }
            text.into()
        };
        claims.push(Claim {
            file: self.file,
            line: self.line,
            column: self.column,
            generation,
            text: text.clone(),
        });
        text
    }

    /// The `name = "…"` of the attribute, if any.
    #[must_use]
    pub fn display_name(&self) -> Option<&'static str> {
        self.display_name
    }
}

/// Incremented when a code patch arrives: call sites resolved after it
/// belong to the patched code (see `Callsite::claim`).
static CODE_GENERATION: AtomicU64 = AtomicU64::new(0);

/// A code patch was committed: the call sites resolved from now on are the
/// patched code's.
#[cfg_attr(not(any(feature = "subsecond", feature = "subsecond-0-8")), allow(dead_code))]
pub(crate) fn new_code_generation() {
    CODE_GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// A call site's claim on a derived key.
struct Claim {
    file: &'static str,
    line: u32,
    column: u32,
    generation: u64,
    text: Box<str>,
}

impl Claim {
    fn at(&self, site: &Callsite) -> bool {
        (self.file, self.line, self.column) == (site.file, site.line, site.column)
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
    use super::{Callsite, item_path, new_code_generation};

    fn outer_f() -> &'static str {
        "claims::outer::f::__hmr_name"
    }

    const fn at(line: u32) -> Callsite {
        site(outer_f, line)
    }

    const fn site(name: fn() -> &'static str, line: u32) -> Callsite {
        Callsite::new(name, "src/claims.rs", line, 9, None, None, false)
    }

    #[test]
    fn sibling_functions_of_one_path_get_distinct_keys_that_survive_a_patch() {
        static A: Callsite = at(10);
        static B: Callsite = at(20);
        static A_AGAIN: Callsite = at(10);
        static B_MOVED: Callsite = at(26);
        static A_MOVED: Callsite = at(15);
        static ADDED: Callsite = at(40);
        assert_eq!(&*A.key().text, "claims::outer::f");
        assert_eq!(&*B.key().text, "claims::outer::f@20:9");
        assert_eq!(&*A_AGAIN.key().text, "claims::outer::f", "a copy of A's static");
        // A patch moves both down; the moved B is called first.
        new_code_generation();
        assert_eq!(&*B_MOVED.key().text, "claims::outer::f@20:9");
        assert_eq!(&*A_MOVED.key().text, "claims::outer::f");
        // A function of that path the patch added: a key of its own.
        assert_eq!(&*ADDED.key().text, "claims::outer::f@40:9");
    }

    fn outer_g() -> &'static str {
        "claims::outer::g::__hmr_name"
    }

    const fn g_at(line: u32) -> Callsite {
        site(outer_g, line)
    }

    #[test]
    fn call_sites_of_one_code_version_never_share_a_key() {
        static A: Callsite = g_at(10);
        static B: Callsite = g_at(20);
        static A_KEPT: Callsite = g_at(10);
        static B_CLOSER: Callsite = g_at(12);
        static A_ON_B: Callsite = g_at(20);
        static B_FURTHER: Callsite = g_at(30);
        let (a, b) = (A.key().text.clone(), B.key().text.clone());
        assert_ne!(a, b);
        // A patch: A stays where it was, B moves up next to it.
        new_code_generation();
        assert_eq!(A_KEPT.key().text, a, "the call site at A's position is A");
        assert_eq!(B_CLOSER.key().text, b);
        // Another: A moves onto B's old line, B further down. Which is which
        // is a guess from positions; two keys, never one.
        new_code_generation();
        assert_ne!(A_ON_B.key().text, B_FURTHER.key().text);
    }

    #[test]
    fn strips_the_helper_and_async_closures() {
        assert_eq!(item_path("app::Foo<i32>::get::__hmr_name"), "app::Foo<i32>::get");
        assert_eq!(item_path("app::run::{{closure}}::__hmr_name"), "app::run");
        assert_eq!(item_path("app::plain"), "app::plain");
    }
}
