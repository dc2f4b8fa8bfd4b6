//! The stack of open scopes: one per thread, and one per tracked `async fn`
//! future, which moves its frame onto the polling thread's stack for each poll.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::events::callsite::Key;
use crate::events::ids::derive_id;
use crate::events::{CallId, EntityId, Event, ModuleVersion, Name, Path, Site, TrackId};
use crate::living::graph::Built;

/// Numbers executions that reach the store or a listener (never 0).
static NEXT_CALL: AtomicU64 = AtomicU64::new(1);

/// The identity of a `keyed(key, f)` scope: a track whose key is a value.
#[derive(Debug)]
pub(crate) struct Keyed {
    /// `[key]`, with the key's `Debug` text.
    pub(crate) text: Name,
    /// The key's `Hash`, salted apart from static keys.
    pub(crate) hash: u64,
    /// Where `keyed` was called.
    pub(crate) site: &'static std::panic::Location<'static>,
}

/// The innermost open track scope, as an entity built now sees it.
#[derive(Clone, Debug)]
pub(crate) struct Scope {
    pub(crate) track: TrackId,
    pub(crate) call: CallId,
    /// `#[hmr_track(reset)]`: whatever it builds is rebuilt.
    pub(crate) reset: bool,
    /// It runs inside a module: a later version of the module re-executes
    /// it (outside one, a repeated call builds afresh).
    pub(crate) in_module: bool,
    /// What this execution built so far.
    pub(crate) built: Arc<Built>,
}

/// Where a frame's parent path comes from.
#[derive(Debug, Default)]
enum Link {
    /// A sync call's parent is the frame below it (a module scope has none).
    #[default]
    Below,
    /// An async frame's parent, captured at its first poll.
    Captured(Option<Path>),
}

/// What only some frames need, boxed so that the common frame (a sync call
/// with no listener) is small and has almost no drop glue.
#[derive(Debug, Default)]
struct Cold {
    /// The materialised path, once someone needed it.
    node: Option<Path>,
    /// Where the parent's path comes from.
    link: Link,
    /// A module scope's module.
    module: Option<ModuleVersion>,
    /// A keyed scope's key.
    keyed: Option<Keyed>,
    /// An async frame's repeat counters, kept between polls.
    saved_counters: Vec<(u64, u32)>,
    /// The parts the entity types built in this execution so far.
    built: Option<Arc<Built>>,
    /// An async frame between two polls: the frame itself (see [`Parked`]).
    parked: Option<Frame>,
    /// A deferred frame's events so far, its `track-call` first.
    pending: Vec<Event>,
    /// The last of `pending` is the capture of a part.
    part_last: bool,
}

thread_local! {
    /// Cold parts of closed sync frames, emptied, for the next frames that
    /// need one: every call in a module that builds an entity needs one.
    #[allow(clippy::vec_box, reason = "the boxes are what is reused, to become frames' cold parts")]
    static SPARE_COLD: RefCell<Vec<Box<Cold>>> = const { RefCell::new(Vec::new()) };
}

/// How many emptied cold parts a thread keeps.
const SPARE_COLD_KEPT: usize = 16;

