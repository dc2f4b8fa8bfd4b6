//! What an attached console sees of a hot operator: how many items it let
//! through, and a sample of them (docs/design.md §1.3, docs/console.md).
//!
//! Each hot operator keeps a [`Tap`] of its output type. With the `console`
//! feature off it is empty and its [`Tap::saw`] is nothing. With it on,
//! the operator pays, per item:
//! - **no console attached**: one relaxed load of [`EPOCH`] (0) and a branch;
//! - **a console attached**: that load, a count kept in its [`Probe`] (a
//!   load and a store: only the operator's poll writes it), and a compare
//!   with the epoch it last sampled at. Once per epoch (a console's tick,
//!   [`TICK`]) the item is formatted into a [`Sample`]: with its `Debug`
//!   where the type is known to be `Debug` (the built-in types, and the
//!   types given to [`show`]), its type name otherwise.
//!
//! A probe is made at the first item an operator sees while a console is
//! attached (building an operator costs nothing more), and registered in
//! a list the consoles read at every tick; it lives as long as its
//! operator.

#[cfg(feature = "console")]
pub use on::show;
#[cfg(feature = "console")]
pub(crate) use on::*;

#[cfg(not(feature = "console"))]
pub(crate) use off::*;

#[cfg(all(test, feature = "console"))]
#[path = "tap_tests.rs"]
mod tests;

/// The `console` feature off: nothing.
#[cfg(not(feature = "console"))]
mod off {
    use std::marker::PhantomData;

    use crate::events::{Name, TrackId};

    /// Where items are counted: nothing without the feature.
    pub(crate) trait Origin {}
    impl<T: ?Sized> Origin for T {}

    /// A closure-less operator's track and name: nothing without the feature.
    pub(crate) struct Named;

    impl Named {
        pub(crate) fn new(_track: Option<TrackId>, _name: &Name) -> Named {
            Named
        }
    }

    pub(crate) struct Tap<B>(PhantomData<fn(&B)>);

    impl<B> Tap<B> {
        pub(crate) fn new() -> Tap<B>
        where
            B: 'static,
        {
            Tap(PhantomData)
        }

        #[inline(always)]
        #[allow(clippy::unused_self, reason = "the same call as with the feature")]
        pub(crate) fn saw(&mut self, _item: &B, _origin: &impl Origin) {}
    }
}

