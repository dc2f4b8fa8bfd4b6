//! Leaf utilities every layer may use; this module imports nothing of the
//! crate.

/// The message of a panic's payload (`panic!("…")` gives a `&str` or a
/// `String`).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// A map keyed by one of the crate's 64-bit ids (track, entity, call,
/// subscription): a hash map with [`IdHasher`]. The store and the hooks
/// keep one entry per track or entity, and a reload looks several up per
/// track: a B-tree of 100 000 entries costs a cache miss per level, a hash
/// table one or two.
pub(crate) type IdMap<K, V> = std::collections::HashMap<K, V, BuildIdHasher>;

/// An empty [`IdMap`], usable in a `static`.
pub(crate) const fn id_map<K, V>() -> IdMap<K, V> {
    std::collections::HashMap::with_hasher(BuildIdHasher)
}

/// Builds [`IdHasher`]s.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BuildIdHasher;

impl std::hash::BuildHasher for BuildIdHasher {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

/// A hasher for ids that are already one `u64`: one multiply and a fold,
/// which spreads counters (entity and call ids count up) over every bit.
/// Ids are made by this process, not by peers, so no flooding defence is
/// needed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached by the ids (they hash one `u64`); kept correct anyway.
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, id: u64) {
        let mixed = (self.0 ^ id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = mixed ^ (mixed >> 29);
    }
}
