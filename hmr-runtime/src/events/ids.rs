//! Identifiers: tracks, entities and subscriptions.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Identity of a track: a structural path, executed again and again.
///
/// Derived from (parent id, static key, repeat counter), so the same path
/// always yields the same id without a map on the hot path; that reuse is what
/// makes a re-execution an update instead of a creation.
///
/// Serialised as 16 hex digits (`"9f2c…"`), so JSON readers whose numbers are
/// doubles (JavaScript) keep every bit.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackId(pub(crate) u64);

impl Serialize for TrackId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{:016x}", self.0))
    }
}

/// Parses what `Display` and serde print: hex digits, optionally after a `t`.
impl std::str::FromStr for TrackId {
    type Err = ParseTrackIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits = text.strip_prefix('t').unwrap_or(text);
        // Hex digits only: `from_str_radix` alone would take a `+`.
        if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(ParseTrackIdError(()));
        }
        u64::from_str_radix(digits, 16).map(TrackId).map_err(|_| ParseTrackIdError(()))
    }
}

/// A track id was not 1 to 16 hex digits (optionally after a `t`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseTrackIdError(());

impl fmt::Display for ParseTrackIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a track id is 1 to 16 hex digits, optionally after a `t`")
    }
}

impl std::error::Error for ParseTrackIdError {}

/// Reads what [`FromStr`](std::str::FromStr) reads: one rule for both.
impl<'de> Deserialize<'de> for TrackId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(|_| {
            serde::de::Error::invalid_value(
                serde::de::Unexpected::Str(&text),
                &"1 to 16 hex digits, optionally after a `t`",
            )
        })
    }
}

/// Identity of an entity (a source, a channel, an operator chain, a hot closure).
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntityId(pub(crate) u64);

/// One execution of a track (a track is a path, executed again and again).
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallId(pub(crate) u64);

/// Identity of a living subscription.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubscriptionId(pub(crate) u64);

macro_rules! id_impls {
    ($($ty:ident => $prefix:literal),*) => {$(
        impl $ty {
            /// The raw number, for logs and external tools.
            #[must_use]
            pub const fn as_u64(self) -> u64 {
                self.0
            }
        }
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{:x}"), self.0)
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self, f)
            }
        }
    )*};
}
id_impls!(TrackId => "t", EntityId => "e", SubscriptionId => "s", CallId => "c");

/// FNV-1a, 64 bit: the hash of a static key, computed once per call site.
pub(crate) const fn hash_str(s: &str) -> u64 {
    let bytes = s.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

/// The id of the `n`-th call of `key_hash` under `parent` (0 for no parent).
///
/// For one parent and key, distinct `n` give distinct ids (the mix is a
/// bijection of `n`); across parents and keys, `key_hash` is already a
/// well-spread FNV hash, so one multiply-xorshift round suffices.
#[inline]
pub(crate) fn derive_id(parent: u64, key_hash: u64, n: u32) -> TrackId {
    let z = (parent.rotate_left(23) ^ key_hash)
        .wrapping_add(u64::from(n))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let z = z ^ (z >> 29);
    TrackId(if z == 0 { 1 } else { z })
}

#[cfg(test)]
mod tests {
    use super::TrackId;

    /// `FromStr` and serde read the same texts: what `Display` and serde
    /// print, and nothing with a sign or more than 16 digits.
    #[test]
    fn parsing_and_serde_agree() {
        let cases = [
            ("t1f", Some(0x1f)),
            ("1f", Some(0x1f)),
            ("ffffffffffffffff", Some(u64::MAX)),
            ("0000000000000001", Some(1)),
            ("+1", None),
            ("t+1", None),
            ("-1", None),
            ("00000000000000001", None),
            ("", None),
            ("t", None),
            ("xyz", None),
            (" 1", None),
        ];
        for (text, expected) in cases {
            let parsed = text.parse::<TrackId>().ok().map(TrackId::as_u64);
            let json = serde_json::to_string(text).unwrap();
            let deserialized = serde_json::from_str::<TrackId>(&json).ok().map(TrackId::as_u64);
            assert_eq!(parsed, expected, "FromStr of {text:?}");
            assert_eq!(deserialized, expected, "serde of {text:?}");
        }
        for id in [TrackId(1), TrackId(u64::MAX), TrackId(0xabc)] {
            assert_eq!(id.to_string().parse::<TrackId>(), Ok(id));
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(serde_json::from_str::<TrackId>(&json).unwrap(), id);
        }
    }
}
