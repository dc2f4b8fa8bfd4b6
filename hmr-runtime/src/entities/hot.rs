//! The swappable closure slot every hot operator keeps its closure in
//! ([`Hot`]), its living node, and the hand-off of operator state between a
//! chain and the chain that replaces it. The operators themselves are in
//! [`ext`](super::ext) and [`ops`](super::ops).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;

use super::builder::Builder;
use crate::accumulator::stack::ItemScope;
use crate::events::{EntityKind, TrackId};
use crate::living::commit::{Commit, Mail, Mailbox};
use crate::living::graph::{Kept, Node, Op, Shape, StateCell, Ty, lock};
use crate::living::sync;

/// An operator's closure: the one it calls, and the mailbox through which
/// a commit replaces it (at an item boundary, see [`commit`](crate::living::commit)).
pub(crate) struct Hot<F: ?Sized> {
    slot: sync::Arc<Mailbox<Box<F>>>,
    seen: u64,
    current: Option<Box<F>>,
    /// The track that built it: named when the closure panics, and the scope
    /// the closure runs in (tracked calls it makes are that track's
    /// children).
    pub(crate) track: Option<TrackId>,
    /// That track runs inside a module.
    pub(crate) in_module: bool,
    /// Closures it took from its mailbox, the one it was built with first:
    /// which code an item met.
    received: u64,
    /// Its chain's structural name up to it, for consoles.
    #[cfg(feature = "console")]
    pub(crate) name: crate::events::Name,
}

impl<F: ?Sized> Hot<F> {
    /// An operator that never swaps (the `enabled` feature off).
    fn plain(slot: sync::Arc<Mailbox<Box<F>>>, f: Box<F>) -> Hot<F> {
        Hot {
            slot,
            seen: 0,
            current: Some(f),
            track: None,
            in_module: false,
            received: 0,
            #[cfg(feature = "console")]
            name: crate::events::Name::default(),
        }
    }

    /// An operator of the living graph; its closure is in `slot`.
    #[cfg_attr(not(feature = "console"), allow(unused_variables))]
    fn living(
        slot: sync::Arc<Mailbox<Box<F>>>,
        track: Option<TrackId>,
        in_module: bool,
        name: &crate::events::Name,
    ) -> Hot<F> {
        Hot {
            slot,
            seen: 0,
            current: None,
            track,
            in_module,
            received: 0,
            #[cfg(feature = "console")]
            name: name.clone(),
        }
    }

    /// The closure to call for this item: one atomic load and a compare,
    /// unless a commit staged a new one. `None` once a re-execution's
    /// operator gave its closure away to the living one.
    #[inline]
    fn get(&mut self) -> Option<&mut F> {
        // Without the `enabled` feature nothing swaps: the plain operator.
        if cfg!(feature = "enabled") {
            match self.slot.take(&mut self.seen) {
                Mail::Nothing => {}
                mail => self.receive(mail),
            }
        }
        self.current.as_deref_mut()
    }

    #[cold]
    #[inline(never)]
    fn receive(&mut self, mail: Mail<Box<F>>) {
        if let Mail::Letters(mut letters) = mail {
            // The old closure (and what it captured) is dropped here, with
            // the mailbox unlocked.
            self.current = letters.pop();
            self.received += 1;
        }
    }

    /// Calls the closure with `call`; a panic names the operator's track on
    /// its way up (see [`panicked_in`]).
    ///
    /// The closure runs in the per-item scope the item is in: a
    /// subscription's task opens its track's for the whole item, so tracked
    /// calls the closures of its pipeline make are children of that track.
    /// (Entering the operator's own track's scope on every call cost 4 ns per
    /// item where it differs; a `hot_then` future, which runs longer, does.)
    #[inline]
    pub(crate) fn call<R>(&mut self, call: impl FnOnce(&mut F) -> R) -> Option<R> {
        let f = self.get()?;
        match catch_unwind(AssertUnwindSafe(|| call(f))) {
            Ok(out) => Some(out),
            Err(payload) => unwind_from(self.track, payload),
        }
    }

