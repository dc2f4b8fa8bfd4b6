//! A deep tracked recursion costs memory linear in its depth (docs/design.md
//! §3.4): inside a module (every open call is in the store) and inside a
//! capture (every event is kept). Paths share their prefixes, so 8× the
//! depth holds about 8× the bytes; with a full path string per call it held
//! about 64×.
//!
//! Bytes are counted by this binary's allocator: a count, not a clock.

// A global allocator is an `unsafe impl`: counting bytes needs one, and it
// only forwards to the system allocator.
#![allow(unsafe_code, reason = "the counting allocator forwards to `System`")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use hmr_runtime::{EntityKind, Event, capture_entity, capture_events, hmr_track, module};

/// The system allocator, counting the bytes held now and at most since the
/// last [`Counting::reset_peak`].
struct Counting {
    now: AtomicUsize,
    peak: AtomicUsize,
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = self.now.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        self.peak.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.now.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

impl Counting {
    fn reset_peak(&self) -> usize {
        let now = self.now.load(Ordering::Relaxed);
        self.peak.store(now, Ordering::Relaxed);
        now
    }
}

#[global_allocator]
static ALLOC: Counting = Counting { now: AtomicUsize::new(0), peak: AtomicUsize::new(0) };

#[hmr_track(key = "deep_recursion::descend")]
fn descend(depth: u32) -> u32 {
    if depth == 0 {
        capture_entity(EntityKind::Factory, "bottom");
        return 0;
    }
    descend(depth - 1) + 1
}

/// Runs `f` on a thread with a stack deep enough for the recursion.
fn on_big_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new().stack_size(512 << 20).spawn(f).unwrap().join().unwrap()
}

/// The most bytes held above the start while a module runs a recursion
/// `depth` deep.
fn module_peak(name: &'static str, depth: u32) -> usize {
    on_big_stack(move || {
        let before = ALLOC.reset_peak();
        assert_eq!(module(name, || descend(depth)).unwrap(), depth);
        ALLOC.peak.load(Ordering::Relaxed) - before
    })
}

/// The bytes a capture of a recursion `depth` deep holds (its events).
fn capture_held(depth: u32) -> (usize, usize) {
    on_big_stack(move || {
        let before = ALLOC.now.load(Ordering::Relaxed);
        let (_, events) = capture_events(|| descend(depth));
        let held = ALLOC.now.load(Ordering::Relaxed) - before;
        let calls = events.iter().filter(|e| matches!(e, Event::TrackCall { .. })).count();
        (held, calls)
    })
}

/// `8×` the depth must hold less than `12×` the bytes (quadratic: `64×`).
fn assert_linear(what: &str, small: usize, large: usize) {
    let ratio = format!("{}.{}×", large / small, large * 10 / small % 10);
    eprintln!("{what}: depth 500 {small} B, depth 4000 {large} B ({ratio})");
    assert!(
        large < 12 * small,
        "{what}: 8× the depth held {ratio} the bytes ({small} B at 500, {large} B at 4000): \
         not linear"
    );
}

// One test: the byte counts are the process's, and a test running beside
// would add its own.
#[test]
fn a_deep_recursion_holds_memory_linear_in_its_depth_in_a_module_and_in_a_capture() {
    let small = module_peak("deep-recursion-small", 500);
    let large = module_peak("deep-recursion-large", 4_000);
    assert_linear("inside a module, at its peak", small, large);

    let (small, calls) = capture_held(500);
    assert_eq!(calls, 501, "every call is captured");
    let (large, calls) = capture_held(4_000);
    assert_eq!(calls, 4_001, "every call is captured");
    assert_linear("a capture's events", small, large);
}