#[cfg(feature = "console")]
mod on {
    use std::any::{Any, TypeId};
    use std::collections::{HashMap, VecDeque};
    use std::fmt::{Debug, Write as _};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex, RwLock, Weak};
    use std::time::{Duration, Instant};

    use crate::events::{Name, TrackId};
    use crate::living::graph::lock;

    /// The operator a [`Tap`] counts for: its track, its chain's name, and
    /// which code it runs.
    pub(crate) trait Origin {
        fn track(&self) -> Option<TrackId>;
        fn name(&self) -> &Name;
        /// Closures it received since it was built (0 for one without).
        fn code(&self) -> u64 {
            0
        }
    }

    /// A closure-less operator's track and name (`hot_debounce`).
    pub(crate) struct Named {
        track: Option<TrackId>,
        name: Name,
    }

    impl Named {
        pub(crate) fn new(track: Option<TrackId>, name: &Name) -> Named {
            Named { track, name: name.clone() }
        }
    }

    impl Origin for Named {
        fn track(&self) -> Option<TrackId> {
            self.track
        }
        fn name(&self) -> &Name {
            &self.name
        }
    }

    /// How often an attached console reads the probes, and so how often
    /// an operator samples an item.
    pub(crate) const TICK: Duration = Duration::from_millis(50);

    /// Samples a probe keeps between two reads.
    pub(crate) const SAMPLES: usize = 8;

    /// A sample's text is cut after this many bytes (at a char boundary).
    pub(crate) const SAMPLE_TEXT: usize = 80;

    /// 0 while no console is attached; else the number of the console tick
    /// now running (an operator samples once per tick).
    pub(crate) static EPOCH: AtomicU64 = AtomicU64::new(0);

    /// Consoles attached, and the last epoch (epochs only grow, across
    /// attachments: an operator that sampled at one never skips the next),
    /// guarded so that the epoch goes to 0 exactly when the last leaves.
    static ATTACHED: Mutex<(usize, u64)> = Mutex::new((0, 0));

    /// A console is attached: operators count and sample from now on.
    pub(crate) fn attach() {
        let mut attached = lock(&ATTACHED);
        attached.0 += 1;
        if EPOCH.load(Ordering::Relaxed) == 0 {
            attached.1 += 1;
            EPOCH.store(attached.1, Ordering::Relaxed);
        }
    }

    /// A console left; the last one to leave stops the counting.
    pub(crate) fn detach() {
        let mut attached = lock(&ATTACHED);
        attached.0 = attached.0.saturating_sub(1);
        if attached.0 == 0 {
            EPOCH.store(0, Ordering::Relaxed);
        }
    }

    /// A console's tick: operators take their next sample.
    pub(crate) fn tick() {
        let mut attached = lock(&ATTACHED);
        if attached.0 > 0 {
            attached.1 += 1;
            EPOCH.store(attached.1, Ordering::Relaxed);
        }
    }

    /// An item an operator let through, as a console shows it.
    #[derive(Clone, Debug)]
    pub(crate) struct Sample {
        pub(crate) at: Instant,
        /// How many closures the operator had received when this item went
        /// through (0: the one it was built with); which code touched it.
        pub(crate) code: u64,
        pub(crate) text: String,
    }

    /// One operator's counters, shared with the consoles.
    #[derive(Debug)]
    pub(crate) struct Probe {
        /// Its number, for the wire (never reused in the program's life).
        pub(crate) id: u64,
        pub(crate) track: Option<TrackId>,
        /// Its chain's structural name up to it (`source.hot_map(fn)`).
        pub(crate) name: Name,
        /// Items it let through. Only its operator writes it.
        items: AtomicU64,
        samples: Mutex<VecDeque<Sample>>,
    }

    impl Probe {
        /// Items it let through so far.
        pub(crate) fn items(&self) -> u64 {
            self.items.load(Ordering::Relaxed)
        }

        /// Takes the samples kept since the last read, oldest first.
        pub(crate) fn take_samples(&self) -> Vec<Sample> {
            lock(&self.samples).drain(..).collect()
        }
    }

    /// What a subscription's task is doing, as a console shows it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum TaskStatus {
        /// Reading its pipeline, handling items.
        Running,
        /// Its pipeline ended (or was dropped after a panic outside any hot
        /// closure): it waits for a rebuild to give it another.
        Waiting,
        /// Stopped for good (unsubscribed, its track or input disposed, its
        /// runtime shut down).
        Stopped,
    }

    /// A subscription's task, for consoles.
    pub(crate) trait TaskSource: Send + Sync {
        fn id(&self) -> u64;
        fn track(&self) -> Option<TrackId>;
        fn status(&self) -> TaskStatus;
    }

    /// Every subscription made, as long as it lives.
    static TASKS: Mutex<Vec<Weak<dyn TaskSource>>> = Mutex::new(Vec::new());

    /// Registers a subscription (once, when it starts: attached or not).
    pub(crate) fn task<T: TaskSource + 'static>(task: &Arc<T>) {
        let task: Arc<dyn TaskSource> = task.clone();
        let mut tasks = lock(&TASKS);
        if tasks.len() == tasks.capacity() {
            tasks.retain(|t| t.strong_count() > 0);
        }
        tasks.push(Arc::downgrade(&task));
    }

    /// The living subscriptions (the dead are swept).
    pub(crate) fn tasks() -> Vec<Arc<dyn TaskSource>> {
        let mut tasks = lock(&TASKS);
        tasks.retain(|t| t.strong_count() > 0);
        tasks.iter().filter_map(Weak::upgrade).collect()
    }

    /// Every probe made, as long as its operator lives.
    static PROBES: Mutex<Vec<Weak<Probe>>> = Mutex::new(Vec::new());

    /// The probes of living operators (the dead are swept: at every tick
    /// while a console is attached, and at a registration that finds the
    /// list full).
    pub(crate) fn probes() -> Vec<Arc<Probe>> {
        let mut probes = lock(&PROBES);
        probes.retain(|p| p.strong_count() > 0);
        probes.iter().filter_map(Weak::upgrade).collect()
    }

    fn register(probe: &Arc<Probe>) {
        let mut probes = lock(&PROBES);
        if probes.len() == probes.capacity() {
            probes.retain(|p| p.strong_count() > 0);
        }
        probes.push(Arc::downgrade(probe));
    }

    /// Counts and samples the items of one operator (see the module docs).
    pub(crate) struct Tap<B> {
        probe: Option<Arc<Probe>>,
        /// The epoch it last sampled at.
        sampled: u64,
        /// Writes an item as a sample's text (made where `B: 'static`).
        show: fn(&B, &mut String),
    }

    impl<B> Tap<B> {
        pub(crate) fn new() -> Tap<B>
        where
            B: 'static,
        {
            Tap { probe: None, sampled: 0, show: show_item::<B> }
        }

        /// `item` went through the operator `origin`.
        #[inline]
        pub(crate) fn saw(&mut self, item: &B, origin: &impl Origin) {
            let epoch = EPOCH.load(Ordering::Relaxed);
            if epoch == 0 {
                return;
            }
            match &self.probe {
                Some(probe) if epoch == self.sampled => {
                    let items = probe.items.load(Ordering::Relaxed);
                    probe.items.store(items + 1, Ordering::Relaxed);
                }
                _ => self.sample(item, origin, epoch),
            }
        }

        #[cold]
        #[inline(never)]
        fn sample(&mut self, item: &B, origin: &impl Origin, epoch: u64) {
            self.sampled = epoch;
            let probe = self.probe.get_or_insert_with(|| {
                static NEXT: AtomicU64 = AtomicU64::new(1);
                let probe = Arc::new(Probe {
                    id: NEXT.fetch_add(1, Ordering::Relaxed),
                    track: origin.track(),
                    name: origin.name().clone(),
                    items: AtomicU64::new(0),
                    samples: Mutex::new(VecDeque::with_capacity(SAMPLES)),
                });
                register(&probe);
                probe
            });
            let items = probe.items.load(Ordering::Relaxed);
            probe.items.store(items + 1, Ordering::Relaxed);
            let mut text = String::new();
            // A `Debug` that panics costs its sample, not the pipeline.
            let shown = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                (self.show)(item, &mut text);
            }));
            if shown.is_err() {
                "(its Debug panicked)".clone_into(&mut text);
            }
            cut(&mut text);
            let sample = Sample { at: Instant::now(), code: origin.code(), text };
            let mut samples = lock(&probe.samples);
            if samples.len() == SAMPLES {
                samples.pop_front();
            }
            samples.push_back(sample);
        }
    }

    pub(super) fn cut(text: &mut String) {
        if text.len() > SAMPLE_TEXT {
            let mut end = SAMPLE_TEXT;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push('…');
        }
    }

    /// A `Debug` writer, stored by type.
    type Shower<T> = fn(&T, &mut String);

    /// Writes into a string until it holds a sample's worth, then refuses:
    /// a huge item is not formatted whole on its operator's poll.
    struct Bounded<'a>(&'a mut String);

    impl std::fmt::Write for Bounded<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let room = (SAMPLE_TEXT + 1).saturating_sub(self.0.len());
            if s.len() <= room {
                self.0.push_str(s);
                return Ok(());
            }
            let mut end = room;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            self.0.push_str(&s[..end]);
            // Past the bound: formatting stops, and the text is longer
            // than a sample so that `cut` marks it.
            if self.0.len() <= SAMPLE_TEXT {
                self.0.push('…');
            }
            Err(std::fmt::Error)
        }
    }

    /// `Debug` of `item` into `out`, at most about a sample's worth.
    fn debug_into(item: &dyn Debug, out: &mut String) {
        let _ = write!(Bounded(out), "{item:?}");
    }

    /// Types given to [`show`], beyond the built-in ones.
    static SHOWN: RwLock<Option<HashMap<TypeId, Box<dyn Any + Send + Sync>>>> = RwLock::new(None);

    /// Lets consoles show items of type `T` with their `Debug` (sampled
    /// items of other types show as their type name; integers, floats,
    /// `bool`, `char`, `String`, `&'static str` and `()` are built in).
    ///
    /// Stable Rust cannot ask a generic operator whether its item is `Debug`
    /// (that needs specialization), so types are named here once.
    pub fn show<T: Debug + 'static>() {
        let shower: Shower<T> = |item, out| debug_into(item, out);
        let mut shown = SHOWN.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        shown.get_or_insert_with(HashMap::new).insert(TypeId::of::<T>(), Box::new(shower));
    }

    pub(super) fn show_item<B: 'static>(item: &B, out: &mut String) {
        if builtin(item, out) {
            return;
        }
        let shown = SHOWN.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let shower = shown
            .as_ref()
            .and_then(|map| map.get(&TypeId::of::<B>()))
            .and_then(|shower| shower.downcast_ref::<Shower<B>>());
        match shower {
            Some(shower) => shower(item, out),
            None => out.push_str(&crate::entities::source::short_type_name::<B>()),
        }
    }

    /// Writes the built-in `Debug` types; `false` for any other.
    fn builtin<B: 'static>(item: &B, out: &mut String) -> bool {
        macro_rules! debug_of {
            ($($ty:ty),*) => {
                let any: &dyn Any = item;
                $(
                    if let Some(item) = any.downcast_ref::<$ty>() {
                        debug_into(item, out);
                        return true;
                    }
                )*
            };
        }
        debug_of!(
            u8,
            u16,
            u32,
            u64,
            u128,
            usize,
            i8,
            i16,
            i32,
            i64,
            i128,
            isize,
            f32,
            f64,
            bool,
            char,
            String,
            &'static str,
            ()
        );
        false
    }
}
