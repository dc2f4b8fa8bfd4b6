//! The events: the only input of the accumulator.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::ids::{CallId, EntityId, SubscriptionId, TrackId};
use super::name::{ModuleVersion, Name};
use super::path::Path;

/// Where a tracked function is written. Diagnostics only, never identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Site {
    /// `file!()` of the function.
    pub file: Cow<'static, str>,
    /// Line of the function's name.
    pub line: u32,
    /// Column of the function's name.
    pub column: u32,
}

/// How a tracked call ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// It returned: normally, by an early `return`, or by `?`.
    Returned,
    /// A panic unwound through it.
    Unwound,
    /// It was an `async fn` whose future was dropped before completion.
    Cancelled,
}

/// What a re-execution did to a living track (docs/design.md §5.2).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Same shape: closures swapped, state kept.
    FnOnly,
    /// Different shape: the entity was rebuilt.
    Structural,
    /// `#[hmr_track(reset)]`: always rebuilt.
    Reset,
}

/// Why a track was disposed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DisposeReason {
    /// A new version of its module did not execute it.
    Orphan,
    /// Its entity was dropped.
    EntityDropped,
}

/// Why a reload unit ran (the `reason` of `hmr-module-call`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CallReason {
    /// `module(name, f)` or `root(name, f)` was called.
    #[default]
    Call,
    /// [`reload()`](crate::reload()) re-ran the registered roots.
    Reload,
    /// A code patch arrived (feature `subsecond`) and the roots were re-run
    /// through the patched code.
    Patch,
}

/// The kind of an entity-capture event (docs/design.md §3.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntityKind {
    /// A constructed value: a subject, a channel (`constructor-call-return`).
    Constructor,
    /// A value made by a factory: a source (`factory-call-return`).
    Factory,
    /// An operator chain (`pipe-call-return`).
    Pipe,
    /// A hot closure handed to an operator (`operator-fun-call`).
    OperatorFun,
}