/// An empty cold part: a spare one, or a new one.
fn spare_cold() -> Box<Cold> {
    SPARE_COLD
        .try_with(|spare| spare.try_borrow_mut().ok()?.pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Empties `cold` (what it held is dropped here) and keeps it as a spare.
#[cold]
fn recycle_cold(mut cold: Box<Cold>) {
    drop(std::mem::take(&mut *cold));
    let _ = SPARE_COLD.try_with(|spare| {
        if let Ok(mut spare) = spare.try_borrow_mut()
            && spare.len() < SPARE_COLD_KEPT
        {
            spare.push(cold);
        }
    });
}

/// An async frame between two polls, kept in its own cold part (which every
/// async frame has): the future that owns it holds one pointer, not a
/// `Frame`, and parking it allocates nothing.
#[derive(Debug)]
pub(crate) struct Parked(Box<Cold>);

impl Parked {
    /// The frame, to push for a poll.
    pub(crate) fn unpark(self) -> Frame {
        let mut cold = self.0;
        let mut frame = cold.parked.take().expect("a parked frame is in its cold part");
        frame.cold = Some(cold);
        frame
    }

    pub(crate) fn frame(&self) -> &Frame {
        self.0.parked.as_ref().expect("a parked frame is in its cold part")
    }
}

#[derive(Debug)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent facts about one scope, read on the hot path"
)]
pub(crate) struct Frame {
    id: TrackId,
    /// This execution; numbered when its `track-call` is first built.
    call: CallId,
    /// The enclosing *track* (None under a module scope or at top level).
    parent: Option<TrackId>,
    /// The function's key; `None` for a module scope and a keyed scope.
    key: Option<&'static Key>,
    n: u32,
    /// Where this frame's repeat counters start in `Stack::counters` while
    /// it is on the stack.
    counters_from: usize,
    entity: Option<EntityId>,
    /// The listener horizon its `track-call` was published under (0: it was
    /// not); its return goes to the same listeners.
    announced: u64,
    /// Its events go to the store (inside a module, or it captured an entity).
    reduced: bool,
    /// A per-item scope (see [`Stack::push_item`]): not a call, no events.
    item: bool,
    /// The track whose per-item scope it was placed in, directly or not.
    item_of: Option<TrackId>,
    /// The thread was already unwinding when the scope opened (a tracked
    /// call from a `Drop` during a panic): it did not unwind *through* it.
    panicking_at_entry: bool,
    in_module: bool,
    /// A sync call in a module that opened with no listener installed: its
    /// events wait in its cold part and reach the store together at its
    /// return, under one lock, and its graph's hook is attached then
    /// (docs/design.md §4.1).
    deferred: bool,
    cold: Option<Box<Cold>>,
}

impl Frame {
    /// A module scope: not a track.
    pub(crate) fn is_module(&self) -> bool {
        self.key.is_none() && !self.item && self.cold.as_ref().is_none_or(|c| c.keyed.is_none())
    }

    /// A per-item scope: its track's, for the calls an item makes.
    pub(crate) fn is_item(&self) -> bool {
        self.item
    }

    /// The parts this execution built (docs/design.md §5.1), shared with the store's
    /// hooks once an entity is captured.
    pub(crate) fn built(&mut self) -> Arc<Built> {
        self.cold().built.get_or_insert_with(Arc::default).clone()
    }

    /// Its materialised path, if someone needed it already.
    fn path(&self) -> Option<&Path> {
        self.cold.as_deref().and_then(|c| c.node.as_ref())
    }

    /// A sync call's parent path is the path of the frame below it; a
    /// module or per-item scope has none, an async frame captured its own.
    fn parent_is_below(&self) -> bool {
        !self.is_module()
            && !self.is_item()
            && !matches!(self.cold.as_deref(), Some(Cold { link: Link::Captured(_), .. }))
    }

    /// `#[hmr_track(reset)]`.
    pub(crate) fn reset(&self) -> bool {
        self.key.is_some_and(|key| key.callsite.reset)
    }

    /// This frame's path, under its parent's (`None`: at the top).
    fn path_under(&self, parent: Option<&Path>) -> Path {
        if let Some(key) = self.key {
            return Path::numbered(parent, key.text.clone(), self.n);
        }
        if self.item {
            // Materialised only when a call made for an item needs its
            // path: the track's own, as stored, under the module version
            // that last ran it.
            let store = crate::store::store();
            return match store.tracks.get(&self.id) {
                Some(record) => Path::alias(&record.path, record.module.clone()),
                None => Path::from(self.id.to_string()),
            };
        }
        let cold = self.cold.as_deref().expect("a module or keyed frame has its cold part");
        match (&cold.keyed, &cold.module) {
            // The key is the identity: a repeat of it is rare, and numbered.
            (Some(keyed), _) if self.n == 0 => Path::bare(parent, keyed.text.clone()),
            (Some(keyed), _) => Path::numbered(parent, keyed.text.clone(), self.n),
            (None, Some(module)) => Path::module(module),
            (None, None) => unreachable!("a frame without a key is a module or a keyed scope"),
        }
    }

    /// Parks the frame of an async scope between two polls.
    pub(crate) fn park(mut self) -> Parked {
        let mut cold = self.cold.take().unwrap_or_default();
        cold.parked = Some(self);
        Parked(cold)
    }

