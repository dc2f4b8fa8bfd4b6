//! Events, their identifiers, and the sinks that receive them.

pub(crate) mod callsite;
pub(crate) mod event;
pub(crate) mod ids;
pub(crate) mod listeners;
pub(crate) mod name;
pub(crate) mod path;
pub(crate) mod sink;

pub use event::{CallReason, Change, DisposeReason, EntityKind, Event, Outcome, Site};
pub use ids::{CallId, EntityId, ParseTrackIdError, SubscriptionId, TrackId};
pub use name::{ModuleVersion, Name};
pub use path::Path;