/// One thing that happened. Serialised with a kebab-case `type` tag:
/// `{"type":"track-call","id":…}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Event {
    /// A tracked function was entered.
    TrackCall {
        /// The track (stable for the structural path).
        id: TrackId,
        /// This execution of the track: tells apart overlapping executions
        /// of one track (`async fn` futures), and pairs the call with its
        /// return and the entities it captured.
        call: CallId,
        /// The static key (`app::prices`, or `key = "…"`), shared by every
        /// call of the call site.
        key: Name,
        /// The structural path (`m/app::outer#0/app::inner#1`), sharing its
        /// prefix with the parent's.
        path: Path,
        /// The open track scope it was called in, if any.
        parent: Option<TrackId>,
        /// Where the function is written.
        site: Site,
        /// The module version it runs under, if inside [`module`](crate::module).
        module: Option<ModuleVersion>,
        /// `#[hmr_track(reset)]`: every re-execution rebuilds.
        #[serde(default, skip_serializing_if = "is_false")]
        reset: bool,
        /// Called while an item was handled by the track named here (inside a
        /// subscription's handler): it lives as long as that track, not only
        /// as long as the module version that called it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item_of: Option<TrackId>,
    },
    /// A tracked function exited, in any way.
    TrackCallReturn {
        /// The track.
        id: TrackId,
        /// The execution that returns (see `track-call`).
        call: CallId,
        /// The last entity captured in the scope (last entity wins).
        entity: Option<EntityId>,
        /// How it ended.
        outcome: Outcome,
    },
    /// A re-execution reached an existing track.
    TrackUpdate {
        /// The track.
        id: TrackId,
        /// Its new version.
        version: u64,
        /// Swap in place or rebuild.
        change: Change,
        /// The entity it had before.
        prev_entity: Option<EntityId>,
        /// Rebuilt because its chain holds plain code (a closure or fn item
        /// in a `StreamExt` adapter) that no swap in place could reach: the
        /// new code runs from the next item, operator state carried.
        #[serde(default, skip_serializing_if = "is_false")]
        plain_code: bool,
    },
    /// A track was disposed.
    TrackDispose {
        /// The track.
        id: TrackId,
        /// Why.
        reason: DisposeReason,
    },
    /// A reload unit starts.
    HmrModuleCall {
        /// Module name.
        module: Name,
        /// The version this execution would become.
        version: u64,
        /// Why it runs. Absent in logs written before it existed: `call`.
        #[serde(default)]
        reason: CallReason,
    },
    /// A reload unit ends.
    HmrModuleCallReturn {
        /// Module name.
        module: Name,
        /// Whether its changes were committed (false after a panic).
        committed: bool,
        /// The panic message, if it panicked.
        error: Option<String>,
    },
    /// An entity was constructed (subject, channel).
    ConstructorCallReturn {
        /// The entity.
        entity: EntityId,
        /// The open track scope, if any.
        track: Option<TrackId>,
        /// The execution of that track that captured it.
        call: Option<CallId>,
        /// Its structural name.
        name: Name,
        /// Its shape (docs/design.md §5.2) as a number: the entity types of this crate
        /// give two entities equal non-zero shapes exactly when a re-execution
        /// may swap one into the other; 0 compares by `name`.
        #[serde(default, skip_serializing_if = "is_zero")]
        shape: u64,
    },
    /// An entity was made by a factory (source).
    FactoryCallReturn {
        /// The entity.
        entity: EntityId,
        /// The open track scope, if any.
        track: Option<TrackId>,
        /// The execution of that track that captured it.
        call: Option<CallId>,
        /// Its structural name.
        name: Name,
        /// Its shape (docs/design.md §5.2) as a number: the entity types of this crate
        /// give two entities equal non-zero shapes exactly when a re-execution
        /// may swap one into the other; 0 compares by `name`.
        #[serde(default, skip_serializing_if = "is_zero")]
        shape: u64,
    },
    /// An operator chain was built.
    PipeCallReturn {
        /// The entity.
        entity: EntityId,
        /// The open track scope, if any.
        track: Option<TrackId>,
        /// The execution of that track that captured it.
        call: Option<CallId>,
        /// Its structural name (`source.hot_map(fn)`).
        name: Name,
        /// Its shape (docs/design.md §5.2) as a number: the entity types of this crate
        /// give two entities equal non-zero shapes exactly when a re-execution
        /// may swap one into the other; 0 compares by `name`.
        #[serde(default, skip_serializing_if = "is_zero")]
        shape: u64,
    },
    /// A hot closure was handed to an operator.
    OperatorFunCall {
        /// The entity.
        entity: EntityId,
        /// The open track scope, if any.
        track: Option<TrackId>,
        /// The execution of that track that captured it.
        call: Option<CallId>,
        /// Its structural name.
        name: Name,
        /// Its shape (docs/design.md §5.2) as a number: the entity types of this crate
        /// give two entities equal non-zero shapes exactly when a re-execution
        /// may swap one into the other; 0 compares by `name`.
        #[serde(default, skip_serializing_if = "is_zero")]
        shape: u64,
    },
    /// A living pipeline started.
    Subscribe {
        /// The subscription.
        subscription: SubscriptionId,
        /// The subscription's own entity (`subscribe(…)` in its track).
        entity: EntityId,
        /// The entity it consumes: the part built just before it in its
        /// scope (a chain, a source), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input: Option<EntityId>,
    },
    /// A living pipeline stopped.
    Unsubscribe {
        /// The subscription.
        subscription: SubscriptionId,
        /// The subscription's own entity.
        entity: EntityId,
    },
    /// A re-execution panicked (the old graph kept running), or code of a
    /// living graph panicked at run time (a hot closure, a handler: the item
    /// was lost, the graph goes on).
    ReloadError {
        /// Module name (empty when the code runs outside any module).
        module: Name,
        /// The panic message.
        message: String,
        /// The structural path of the track whose code panicked at run time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<Path>,
    },
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_false(b: &bool) -> bool {
    !*b
}