    fn cold(&mut self) -> &mut Cold {
        self.cold.get_or_insert_with(spare_cold)
    }

    /// The `track-call` event of this frame; `path` is its materialised path.
    pub(crate) fn call_event(&mut self, path: &Path) -> Event {
        if self.call.0 == 0 {
            self.call = CallId(NEXT_CALL.fetch_add(1, Ordering::Relaxed));
        }
        let (key, site, reset) = match (self.key, self.cold.as_deref()) {
            (Some(key), _) => (key.text.clone(), key.site.clone(), key.callsite.reset),
            (None, Some(Cold { keyed: Some(keyed), .. })) => {
                let site = Site {
                    file: Cow::Borrowed(keyed.site.file()),
                    line: keyed.site.line(),
                    column: keyed.site.column(),
                };
                (keyed.text.clone(), site, false)
            }
            (None, _) => unreachable!("module frames have no track-call"),
        };
        Event::TrackCall {
            id: self.id,
            call: self.call,
            key,
            path: path.clone(),
            parent: self.parent,
            site,
            module: path.module_version().cloned(),
            reset,
            item_of: self.item_of,
        }
    }
}

impl Closed {
    /// What `frame`'s `track-call-return` needs, if anyone wants that event.
    #[inline]
    pub(crate) fn of(frame: &Frame) -> Option<Closed> {
        (frame.reduced || frame.announced != 0).then_some(Closed {
            id: frame.id,
            call: frame.call,
            entity: frame.entity,
            reduced: frame.reduced,
            announced: frame.announced,
            panicking_at_entry: frame.panicking_at_entry,
            deferred: frame.deferred,
            cold: false,
        })
    }

    /// What the closed frame's cold part held, left on the stack by
    /// [`pop_call`](Stack::pop_call): a deferred frame's batch (its
    /// `track-call` first) and the graph it built. The emptied cold part is
    /// recycled; the graph is the caller's to drop (it may hold the last
    /// reference to user values).
    #[cold]
    pub(crate) fn take_cold(&self) -> Closing {
        let cold = if self.cold {
            STACK.try_with(|s| s.borrow_mut().closing.take()).ok().flatten()
        } else {
            None
        };
        let Some(mut cold) = cold else { return Closing { batch: None, built: None } };
        let batch = self.deferred.then(|| std::mem::take(&mut cold.pending));
        let built = cold.built.take();
        recycle_cold(cold);
        Closing { batch, built }
    }
}

/// What a closed frame's cold part held (see [`Closed::take_cold`]).
pub(crate) struct Closing {
    pub(crate) batch: Option<Vec<Event>>,
    pub(crate) built: Option<Arc<Built>>,
}

/// What the `track-call-return` of a closed frame needs.
#[derive(Clone, Copy, Debug)]
#[allow(clippy::struct_excessive_bools, reason = "independent facts about one closed scope")]
pub(crate) struct Closed {
    pub(crate) id: TrackId,
    pub(crate) call: CallId,
    pub(crate) entity: Option<EntityId>,
    pub(crate) reduced: bool,
    pub(crate) announced: u64,
    pub(crate) panicking_at_entry: bool,
    /// It deferred its events (they are in its cold part).
    pub(crate) deferred: bool,
    /// Its cold part waits in `Stack::closing` (see
    /// [`take_cold`](Closed::take_cold)).
    pub(crate) cold: bool,
}

thread_local! {
    /// An emptied batch, for the next deferred frame that captures.
    static SPARE_BATCH: Cell<Vec<Event>> = const { Cell::new(Vec::new()) };
}

/// Keeps an emptied batch's room for the next deferred frame.
pub(crate) fn recycle_batch(mut batch: Vec<Event>) {
    batch.clear();
    let _ = SPARE_BATCH.try_with(|spare| spare.set(batch));
}

#[derive(Debug, Default)]
pub(crate) struct Stack {
    pub(crate) frames: Vec<Frame>,
    /// The repeat counters of the open frames' executions, (key hash, calls
    /// so far), each frame's after its parent's: the top frame's are always
    /// the tail, so a frame needs no vector of its own.
    counters: Vec<(u64, u32)>,
    /// The cold part of the frame just closed, for its return.
    closing: Option<Box<Cold>>,
}

