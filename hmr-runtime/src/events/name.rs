//! Shared names: a key, a module's name, an entity's structural name; and
//! a module version, a name and a number.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A name that events and records share instead of copying: made once (per
/// call site, module, entity), then cloned by reference count. Reads as a
/// `&str` and compares with one (`record.key == "app::prices"`); serialised
/// as its text.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Name(Arc<str>);

impl Name {
    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl From<&str> for Name {
    fn from(text: &str) -> Name {
        Name(text.into())
    }
}

impl From<String> for Name {
    fn from(text: String) -> Name {
        Name(text.into())
    }
}

impl From<&String> for Name {
    fn from(text: &String) -> Name {
        Name(text.as_str().into())
    }
}

impl From<Box<str>> for Name {
    fn from(text: Box<str>) -> Name {
        Name(text.into())
    }
}

impl From<std::borrow::Cow<'_, str>> for Name {
    fn from(text: std::borrow::Cow<'_, str>) -> Name {
        Name(text.as_ref().into())
    }
}

impl From<char> for Name {
    fn from(c: char) -> Name {
        Name(c.to_string().into())
    }
}

impl From<Arc<str>> for Name {
    fn from(text: Arc<str>) -> Name {
        Name(text)
    }
}

impl From<Name> for Arc<str> {
    fn from(name: Name) -> Arc<str> {
        name.0
    }
}

/// The module version a track ran under.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModuleVersion {
    /// The module's name, as given to [`module`](crate::module).
    pub name: Name,
    /// Its version: 1 for the first execution, + 1 for each committed re-execution.
    pub version: u64,
}