    /// The per-item scope of its track, for code it runs later for an item
    /// (a `hot_then` future).
    pub(crate) fn item_scope(&self) -> ItemScope {
        ItemScope::enter(self.track, self.in_module)
    }
}

#[cfg(feature = "console")]
impl<F: ?Sized> super::tap::Origin for Hot<F> {
    fn track(&self) -> Option<TrackId> {
        self.track
    }
    fn name(&self) -> &crate::events::Name {
        &self.name
    }
    /// Which code an item meets: how many closures it received since the
    /// one it was built with (which comes through the mailbox too).
    fn code(&self) -> u64 {
        self.received.saturating_sub(1)
    }
}

/// Notes which track's closure panicked, and goes on unwinding.
#[cold]
#[inline(never)]
pub(crate) fn unwind_from(track: Option<TrackId>, payload: Box<dyn Any + Send>) -> ! {
    let id = payload_id(&*payload);
    PANICKED_IN.with(|p| p.set(Some((track, id))));
    resume_unwind(payload)
}

/// A panic payload's identity: the same box travels from `resume_unwind`
/// to whoever catches it.
fn payload_id(payload: &(dyn Any + Send)) -> usize {
    std::ptr::from_ref(payload).cast::<()>() as usize
}

std::thread_local! {
    static PANICKED_IN: std::cell::Cell<Option<(Option<TrackId>, usize)>> =
        const { std::cell::Cell::new(None) };
}

/// If `payload` is the panic of a hot closure, `Some` of the closure's track
/// (`Some(None)` for one built outside any track). A panic caught elsewhere
/// before leaves nothing behind that matches.
#[allow(clippy::option_option, reason = "not a hot closure, or one of no track")]
pub(crate) fn panicked_in(payload: &(dyn Any + Send)) -> Option<Option<TrackId>> {
    let noted = PANICKED_IN.with(std::cell::Cell::take)?;
    (noted.1 == payload_id(payload)).then_some(noted.0)
}

impl<F: ?Sized> Drop for Hot<F> {
    fn drop(&mut self) {
        // A living operator going away: what commits still send it is
        // dropped, not kept. (One never polled keeps its closure for a
        // living operator to adopt.)
        if self.current.is_some() {
            let _ = self.slot.close();
        }
    }
}

/// How a stateful operator's state outlives its chain (docs/design.md §5.4). When a
/// re-execution rebuilds the chain (an operator added, plain code around
/// it), the task drops the living chain and polls the new one: the living
/// operator leaves its state in its cell as it is dropped, and its twin in
/// the new chain takes it at its first poll. An operator dropped before its
/// first poll (a version overtaken by the next before any item, or rolled
/// back) leaves nothing; the twin after it looks past it, to the cell of the
/// last operator that ran.
pub(crate) struct Handoff<St> {
    /// Its cell: where it leaves its state, and the cells before it.
    own: Arc<StateCell<St>>,
    polled: bool,
}

impl<St> Handoff<St> {
    /// A hand-off taking over from `from` (the living twin's cell), if any.
    pub(crate) fn new(from: Option<Arc<StateCell<St>>>, polled: bool) -> Handoff<St> {
        let own = Arc::new(StateCell::new(Kept { state: None, before: from }));
        Handoff { own, polled }
    }

    /// The cell, for the graph.
    pub(crate) fn cell(&self) -> Arc<StateCell<St>> {
        self.own.clone()
    }

    /// At the first poll: the state the living twin left, if any.
    #[inline]
    pub(crate) fn first_poll(&mut self) -> Option<St> {
        if self.polled {
            return None;
        }
        self.take_inherited()
    }

    /// Takes the newest state left before it; the cells before are let go.
    #[cold]
    #[inline(never)]
    fn take_inherited(&mut self) -> Option<St> {
        self.polled = true;
        let mut next = lock(&self.own).before.take();
        while let Some(cell) = next {
            let mut kept = lock(&cell);
            if let Some(state) = kept.state.take() {
                return Some(state);
            }
            let before = kept.before.clone();
            drop(kept);
            next = before;
        }
        None
    }

    /// On drop: leave `state`, if it ran.
    pub(crate) fn leave(&mut self, state: Option<St>) {
        if self.polled {
            lock(&self.own).state = state;
        }
    }
}