thread_local! {
    pub(crate) static STACK: RefCell<Stack> = const {
        RefCell::new(Stack { frames: Vec::new(), counters: Vec::new(), closing: None })
    };
    /// The track whose per-item scope the code running on this thread is
    /// in (its id's bits; 0: none). See [`ItemScope`].
    static ITEM_OWNER: Cell<u64> = const { Cell::new(0) };
    /// That scope's state: bit 0, its track runs in a module; the rest, the
    /// depth its frame was pushed at (0: not yet). Two words, not one
    /// struct: each is written and read back whole, which the CPU forwards
    /// from store to load (a wider struct read back stalls).
    static ITEM_STATE: Cell<usize> = const { Cell::new(0) };
}

/// Runs code for an item (a handler, a hot operator's closure) in the scope
/// of the track it belongs to (docs/design.md §2.5): tracked calls it
/// makes are that track's children. Entering a scope other than the current
/// one costs two thread-local writes; the same one (the operators of the
/// subscription's own track, which its task enters for the whole item) a
/// thread-local read. The scope's frame is pushed only at the first tracked
/// call (no event, no allocation), and popped when the guard that entered it
/// drops.
#[must_use]
pub(crate) struct ItemScope {
    /// What to restore, if it entered a scope (`None`: it was current).
    restore: Option<(u64, usize)>,
}

impl ItemScope {
    #[inline]
    pub(crate) fn enter(owner: Option<TrackId>, in_module: bool) -> ItemScope {
        let owner = owner.map_or(0, |t| t.0);
        if ITEM_OWNER.try_with(Cell::get).is_ok_and(|current| current == owner) {
            return ItemScope { restore: None };
        }
        ItemScope::switch(owner, in_module)
    }

    fn switch(owner: u64, in_module: bool) -> ItemScope {
        let owner = ITEM_OWNER.try_with(|o| o.replace(owner)).unwrap_or(0);
        let state = ITEM_STATE.try_with(|s| s.replace(usize::from(in_module))).unwrap_or(0);
        ItemScope { restore: Some((owner, state)) }
    }
}

impl Drop for ItemScope {
    #[inline]
    fn drop(&mut self) {
        let Some((owner, state)) = self.restore else { return };
        let Ok(current) = ITEM_STATE.try_with(|s| s.replace(state)) else { return };
        let _ = ITEM_OWNER.try_with(|o| o.set(owner));
        if current >> 1 != 0 {
            close_item(current >> 1);
        }
    }
}

#[cold]
#[inline(never)]
fn close_item(depth: usize) {
    let _ = STACK.try_with(|s| s.borrow_mut().pop(depth));
}

/// What a new frame inherits from the scope it is opened in.
struct Placement {
    id: TrackId,
    parent: Option<TrackId>,
    n: u32,
    in_module: bool,
    item_of: Option<TrackId>,
    /// It runs in a module, and its chain down to its module's frame is sync
    /// and on this thread: it sits right on the module's frame or on a
    /// deferred call. Its module
    /// cannot commit or roll back before it closes, so it may defer. Not
    /// under an async frame, a keyed scope or a per-item scope, whose module
    /// version may commit on another thread meanwhile (or, for a keyed
    /// scope, simply not: deferring there is not worth a field per frame).
    on_thread: bool,
}

