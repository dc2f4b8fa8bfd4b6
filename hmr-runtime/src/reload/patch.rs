//! The subsecond engine (feature `subsecond`, or `subsecond-0-8`): real code
//! patches drive reloads.
//!
//! The two features are the same code on subsecond 0.7 and 0.8, whose APIs
//! used here (`HotFn`, `register_handler`) agree: with `subsecond-0-8`, the
//! 0.8 crate is imported as `subsecond`.
//!
//! `subsecond` (driven by `dx serve --hot-patch`) patches machine code through
//! a jump table and then calls every handler registered with
//! `subsecond::register_handler`, on the thread that applied the patch — in a
//! `dx` app, the thread talking to the dev server. Re-running the roots there
//! would run user code on a thread that is not ours and make the patching
//! thread wait for it, so the handler only *posts*: one thread owned by this
//! module runs the reloads. A patch that arrives while a reload runs sets the
//! request again, so any number of them coalesce into exactly one more reload,
//! which runs the newest code (the jump table is committed before the
//! handlers are called).
//!
//! Roots are called through `subsecond::HotFn`: the call looks the root's
//! function up in the current jump table, so a re-run executes the patched
//! code (`HotFn` only patches in builds with debug assertions, as `dx` serves
//! them; a release build calls the original).

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, OnceLock, PoisonError};
use std::time::{Duration, Instant};

#[cfg(all(feature = "subsecond-0-8", not(feature = "subsecond")))]
use subsecond_0_8 as subsecond;

use super::module::ReloadError;
use crate::events::{CallReason, Change, Event};
use crate::support::panic_message;

/// What a patch runs: every root again, telling listeners it is a patch.
pub(crate) type Reload = fn(CallReason) -> Result<(), ReloadError>;

/// The [`Reload`] the first [`hot`] root gave.
static RELOAD: OnceLock<Reload> = OnceLock::new();

/// Wraps a root so that each call goes through `subsecond::HotFn`, and starts
/// the engine.
///
/// `HotFn` keys a callable by its `call_it` — except a pointer-sized one,
/// which it takes for a function pointer and looks up by its *bits*: a closure
/// capturing one `Arc` (say) would never be patched, and one capturing a
/// `&'static` that a patch maps (dx maps data symbols too) would have data
/// called as code. So `HotFn` gets a wrapper that is never pointer-sized,
/// whatever `F` is: the wrapper's `call_it` is an instance of this crate's
/// generic code in the user's crate, which a patch maps like any other
/// function of that crate, and its new build calls the new build of `F`'s body.
/// (A function pointer given as a root is the one thing this does not patch:
/// the wrapper calls the pointer it holds. Pass the fn item.)
///
/// `reload` is what a patch runs: the roots' re-run (given by the roots'
/// module, which this one does not import).
pub(crate) fn hot<F, R>(name: &str, f: F, reload: Reload) -> impl Fn() -> R + Send + Sync + 'static
where
    F: Fn() -> R + Send + Sync + 'static,
{
    let _ = RELOAD.set(reload);
    start(name);
    let pad = [0u8; 9];
    let padded = move || {
        std::hint::black_box(&pad);
        f()
    };
    debug_assert_ne!(size_of_val(&padded), size_of::<fn()>());
    // `HotFn::call` takes `&mut self`; a root never runs twice at once (its
    // module's lock), so the mutex is never contended.
    let hot = Mutex::new(subsecond::HotFn::current(padded));
    move || hot.lock().unwrap_or_else(PoisonError::into_inner).call(())
}

/// What the patch engine has done (feature `subsecond` or `subsecond-0-8`); see [`patch_status`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PatchStatus {
    /// Patches announced by subsecond (calls of the engine's handler).
    pub patches: u64,
    /// Reloads the engine ran for them. Fewer than `patches` when patches
    /// arrived while a reload ran: those coalesce into one more reload.
    pub reloads: u64,
    /// A reload is requested or running.
    pub busy: bool,
    /// What the last reload did.
    pub last: Option<PatchReload>,
}

/// What one reload after a patch did, counted from its events
/// (`track-update`, `track-dispose`, `reload-error`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PatchReload {
    /// Tracks whose closures were swapped in place (`change: fn-only`).
    pub updated: usize,
    /// Tracks whose entities were rebuilt (`change: structural` or `reset`).
    pub rebuilt: usize,
    /// Tracks the new code no longer reached (`track-dispose`).
    pub disposed: usize,
    /// Modules whose new version panicked (their old code keeps running),
    /// and disposers that panicked.
    pub errors: Vec<ReloadError>,
    /// How long the reload took.
    pub took: Duration,
}

