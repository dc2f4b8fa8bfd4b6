//! Structural paths that share their prefixes.
//!
//! A track's path (`m/app::outer#0/app::inner#1`) is its parent's path and
//! one segment. [`Path`] keeps it that way: a node holds its segment and a
//! pointer to its parent's node, so an event, a store record and a capture
//! share one node per open scope, and a recursion `d` calls deep costs `d`
//! nodes, not `d²/2` characters. The text is rendered on demand: written
//! out by [`Display`](fmt::Display) and serde (not kept), or rendered once
//! and kept by [`Path::as_str`] (and `Deref`, comparisons, hashing), for the
//! paths someone reads as text.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::name::{ModuleVersion, Name};

/// A structural path: `module/key#n/key#n`, or `key#n` outside any module.
///
/// Cheap to clone (one reference count) and to extend. It reads as a `&str`
/// (`path.starts_with("m/")`, `path == "m/app#0"`); the text is rendered the
/// first time it is read so and kept. Serialised as that text.
#[derive(Clone)]
pub struct Path(Arc<Node>);

struct Node {
    segment: Segment,
    parent: Option<Path>,
    /// The module version the path runs under: its root's (a module
    /// scope's), or what [`Path::alias`] gave.
    module: Option<ModuleVersion>,
    /// The whole text, once someone read it as a `&str`.
    text: OnceLock<Box<str>>,
}

enum Segment {
    /// `key#n`.
    Numbered(Name, u32),
    /// `key`: a module's name, a keyed scope's first `[key]`.
    Bare(Name),
    /// Nothing: the parent's path, under another module version.
    Alias,
    /// A whole path read from text (serde, `From<String>`): no parent.
    Whole,
}

impl Path {
    /// A module scope's path: its name. Runs under `module`.
    pub(crate) fn module(module: &ModuleVersion) -> Path {
        Path::node(Segment::Bare(module.name.clone()), None, Some(module.clone()))
    }

    /// `parent/key#n` (or `key#n` at the top), under `parent`'s module.
    pub(crate) fn numbered(parent: Option<&Path>, key: Name, n: u32) -> Path {
        let module = parent.and_then(|p| p.0.module.clone());
        Path::node(Segment::Numbered(key, n), parent.cloned(), module)
    }

    /// `parent/key` (or `key` at the top), under `parent`'s module.
    pub(crate) fn bare(parent: Option<&Path>, key: Name) -> Path {
        let module = parent.and_then(|p| p.0.module.clone());
        Path::node(Segment::Bare(key), parent.cloned(), module)
    }

    /// `path` itself, running under `module` (a per-item scope: the path of
    /// its track, under the module version that last ran that track).
    pub(crate) fn alias(path: &Path, module: Option<ModuleVersion>) -> Path {
        if path.0.module == module {
            return path.clone();
        }
        Path::node(Segment::Alias, Some(path.clone()), module)
    }

    fn node(segment: Segment, parent: Option<Path>, module: Option<ModuleVersion>) -> Path {
        Path(Arc::new(Node { segment, parent, module, text: OnceLock::new() }))
    }

    /// The module version it runs under, if any.
    pub(crate) fn module_version(&self) -> Option<&ModuleVersion> {
        self.0.module.as_ref()
    }