impl Stack {
    /// Place a call of the key hashed `hash` under the top frame, counting
    /// it there.
    #[inline]
    #[allow(
        clippy::needless_bitwise_bool,
        reason = "branch-free on every tracked call: fewer instructions, measured"
    )]
    fn place(&mut self, hash: u64) -> Placement {
        // One read when no item is being handled (the common case).
        if ITEM_OWNER.try_with(Cell::get).unwrap_or(0) != 0 {
            self.open_item();
        }
        match self.frames.last() {
            Some(top) => {
                let mine = &mut self.counters[top.counters_from..];
                let n = if let Some((_, count)) = mine.iter_mut().find(|(h, _)| *h == hash) {
                    *count += 1;
                    *count - 1
                } else {
                    self.counters.push((hash, 1));
                    0
                };
                let module_top = top.is_module();
                Placement {
                    id: derive_id(top.id.0, hash, n),
                    parent: if module_top { None } else { Some(top.id) },
                    n,
                    in_module: top.in_module,
                    item_of: top.item_of,
                    on_thread: top.in_module & (module_top | top.deferred),
                }
            }
            // Outside any scope and module: one track per static key.
            None => Placement {
                id: derive_id(0, hash, 0),
                parent: None,
                n: 0,
                in_module: false,
                item_of: None,
                on_thread: false,
            },
        }
    }

    /// Open a sync scope; returns the new depth and whether its `track-call`
    /// must go to the store now. In a module, on a sync chain from its
    /// module's frame on this thread, its events are deferred to its return
    /// instead (see [`Frame::deferred`]), unless it is announced to
    /// listeners ([`announce_top`](Stack::announce_top)).
    #[inline]
    pub(crate) fn push_call(&mut self, key: &'static Key) -> (usize, bool) {
        let p = self.place(key.hash);
        let deferred = p.on_thread;
        let frame = Frame {
            id: p.id,
            call: CallId(0),
            parent: p.parent,
            key: Some(key),
            n: p.n,
            counters_from: self.counters.len(),
            entity: None,
            announced: 0,
            reduced: p.in_module,
            panicking_at_entry: std::thread::panicking(),
            in_module: p.in_module,
            item: false,
            item_of: p.item_of,
            deferred,
            cold: None,
        };
        // With room known, the frame is written straight into the buffer;
        // behind `Vec::push`'s possible reallocation it is built on the
        // machine stack and copied, and the copy stalls on store forwarding.
        if self.frames.len() == self.frames.capacity() {
            self.grow_and_push(frame);
        } else {
            self.frames.push(frame);
        }
        (self.frames.len(), p.in_module && !deferred)
    }

    #[cold]
    #[inline(never)]
    fn grow_and_push(&mut self, frame: Frame) {
        self.frames.push(frame);
    }

    /// A frame for an `async fn` future, placed under the current top but not
    /// pushed: the future owns it and pushes it for each poll.
    pub(crate) fn new_async_frame(&mut self, key: &'static Key) -> Frame {
        let p = self.place(key.hash);
        let parent_node = self.top_node();
        Frame {
            id: p.id,
            call: CallId(0),
            parent: p.parent,
            key: Some(key),
            n: p.n,
            counters_from: 0,
            entity: None,
            announced: 0,
            reduced: p.in_module,
            panicking_at_entry: false,
            in_module: p.in_module,
            item: false,
            item_of: p.item_of,
            deferred: false,
            cold: Some(Box::new(Cold { link: Link::Captured(parent_node), ..Cold::default() })),
        }
    }

    /// Push an async frame for one poll, with the counters it kept; returns
    /// the depth to [`take_back`](Self::take_back) it from.
    pub(crate) fn enter_async(&mut self, mut frame: Frame) -> usize {
        frame.counters_from = self.counters.len();
        if let Some(cold) = frame.cold.as_mut() {
            self.counters.append(&mut cold.saved_counters);
        }
        self.frames.push(frame);
        self.frames.len()
    }

    /// Open a keyed scope (`keyed(key, f)`): a track placed by its key, whose
    /// calls are counted afresh. Returns the new depth and whether its events
    /// go to the store.
    pub(crate) fn push_keyed(&mut self, keyed: Keyed) -> (usize, bool) {
        let p = self.place(keyed.hash);
        self.frames.push(Frame {
            id: p.id,
            call: CallId(0),
            parent: p.parent,
            key: None,
            n: p.n,
            counters_from: self.counters.len(),
            entity: None,
            announced: 0,
            reduced: p.in_module,
            panicking_at_entry: std::thread::panicking(),
            in_module: p.in_module,
            item: false,
            item_of: p.item_of,
            deferred: false,
            cold: Some(Box::new(Cold { keyed: Some(keyed), ..Cold::default() })),
        });
        (self.frames.len(), p.in_module)
    }

    /// A keyed scope's frame for a future ([`keyed_async`](crate::keyed_async)),
    /// placed under the current top but not pushed, like
    /// [`new_async_frame`](Self::new_async_frame).
    pub(crate) fn new_keyed_frame(&mut self, keyed: Keyed) -> Frame {
        let p = self.place(keyed.hash);
        let parent_node = self.top_node();
        Frame {
            id: p.id,
            call: CallId(0),
            parent: p.parent,
            key: None,
            n: p.n,
            counters_from: 0,
            entity: None,
            announced: 0,
            reduced: p.in_module,
            panicking_at_entry: false,
            in_module: p.in_module,
            item: false,
            item_of: p.item_of,
            deferred: false,
            cold: Some(Box::new(Cold {
                keyed: Some(keyed),
                link: Link::Captured(parent_node),
                ..Cold::default()
            })),
        }
    }

    /// Whether a scope of module `name` is open on this stack.
    pub(crate) fn runs_module(&self, name: &str) -> bool {
        self.modules().any(|m| m == name)
    }

    /// The innermost module whose scope is open on this stack, if any.
    pub(crate) fn innermost_module(&self) -> Option<String> {
        self.modules().last().map(str::to_owned)
    }

    fn modules(&self) -> impl Iterator<Item = &str> {
        self.frames.iter().filter_map(|f| match (f.key, f.cold.as_deref()) {
            (None, Some(Cold { module: Some(m), .. })) => Some(m.name.as_str()),
            _ => None,
        })
    }

    /// A module scope's frame for a module's future, not pushed: the future
    /// owns it and pushes it for each poll ([`enter_async`](Self::enter_async)).
    pub(crate) fn new_module_frame(module: ModuleVersion) -> Frame {
        Self::module_frame(module)
    }

    fn module_frame(module: ModuleVersion) -> Frame {
        let id = derive_id(0, crate::events::ids::hash_str(&module.name) ^ MODULE_SALT, 0);
        Frame {
            id,
            call: CallId(0),
            parent: None,
            key: None,
            n: 0,
            counters_from: 0,
            entity: None,
            announced: 0,
            reduced: true,
            panicking_at_entry: false,
            in_module: true,
            item: false,
            item_of: None,
            deferred: false,
            cold: Some(Box::new(Cold { module: Some(module), ..Cold::default() })),
        }
    }

    /// Pushes the frame of the per-item scope ([`ItemScope`]), unless it
    /// was pushed already, for the tracked call about to be placed.
    #[cold]
    #[inline(never)]
    fn open_item(&mut self) {
        let (Ok(owner), Ok(state)) =
            (ITEM_OWNER.try_with(Cell::get), ITEM_STATE.try_with(Cell::get))
        else {
            return;
        };
        if state >> 1 != 0 {
            return; // pushed already
        }
        let in_module = state & 1 == 1;
        let depth = self.push_item(TrackId(owner), in_module);
        let _ = ITEM_STATE.try_with(|s| s.set(depth << 1 | usize::from(in_module)));
    }

    /// Open the per-item scope of `track`: no event, no allocation. Tracked
    /// calls made in it are children of `track`, counted afresh for each
    /// item and marked `item_of`.
    fn push_item(&mut self, track: TrackId, in_module: bool) -> usize {
        self.frames.push(Frame {
            id: track,
            call: CallId(0),
            parent: None,
            key: None,
            n: 0,
            counters_from: self.counters.len(),
            entity: None,
            announced: 0,
            reduced: in_module,
            panicking_at_entry: false,
            in_module,
            item: true,
            item_of: Some(track),
            deferred: false,
            cold: None,
        });
        self.frames.len()
    }

    /// Open a module scope.
    pub(crate) fn push_module(&mut self, module: ModuleVersion) -> usize {
        let mut frame = Self::module_frame(module);
        frame.counters_from = self.counters.len();
        self.frames.push(frame);
        self.frames.len()
    }

    /// Close the frame opened at `depth` (and any frame a leaked scope left above it).
    pub(crate) fn pop(&mut self, depth: usize) -> Option<Frame> {
        if self.frames.len() < depth || depth == 0 {
            return None;
        }
        self.frames.truncate(depth);
        let frame = self.frames.pop()?;
        self.counters.truncate(frame.counters_from);
        Some(frame)
    }

    /// Close the sync frame opened at `depth` (and any frame a leaked scope
    /// left above it) where it lies, without moving it out of the stack.
    /// Returns what its `track-call-return` needs if someone wants that event.
    #[inline]
    pub(crate) fn pop_call(&mut self, depth: usize) -> Option<Closed> {
        if self.frames.len() != depth {
            if self.frames.len() < depth || depth == 0 {
                return None;
            }
            self.leaked_above(depth);
        }
        let frame = self.frames.last()?;
        if frame.reduced || frame.announced != 0 {
            return self.pop_call_cold();
        }
        // Nobody wants its return: it closes as it lies.
        self.counters.truncate(frame.counters_from);
        self.frames.truncate(depth - 1);
        None
    }

    /// [`pop_call`](Stack::pop_call) of a top frame whose return someone
    /// wants: its deferred events go with it, its cold part is reused.
    #[inline(never)]
    fn pop_call_cold(&mut self) -> Option<Closed> {
        let index = self.frames.len().checked_sub(1)?;
        if self.frames[index].deferred && self.frames[index].call.0 == 0 {
            // It captured nothing: its `track-call` is built now, to reduce
            // with its return.
            self.defer_call_event(index);
        }
        let mut frame = self.frames.pop()?;
        self.counters.truncate(frame.counters_from);
        let mut closed = Closed::of(&frame);
        match (frame.cold.take(), &mut closed) {
            (Some(cold), Some(closed)) => {
                // Taken back by `Closed::take_cold` right after, before any
                // other code runs on this thread, and emptied outside this
                // borrow of the stack (its graph may hold user values).
                closed.cold = true;
                self.closing = Some(cold);
            }
            (Some(cold), None) => recycle_cold(cold),
            (None, _) => {}
        }
        closed
    }

    /// Frames above `depth` whose scopes never closed (a guard leaked with
    /// `mem::forget`) are dropped with the scope below them.
    #[cold]
    fn leaked_above(&mut self, depth: usize) {
        self.frames.truncate(depth);
    }

    /// Take back an async frame pushed for one poll, with its counters.
    pub(crate) fn take_back(&mut self, depth: usize) -> Option<Frame> {
        if self.frames.len() < depth || depth == 0 {
            return None;
        }
        self.frames.truncate(depth);
        let mut frame = self.frames.pop()?;
        let from = frame.counters_from.min(self.counters.len());
        let counters: Vec<(u64, u32)> = self.counters.drain(from..).collect();
        if !counters.is_empty() {
            frame.cold().saved_counters = counters;
        }
        Some(frame)
    }

    /// The materialised path of the frame at `index`. A sync frame's parent
    /// is the frame below it: the frames from the nearest one with a path
    /// (or no parent below) up to `index` get theirs, in order, without
    /// recursion.
    pub(crate) fn node_at(&mut self, index: usize) -> Path {
        let mut from = index;
        while self.frames[from].path().is_none() && self.frames[from].parent_is_below() && from > 0
        {
            from -= 1;
        }
        let mut below: Option<Path> = None;
        for i in from..=index {
            let frame = &mut self.frames[i];
            if let Some(path) = frame.path() {
                below = Some(path.clone());
                continue;
            }
            let parent = if frame.parent_is_below() {
                below.take()
            } else if let Some(Cold { link: Link::Captured(parent), .. }) = frame.cold.as_deref() {
                parent.clone()
            } else {
                None // a module or per-item scope: a root
            };
            let path = frame.path_under(parent.as_ref());
            frame.cold().node = Some(path.clone());
            below = Some(path);
        }
        below.expect("the frame at `index` has its path")
    }

    fn top_node(&mut self) -> Option<Path> {
        let len = self.frames.len();
        (len > 0).then(|| self.node_at(len - 1))
    }

    /// The innermost open track scope, for an entity built in it now (none
    /// in a module's scope, or for an item outside any tracked call: no
    /// track holds such an entity). Its events reach the store from now
    /// on: the first capture returns its `track-call` to route there.
    pub(crate) fn capture_scope(&mut self) -> Option<(Scope, Option<Event>)> {
        let index = self.frames.len().checked_sub(1)?;
        if self.frames[index].is_module() || self.frames[index].is_item() {
            return None;
        }
        let call = if self.frames[index].reduced {
            if self.frames[index].deferred && self.frames[index].call.0 == 0 {
                // A deferred frame's first capture: its `track-call` opens
                // the batch (and numbers the call).
                self.defer_call_event(index);
            }
            None
        } else {
            let call = self.top_call_event();
            self.frames[index].reduced = true;
            call
        };
        let frame = &mut self.frames[index];
        let built = frame.built();
        let scope = Scope {
            track: frame.id,
            call: frame.call,
            reset: frame.reset(),
            in_module: frame.in_module,
            built,
        };
        Some((scope, call))
    }

    /// Puts the `track-call` of the deferred frame at `index` first in its
    /// batch.
    fn defer_call_event(&mut self, index: usize) {
        let path = self.node_at(index);
        let event = self.frames[index].call_event(&path);
        let cold = self.frames[index].cold();
        if cold.pending.capacity() == 0 {
            cold.pending = SPARE_BATCH.try_with(Cell::take).unwrap_or_default();
        }
        cold.pending.push(event);
    }

    /// The execution `call`, if it is the top frame, captured `entity` (a
    /// `part` of its graph, or an entity captured by hand): last entity
    /// wins. If that frame is deferred, its capture event (taken out of
    /// `event`) joins its batch, unless a listener was installed since it
    /// opened (`listening`): then the frame stops deferring, and its batch is
    /// returned, to reduce before `event`.
    ///
    /// A part's capture replaces the part captured just before it in the
    /// batch: that one would be forgotten at the return, and, the frame's
    /// hook being attached only then, it has nothing to forget. (An entity
    /// captured by hand stays: `on_dispose` callbacks may be waiting on it.)
    pub(crate) fn captured(
        &mut self,
        call: CallId,
        entity: EntityId,
        part: bool,
        event: &mut Option<Event>,
        listening: bool,
    ) -> Vec<Event> {
        let Some(frame) = self.frames.last_mut().filter(|f| f.call == call) else {
            return Vec::new();
        };
        frame.entity = Some(entity);
        if !frame.deferred {
            return Vec::new();
        }
        if listening {
            frame.deferred = false;
            return std::mem::take(&mut frame.cold().pending);
        }
        if let Some(event) = event.take() {
            let cold = frame.cold();
            if cold.part_last {
                cold.pending.pop();
            }
            cold.pending.push(event);
            cold.part_last = part;
        }
        Vec::new()
    }

    /// Marks the top frame as announced to the listeners up to `publish` (0:
    /// none) and returns its `track-call`, and whether it goes to the store,
    /// if anyone needs it.
    pub(crate) fn announce_top(&mut self, publish: u64) -> Option<(Event, bool)> {
        let frame = self.frames.last_mut()?;
        // Its events go as they happen, not at its return.
        frame.deferred = false;
        frame.announced = publish;
        let reduce = frame.reduced;
        if !reduce && publish == 0 {
            return None;
        }
        Some((self.top_call_event()?, reduce))
    }

    /// The `track-call` event of the top frame (none for a module scope).
    pub(crate) fn top_call_event(&mut self) -> Option<Event> {
        let index = self.frames.len().checked_sub(1)?;
        if self.frames[index].is_module() || self.frames[index].is_item() {
            return None;
        }
        let path = self.node_at(index);
        Some(self.frames[index].call_event(&path))
    }
}

/// Distinguishes a module's scope id from a top-level track of the same text.
const MODULE_SALT: u64 = 0x6d6f_6475_6c65_0000;

/// The innermost open track scope on this thread (or in the `async fn` being
/// polled), or `None` outside any tracked function.
///
/// ```
/// use hmr_runtime::{current_track, hmr_track};
///
/// #[hmr_track]
/// fn inside() -> Option<hmr_runtime::TrackId> {
///     current_track()
/// }
///
/// assert!(inside().is_some());
/// assert_eq!(current_track(), None);
/// ```
#[must_use]
pub fn current_track() -> Option<TrackId> {
    STACK
        .try_with(|s| {
            let s = s.borrow();
            s.frames.last().filter(|f| !f.is_module()).map(|f| f.id)
        })
        .ok()
        .flatten()
}