impl PatchReload {
    /// Counts what the committed module versions among `events` did. A
    /// version that panicked changed nothing, although its tracks reported
    /// updates as they returned.
    fn count(&mut self, events: Vec<Event>) {
        // Updates come inside a module's call and return; its disposals
        // right after the return.
        let (mut updated, mut rebuilt) = (0, 0);
        let mut committed = false;
        for event in events {
            match event {
                Event::HmrModuleCall { .. } => (updated, rebuilt) = (0, 0),
                Event::TrackUpdate { change: Change::FnOnly, .. } => updated += 1,
                Event::TrackUpdate { .. } => rebuilt += 1,
                Event::HmrModuleCallReturn { committed: true, .. } => {
                    committed = true;
                    self.updated += updated;
                    self.rebuilt += rebuilt;
                }
                Event::HmrModuleCallReturn { committed: false, .. } => committed = false,
                Event::TrackDispose { .. } if committed => self.disposed += 1,
                Event::ReloadError { module, message, .. } => {
                    self.errors.push(ReloadError::Panicked { module: module.to_string(), message });
                }
                _ => {}
            }
        }
    }
}

impl fmt::Display for PatchReload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} tracks updated, {} rebuilt, {} disposed in {:.1?}",
            self.updated, self.rebuilt, self.disposed, self.took
        )?;
        for error in &self.errors {
            write!(f, "; {error}")?;
        }
        Ok(())
    }
}

/// What the patch engine has done so far: how many patches arrived, how many
/// reloads ran, and what the last one did. With nothing registered yet (no
/// `root` called) everything is zero.
///
/// When an edit seems not to apply, this tells where it stopped: `patches`
/// not growing means subsecond never announced a patch (is the app served by
/// `dx serve --hot-patch`?); `reloads` growing with an error in `last` means
/// the new code panicked and the old code keeps running.
#[must_use]
pub fn patch_status() -> PatchStatus {
    let engine = engine();
    let state = engine.lock();
    PatchStatus {
        patches: state.patches,
        reloads: state.reloads,
        busy: state.requested || state.running,
        last: state.last.clone(),
    }
}

struct Engine {
    state: Mutex<State>,
    /// Wakes the reload thread.
    requested: Condvar,
}

#[derive(Default)]
struct State {
    patches: u64,
    reloads: u64,
    requested: bool,
    running: bool,
    last: Option<PatchReload>,
}

impl Engine {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine { state: Mutex::default(), requested: Condvar::new() })
}

/// Registers the handler with subsecond and starts the reload thread, once.
fn start(root: &str) {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new().name("hmr-reload".into()).spawn(run_reloads);
        if let Err(error) = spawned {
            // Without the thread a patch cannot reload; say so where the
            // reloads would have been reported, and keep the program running.
            crate::accumulator::dispatch::emit(Event::ReloadError {
                module: root.into(),
                message: format!(
                    "hmr: the reload thread could not start ({error}); code patches will not reload"
                ),
                path: None,
            });
            return;
        }
        // subsecond calls its handlers with their list locked: a first
        // `root` from inside another subsecond handler would wait here
        // forever. Call `root` before patches can arrive.
        subsecond::register_handler(Arc::new(post));
    });
}

/// The handler subsecond calls after committing a patch: asks for a reload.
pub(crate) fn post() {
    crate::events::callsite::new_code_generation();
    let engine = engine();
    let mut state = engine.lock();
    state.patches += 1;
    state.requested = true;
    drop(state);
    engine.requested.notify_one();
}