    /// The path as text, rendered the first time and kept.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.text.get_or_init(|| self.to_string().into_boxed_str())
    }

    /// The nodes from the root to this one, skipping aliases.
    fn chain(&self) -> Vec<&Node> {
        let mut chain = Vec::new();
        let mut cur = Some(self);
        while let Some(path) = cur {
            if path.0.text.get().is_some() {
                // Rendered already: it stands for all of its ancestors.
                chain.push(&*path.0);
                break;
            }
            if !matches!(path.0.segment, Segment::Alias) {
                chain.push(&*path.0);
            }
            cur = path.0.parent.as_ref();
        }
        chain.reverse();
        chain
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(text) = self.0.text.get() {
            return f.write_str(text);
        }
        for (i, node) in self.chain().into_iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            if let Some(text) = node.text.get() {
                f.write_str(text)?;
                continue;
            }
            match &node.segment {
                Segment::Numbered(key, n) => write!(f, "{key}#{n}")?,
                Segment::Bare(key) => f.write_str(key)?,
                Segment::Alias | Segment::Whole => {}
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Drop for Node {
    /// Unlinks a chain of nodes nobody else holds one by one: dropping the
    /// path of a deep recursion must not recurse as deep.
    fn drop(&mut self) {
        let mut parent = self.parent.take();
        while let Some(Path(node)) = parent {
            parent = match Arc::into_inner(node) {
                Some(mut node) => node.parent.take(),
                None => None,
            };
        }
    }
}

impl Deref for Path {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Path {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Path {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Path {
    fn eq(&self, other: &Path) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.as_str() == other.as_str()
    }
}

impl Eq for Path {}

impl PartialEq<str> for Path {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Path {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Path {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialOrd for Path {
    fn partial_cmp(&self, other: &Path) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Path {
    fn cmp(&self, other: &Path) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Path {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Default for Path {
    /// The empty path.
    fn default() -> Path {
        Path::from(String::new())
    }
}

impl From<String> for Path {
    fn from(text: String) -> Path {
        let path = Path::node(Segment::Whole, None, None);
        let _ = path.0.text.set(text.into_boxed_str());
        path
    }
}

impl From<&str> for Path {
    fn from(text: &str) -> Path {
        Path::from(text.to_owned())
    }
}

impl Serialize for Path {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Path {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Path, D::Error> {
        String::deserialize(deserializer).map(Path::from)
    }
}

#[cfg(test)]
mod tests {
    use super::{ModuleVersion, Name, Path};

    fn module(name: &str, version: u64) -> ModuleVersion {
        ModuleVersion { name: name.into(), version }
    }

    #[test]
    fn renders_segments_and_shares_prefixes() {
        let m = Path::module(&module("m", 2));
        let outer = Path::numbered(Some(&m), Name::from("app::outer"), 0);
        let keyed = Path::bare(Some(&outer), Name::from("[\"BTC\"]"));
        let inner = Path::numbered(Some(&keyed), Name::from("app::inner"), 3);
        assert_eq!(inner.to_string(), r#"m/app::outer#0/["BTC"]/app::inner#3"#);
        assert_eq!(inner, r#"m/app::outer#0/["BTC"]/app::inner#3"#);
        assert_eq!(inner.module_version(), Some(&module("m", 2)));
        assert_eq!(Path::numbered(None, Name::from("top"), 1), "top#1");
        // Reading the parent as text first: the child renders after it.
        assert_eq!(outer.as_str(), "m/app::outer#0");
        let next = Path::numbered(Some(&outer), Name::from("app::next"), 0);
        assert_eq!(next.to_string(), "m/app::outer#0/app::next#0");
    }

    #[test]
    fn an_alias_reads_as_its_path_under_another_module_version() {
        let m = Path::module(&module("m", 1));
        let track = Path::numbered(Some(&m), Name::from("app::feed"), 0);
        let item = Path::alias(&track, Some(module("m", 4)));
        assert_eq!(item, "m/app::feed#0");
        assert_eq!(item.module_version(), Some(&module("m", 4)));
        let child = Path::numbered(Some(&item), Name::from("app::handle"), 0);
        assert_eq!(child, "m/app::feed#0/app::handle#0");
        assert_eq!(child.module_version(), Some(&module("m", 4)));
    }

    #[test]
    fn serialises_as_its_text_and_reads_back_equal() {
        let m = Path::module(&module("m", 1));
        let path = Path::numbered(Some(&m), Name::from("app::prices"), 0);
        let json = serde_json::to_string(&path).unwrap();
        assert_eq!(json, r#""m/app::prices#0""#);
        let back: Path = serde_json::from_str(&json).unwrap();
        assert_eq!(back, path);
        assert_eq!(back.module_version(), None, "text carries no module version");
    }

    #[test]
    fn a_deep_chain_drops_without_deep_recursion() {
        // Deeper than a recursive drop survives on a 256 KiB stack.
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let key = Name::from("deep");
                let mut path = Path::numbered(None, key.clone(), 0);
                for n in 0..200_000 {
                    path = Path::numbered(Some(&path), key.clone(), n);
                }
                drop(path);
            })
            .unwrap();
        handle.join().expect("dropping a deep path does not overflow the stack");
    }
}
