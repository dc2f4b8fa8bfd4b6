//! The events: the only input of the store, and what sinks and
//! [`capture_events`](crate::capture_events) see. Their identifiers, and the
//! [`Path`]s and [`Name`]s they share instead of copying (serialised as
//! their text: the JSON of [`JsonLines`](crate::sinks::JsonLines) reads the
//! same).

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