/// The reload thread: one reload per request; requests made while a reload
/// runs are one more request.
fn run_reloads() {
    let engine = engine();
    loop {
        let mut state = engine.lock();
        while !state.requested {
            state = engine.requested.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        state.requested = false;
        state.running = true;
        drop(state);
        let last = reload_once();
        let mut state = engine.lock();
        state.running = false;
        state.reloads += 1;
        state.last = Some(last);
    }
}

/// Re-runs the roots through the newest code and counts what changed.
fn reload_once() -> PatchReload {
    let started = Instant::now();
    let run = catch_unwind(AssertUnwindSafe(|| {
        crate::capture_events(|| RELOAD.get().map_or(Ok(()), |reload| reload(CallReason::Patch)))
    }));
    let mut summary = PatchReload::default();
    match run {
        Ok((_, events)) => summary.count(events),
        // `reload` catches the roots' panics; this is a panic of the engine
        // itself. Report it and keep the thread for the next patch.
        Err(payload) => summary.errors.push(ReloadError::Panicked {
            module: String::new(),
            message: panic_message(&*payload),
        }),
    }
    summary.took = started.elapsed();
    #[cfg(feature = "tracing")]
    if summary.errors.is_empty() {
        tracing::info!(target: "hmr", "code patch applied: {summary}");
    } else {
        tracing::warn!(target: "hmr", "code patch applied with errors: {summary}");
    }
    summary
}

#[cfg(test)]
mod tests {
    //! The engine without real patches: the tests call the handler (`post`)
    //! as subsecond would after committing a patch. The end-to-end test with
    //! real machine code is `tests/tests/patching.rs`.

    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::mpsc;
    use std::sync::{Mutex, PoisonError};
    use std::time::{Duration, Instant};

    use futures_util::stream;

    use super::{PatchStatus, patch_status, post};
    use crate::events::{CallReason, Event};
    use crate::{MemoryLog, add_sink, root, subscribe};

    /// The engine is one per process: its tests take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn wait_until(what: &str, done: impl Fn(&PatchStatus) -> bool) -> PatchStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = patch_status();
            if done(&status) {
                return status;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}: {status:?}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn patch_calls(log: &MemoryLog, name: &str) -> usize {
        log.events()
            .iter()
            .filter(|e| {
                matches!(e, Event::HmrModuleCall { module, reason: CallReason::Patch, .. }
                    if module == name)
            })
            .count()
    }

    static GATE: Mutex<Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>> = Mutex::new(None);
    static GATED_RUNS: AtomicU64 = AtomicU64::new(0);

    /// Counts its runs; while a gate is set, says it entered and waits to be
    /// let go.
    fn gated_root() {
        GATED_RUNS.fetch_add(1, Ordering::SeqCst);
        let gate = GATE.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some((entered, release)) = gate {
            entered.send(()).unwrap();
            release.recv_timeout(Duration::from_secs(30)).unwrap();
        }
    }

    #[test]
    fn patches_during_a_reload_coalesce_into_exactly_one_more() {
        let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        let log = MemoryLog::new();
        let _sink = add_sink(log.clone());
        root("engine-gated", gated_root).unwrap();
        let before = wait_until("an idle engine", |s| !s.busy);
        let runs = GATED_RUNS.load(Ordering::SeqCst);

        let (entered_tx, entered_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel();
        *GATE.lock().unwrap() = Some((entered_tx, release_rx));
        post();
        entered_rx.recv_timeout(Duration::from_secs(30)).expect("the reload never started");
        // Five patches from five threads while that reload is inside the root.
        std::thread::scope(|s| {
            for _ in 0..5 {
                s.spawn(post);
            }
        });
        assert!(patch_status().busy);
        release_tx.send(()).unwrap();

        let after = wait_until("two reloads", |s| !s.busy && s.reloads >= before.reloads + 2);
        assert_eq!(after.patches, before.patches + 6);
        assert_eq!(after.reloads, before.reloads + 2, "six patches, one running: two reloads");
        assert_eq!(GATED_RUNS.load(Ordering::SeqCst), runs + 2);
        assert_eq!(patch_calls(&log, "engine-gated"), 2, "each reload's module-call says `patch`");
    }

    static GENERATION: AtomicU64 = AtomicU64::new(0);
    static SEEN_GENERATION: AtomicU64 = AtomicU64::new(0);

    /// Stands for "the newest code": the generation it sees when it starts.
    fn generation_root() {
        SEEN_GENERATION.fetch_max(GENERATION.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    #[test]
    fn racing_patches_are_never_lost_the_last_reload_runs_the_newest_code() {
        let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        root("engine-generations", generation_root).unwrap();
        let before = wait_until("an idle engine", |s| !s.busy);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..50 {
                        // A patch: the new code is committed, then announced.
                        GENERATION.fetch_add(1, Ordering::SeqCst);
                        post();
                        std::thread::yield_now();
                    }
                });
            }
        });
        let after = wait_until("the last reload", |s| !s.busy);
        assert_eq!(after.patches, before.patches + 200);
        assert!(after.reloads > before.reloads, "at least one reload");
        assert_eq!(
            SEEN_GENERATION.load(Ordering::SeqCst),
            GENERATION.load(Ordering::SeqCst),
            "a reload started after the last patch"
        );
    }

    static PADDED_RUNS: AtomicU64 = AtomicU64::new(0);

    #[test]
    fn a_pointer_sized_closure_is_a_root_like_any_other() {
        let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        let runs = std::sync::Arc::new(&PADDED_RUNS);
        let root_fn = move || {
            runs.fetch_add(1, Ordering::SeqCst);
        };
        assert_eq!(size_of_val(&root_fn), size_of::<fn()>(), "what HotFn takes for a pointer");
        let before = PADDED_RUNS.load(Ordering::SeqCst);
        root("engine-padded", root_fn).unwrap();
        assert_eq!(PADDED_RUNS.load(Ordering::SeqCst), before + 1);
        crate::reload().unwrap();
        assert!(PADDED_RUNS.load(Ordering::SeqCst) >= before + 2);
    }

    static HALF_BROKEN: AtomicBool = AtomicBool::new(false);

    #[crate::hmr_track(crate = crate)]
    fn reached() {
        crate::capture_entity(crate::EntityKind::Factory, "reached");
    }

    /// Reaches a track, then (when broken) panics.
    fn half_broken_root() {
        reached();
        assert!(!HALF_BROKEN.load(Ordering::SeqCst), "broken after reaching a track");
    }

    #[test]
    fn a_panicking_patch_is_reported_counts_nothing_and_the_next_patch_reloads() {
        let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        root("engine-half-broken", half_broken_root).unwrap();
        let before = wait_until("an idle engine", |s| !s.busy);

        HALF_BROKEN.store(true, Ordering::SeqCst);
        post();
        let broken = wait_until("the broken reload", |s| !s.busy && s.reloads > before.reloads);
        HALF_BROKEN.store(false, Ordering::SeqCst);
        let last = broken.last.expect("a reload ran");
        assert_eq!(last.errors.len(), 1, "{last}");
        assert!(last.to_string().contains("broken after reaching a track"), "{last}");
        // The version reached a track before it panicked: rolled back, it
        // updated nothing.
        assert_eq!((last.updated, last.rebuilt, last.disposed), (0, 0, 0), "{last}");

        post();
        let fixed = wait_until("the fixed reload", |s| !s.busy && s.reloads > broken.reloads);
        let last = fixed.last.expect("a reload ran");
        assert_eq!(last.errors, []);
        assert!(last.updated >= 1, "the committed version's update counts: {last}");
    }

    static WITH_TAP: AtomicBool = AtomicBool::new(false);
    static TAPPED: AtomicU64 = AtomicU64::new(0);

    /// A second version adds a subscription on a new path: it has to start on
    /// a runtime although the reload thread has none.
    fn growing_root() {
        if WITH_TAP.load(Ordering::SeqCst) {
            tap();
        }
    }

    #[crate::hmr_track(crate = crate)]
    fn tap() {
        let tap = subscribe(stream::iter(0..3u64), |_| {
            TAPPED.fetch_add(1, Ordering::SeqCst);
        });
        tap.detach();
    }

    #[test]
    fn a_new_subscription_in_a_patch_starts_on_the_roots_runtime() {
        let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
        runtime.block_on(async { root("engine-growing", growing_root) }).unwrap();
        let before = wait_until("an idle engine", |s| !s.busy);

        WITH_TAP.store(true, Ordering::SeqCst);
        post();
        let after = wait_until("the reload", |s| !s.busy && s.reloads > before.reloads);
        assert_eq!(after.last.clone().expect("a reload ran").errors, []);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TAPPED.load(Ordering::SeqCst) < 3 {
            assert!(Instant::now() < deadline, "the new subscription never ran");
            std::thread::sleep(Duration::from_millis(1));
        }
        // Dispose of the tap now, not in another test's reload.
        WITH_TAP.store(false, Ordering::SeqCst);
        post();
        let cleaned = wait_until("the cleaning reload", |s| !s.busy && s.reloads > after.reloads);
        assert_eq!(cleaned.last.expect("a reload ran").disposed, 1, "the tap's track");
    }

    static ASYNC_RUNS: AtomicU64 = AtomicU64::new(0);

    #[crate::hmr_track(crate = crate)]
    async fn handshake() {
        tokio::task::yield_now().await;
        ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn a_patch_runs_an_async_root_again_on_its_runtime() {
        // Kept for the process: other tests' reloads run this root too.
        static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
        let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        let runtime = RUNTIME.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap()
        });
        runtime.block_on(crate::root_async("engine-async", handshake)).unwrap();
        let before = wait_until("an idle engine", |s| !s.busy);
        let runs = ASYNC_RUNS.load(Ordering::SeqCst);
        post();
        let after = wait_until("the reload", |s| !s.busy && s.reloads > before.reloads);
        assert_eq!(after.last.expect("a reload ran").errors, []);
        assert!(ASYNC_RUNS.load(Ordering::SeqCst) > runs, "the reload thread ran it, and waited");
    }
}