#[allow(clippy::trivially_copy_pass_by_ref, reason = "serde's skip_serializing_if signature")]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Event {
    /// The event's `type` tag, as serialised (`"track-call"`).
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::TrackCall { .. } => "track-call",
            Event::TrackCallReturn { .. } => "track-call-return",
            Event::TrackUpdate { .. } => "track-update",
            Event::TrackDispose { .. } => "track-dispose",
            Event::HmrModuleCall { .. } => "hmr-module-call",
            Event::HmrModuleCallReturn { .. } => "hmr-module-call-return",
            Event::ConstructorCallReturn { .. } => "constructor-call-return",
            Event::FactoryCallReturn { .. } => "factory-call-return",
            Event::PipeCallReturn { .. } => "pipe-call-return",
            Event::OperatorFunCall { .. } => "operator-fun-call",
            Event::Subscribe { .. } => "subscribe",
            Event::Unsubscribe { .. } => "unsubscribe",
            Event::ReloadError { .. } => "reload-error",
        }
    }

    /// The entity-capture event of `kind`.
    pub(crate) fn entity(
        kind: EntityKind,
        entity: EntityId,
        scope: Option<(TrackId, CallId)>,
        name: Name,
        shape: u64,
    ) -> Event {
        let (track, call) = (scope.map(|s| s.0), scope.map(|s| s.1));
        match kind {
            EntityKind::Constructor => {
                Event::ConstructorCallReturn { entity, track, call, name, shape }
            }
            EntityKind::Factory => Event::FactoryCallReturn { entity, track, call, name, shape },
            EntityKind::Pipe => Event::PipeCallReturn { entity, track, call, name, shape },
            EntityKind::OperatorFun => Event::OperatorFunCall { entity, track, call, name, shape },
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{
        CallReason, Change, DisposeReason, EntityKind, Event, ModuleVersion, Outcome, Site,
    };
    use crate::events::{CallId, EntityId, SubscriptionId, TrackId};

    pub(crate) fn every_event() -> Vec<Event> {
        let (id, entity, scope) =
            (TrackId(0x9f2c_0000_0000_0001), EntityId(7), Some((TrackId(3), CallId(4))));
        let name: crate::events::Name = "source.hot_map(fn)".into();
        vec![
            Event::TrackCall {
                id,
                call: CallId(4),
                key: "app::prices".into(),
                path: "m/app::prices#0".into(),
                parent: None,
                site: Site { file: "src/app.rs".into(), line: 3, column: 4 },
                module: Some(ModuleVersion { name: "m".into(), version: 2 }),
                reset: false,
                item_of: Some(TrackId(3)),
            },
            Event::TrackCallReturn {
                id,
                call: CallId(4),
                entity: Some(entity),
                outcome: Outcome::Cancelled,
            },
            Event::TrackUpdate {
                id,
                version: 2,
                change: Change::Structural,
                prev_entity: None,
                plain_code: true,
            },
            Event::TrackDispose { id, reason: DisposeReason::Orphan },
            Event::HmrModuleCall { module: "m".into(), version: 1, reason: CallReason::Patch },
            Event::HmrModuleCallReturn {
                module: "m".into(),
                committed: false,
                error: Some("x".into()),
            },
            Event::entity(EntityKind::Constructor, entity, scope, name.clone(), 0),
            Event::entity(EntityKind::Factory, entity, scope, name.clone(), 9),
            Event::entity(EntityKind::Pipe, entity, scope, name.clone(), 0),
            Event::entity(EntityKind::OperatorFun, entity, None, name, 0),
            Event::Subscribe { subscription: SubscriptionId(1), entity, input: Some(entity) },
            Event::Unsubscribe { subscription: SubscriptionId(1), entity },
            Event::ReloadError { module: "m".into(), message: "boom".into(), path: None },
            Event::ReloadError {
                module: "m".into(),
                message: "boom".into(),
                path: Some("m/app#0".into()),
            },
        ]
    }

    #[test]
    fn the_type_tag_is_the_kebab_case_name_and_events_round_trip() {
        for event in every_event() {
            let json = serde_json::to_value(&event).unwrap();
            assert_eq!(json["type"], event.type_name(), "{json}");
            let back: Event = serde_json::from_value(json).unwrap();
            assert_eq!(back, event);
        }
    }

    #[test]
    fn enums_and_ids_serialise_as_documented() {
        let json = serde_json::to_string(&every_event()[0]).unwrap();
        assert!(json.contains(r#""id":"9f2c000000000001""#), "{json}");
        assert!(!json.contains("reset"), "`reset: false` is left out: {json}");
        assert!(json.contains(r#""item_of":"0000000000000003""#), "{json}");
        let json = serde_json::to_string(&every_event()[1]).unwrap();
        assert!(json.contains(r#""outcome":"cancelled""#), "{json}");
        let json = serde_json::to_string(&every_event()[2]).unwrap();
        assert!(json.contains(r#""change":"structural""#), "{json}");
        assert!(json.contains(r#""plain_code":true"#), "{json}");
        // A log written before `plain_code` and `item_of` existed still reads.
        let old =
            r#"{"type":"track-update","id":"1","version":2,"change":"fn-only","prev_entity":null}"#;
        let event: Event = serde_json::from_str(old).unwrap();
        assert!(matches!(event, Event::TrackUpdate { plain_code: false, .. }), "{event:?}");
        let json = serde_json::to_string(&every_event()[4]).unwrap();
        assert!(json.contains(r#""reason":"patch""#), "{json}");
        // A log written before `reason` existed still reads, as a plain call.
        let old = r#"{"type":"hmr-module-call","module":"m","version":1}"#;
        let event: Event = serde_json::from_str(old).unwrap();
        assert_eq!(
            event,
            Event::HmrModuleCall { module: "m".into(), version: 1, reason: CallReason::Call }
        );
        let bad = r#"{"type":"track-dispose","id":"not hex","reason":"orphan"}"#;
        assert!(serde_json::from_str::<Event>(bad).is_err());
    }
}