struct HotNode<F: ?Sized> {
    slot: sync::Arc<Mailbox<Box<F>>>,
    /// A stateful operator's `Arc<StateCell<St>>`.
    state: Option<Box<dyn Any + Send + Sync>>,
}

impl<F: ?Sized + Send + 'static> Node for HotNode<F> {
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn adopt(&self, new: &dyn Node, commit: &mut Commit) -> bool {
        let Some(new) = new.as_any().downcast_ref::<HotNode<F>>() else { return false };
        // A closure already taken (the new operator was polled) stays there.
        if let Some(f) = new.slot.take_last() {
            commit.stage(&self.slot, f);
        }
        true
    }
    fn dispose(&self) {}
    fn state_cell(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.state.as_deref()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The stream types an operator reads and is: `type_name`s, compared to
/// find plain code between the parts of a chain.
#[derive(Clone, Copy)]
pub(crate) struct Io {
    pub(crate) input: &'static str,
    pub(crate) out: &'static str,
}

pub(crate) fn io<In: ?Sized, Out>() -> Io {
    Io { input: std::any::type_name::<In>(), out: std::any::type_name::<Out>() }
}

/// Puts `f` in a new slot, records the operator in the current scope.
pub(crate) fn hot<F: ?Sized + Send + 'static>(
    op: Op,
    label: &str,
    io: Io,
    shape: Shape,
    f: Box<F>,
) -> Hot<F> {
    if !cfg!(feature = "enabled") {
        let slot = sync::Arc::new(Mailbox::new(None));
        return Hot::plain(slot, f);
    }
    let slot = sync::Arc::new(Mailbox::new(Some(f)));
    let builder = Builder::new();
    builder.plain_code_before(io.input);
    let builder = builder.streams(io.out);
    let track = builder.track();
    let name = builder.chain(label);
    let node = HotNode { slot: slot.clone(), state: None };
    let in_module = builder.in_module();
    let hot = Hot::living(slot, track, in_module, &name);
    builder.finish(EntityKind::OperatorFun, op, name, shape, Arc::new(node));
    hot
}

/// [`hot`] for a stateful operator: `key` (kind, state type, seed) finds
/// the living twin whose state it takes if its chain is rebuilt.
pub(crate) fn hot_stateful<F: ?Sized + Send + 'static, St: Send + 'static>(
    op: Op,
    label: &str,
    io: Io,
    (shape, key): (Shape, Shape),
    f: Box<F>,
) -> (Hot<F>, Handoff<St>) {
    if !cfg!(feature = "enabled") {
        let slot = sync::Arc::new(Mailbox::new(None));
        let handoff = Handoff::new(None, true);
        let hot = Hot::plain(slot, f);
        return (hot, handoff);
    }
    let slot = sync::Arc::new(Mailbox::new(Some(f)));
    let builder = Builder::new();
    builder.plain_code_before(io.input);
    let builder = builder.streams(io.out);
    let track = builder.track();
    let name = builder.chain(label);
    let handoff = Handoff::new(builder.inherit::<St>(&key), false);
    let state: Box<dyn Any + Send + Sync> = Box::new(handoff.cell());
    let node = HotNode { slot: slot.clone(), state: Some(state) };
    let in_module = builder.in_module();
    let hot = Hot::living(slot, track, in_module, &name);
    builder.finish_stateful(EntityKind::OperatorFun, op, name, (shape, key), Arc::new(node));
    (hot, handoff)
}

pub(crate) fn types<A: 'static, B: 'static>() -> [Ty; 2] {
    [Ty::of::<A>(), Ty::of::<B>()]
}

macro_rules! debug_op {
    ($ty:ident < $($g:ident),* > $(where $($bound:tt)*)?) => {
        impl<$($g),*> ::std::fmt::Debug for $ty<$($g),*>
        where
            S: ::futures_core::Stream,
            $($($bound)*)?
        {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("item", &$crate::entities::source::short_type_name::<S::Item>())
                    .finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use debug_op;

#[cfg(all(test, loom))]
mod loom_tests;
