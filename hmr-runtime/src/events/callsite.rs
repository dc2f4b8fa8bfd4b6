//! Call sites: one `static` per `#[hmr_track]` function, holding its static key.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use super::event::Site;
use super::ids::hash_str;
use super::name::Name;

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

/// A call site's resolved static key, and what every event of its calls
/// shares: the key's text and the site.
#[derive(Debug)]
pub(crate) struct Key {
    pub(crate) text: Name,
    pub(crate) hash: u64,
    pub(crate) site: Site,
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
            let site =
                Site { file: Cow::Borrowed(self.file), line: self.line, column: self.column };
            Key { hash: hash_str(&key), text: Name::from(String::from(key)), site, callsite: self }
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
        static CLAIMS: Mutex<BTreeMap<Box<str>, Claims>> = Mutex::new(BTreeMap::new());
        let generation = CODE_GENERATION.load(Ordering::Acquire);
        let mut all = CLAIMS.lock().unwrap_or_else(PoisonError::into_inner);
        let claims = all.entry(path.into()).or_default();
        let at = Claim { file: self.file, line: self.line, column: self.column, generation };
        claim_in(claims, at, path)
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

/// The claims made on one derived key: each call site's, with the key it got.
type Claims = Vec<(Claim, Box<str>)>;

/// Where a call site is, and in which code version it resolved.
#[derive(Clone, Copy)]
struct Claim {
    file: &'static str,
    line: u32,
    column: u32,
    generation: u64,
}

impl Claim {
    fn same_place(&self, other: &Claim) -> bool {
        (self.file, self.line, self.column) == (other.file, other.line, other.column)
    }
}

/// The key of the call site `at` among the `claims` already made on `path`
/// (see `Callsite::claim`); records its own claim.
fn claim_in(claims: &mut Claims, at: Claim, path: &str) -> Box<str> {
    let generation = at.generation;
    let taken = |text: &str| claims.iter().any(|(c, t)| c.generation == generation && **t == *text);
    // Another copy of a static of this code version, at the same place.
    let copy = claims.iter().find(|(c, _)| c.generation == generation && c.same_place(&at));
    let moved = || {
        claims.iter().filter(|(c, t)| c.generation < generation && !taken(t)).min_by_key(
            |(c, _)| {
                let elsewhere = (c.file != at.file, !c.same_place(&at));
                (elsewhere, c.line.abs_diff(at.line), c.column.abs_diff(at.column))
            },
        )
    };
    let text: Box<str> = if let Some((_, text)) = copy {
        text.clone()
    } else if let Some((_, text)) = moved() {
        text.clone()
    } else if claims.is_empty() {
        path.into()
    } else {
        // A key no claim of the path has, in any code version.
        let place = format!("{path}@{}:{}", at.line, at.column);
        let mut text = place.clone();
        let mut n = 1;
        while claims.iter().any(|(_, t)| **t == *text) {
            text = format!("{place}#{n}");
            n += 1;
        }
        text.into()
    };
    claims.push((at, text.clone()));
    text
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
    use super::{Claim, claim_in, item_path};

    /// A call site of `claims.rs` at `line`, resolved in code version
    /// `generation`.
    const fn at(line: u32, generation: u64) -> Claim {
        Claim { file: "src/claims.rs", line, column: 9, generation }
    }

    #[test]
    fn sibling_functions_of_one_path_get_distinct_keys_that_survive_a_patch() {
        let path = "claims::outer::f";
        let mut claims = Vec::new();
        let mut key = |claim| claim_in(&mut claims, claim, path).to_string();
        assert_eq!(key(at(10, 0)), "claims::outer::f");
        assert_eq!(key(at(20, 0)), "claims::outer::f@20:9");
        assert_eq!(key(at(10, 0)), "claims::outer::f", "a copy of the first one's static");
        // A patch moves both down; the moved second one is called first.
        assert_eq!(key(at(26, 1)), "claims::outer::f@20:9");
        assert_eq!(key(at(15, 1)), "claims::outer::f");
        // A function of that path the patch added: a key of its own.
        assert_eq!(key(at(40, 1)), "claims::outer::f@40:9");
    }

    #[test]
    fn call_sites_of_one_code_version_never_share_a_key() {
        let mut claims = Vec::new();
        let mut key = |claim| claim_in(&mut claims, claim, "claims::outer::g").to_string();
        let (a, b) = (key(at(10, 0)), key(at(20, 0)));
        assert_ne!(a, b);
        // A patch: A stays where it was, B moves up next to it.
        assert_eq!(key(at(10, 1)), a, "the call site at A's position is A");
        assert_eq!(key(at(12, 1)), b);
        // Another: A moves onto B's old line, B further down. Which is which
        // is a guess from positions; two keys, never one.
        assert_ne!(key(at(20, 2)), key(at(30, 2)));
    }

    #[test]
    fn strips_the_helper_and_async_closures() {
        assert_eq!(item_path("app::Foo<i32>::get::__hmr_name"), "app::Foo<i32>::get");
        assert_eq!(item_path("app::run::{{closure}}::__hmr_name"), "app::run");
        assert_eq!(item_path("app::plain"), "app::plain");
    }
}
