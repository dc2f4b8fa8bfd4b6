//! Methods with every receiver, in inherent impls, generic impls, trait impls
//! and provided trait methods. The key is the method's item path.

use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use hmr_runtime::{Event, capture_events, hmr_track};

struct Counter {
    value: u32,
}

impl Counter {
    #[hmr_track]
    fn new() -> Self {
        Counter { value: 0 }
    }

    #[hmr_track]
    fn get(&self) -> u32 {
        self.value
    }

    #[hmr_track]
    fn bump(&mut self) {
        self.value += 1;
    }

    #[hmr_track]
    fn into_value(self) -> u32 {
        self.value
    }

    #[hmr_track]
    fn mut_self(mut self) -> Self {
        self.value *= 10;
        self
    }

    #[hmr_track]
    fn boxed(self: Box<Self>) -> u32 {
        self.value
    }

    #[hmr_track]
    fn rc(self: Rc<Self>) -> u32 {
        self.value
    }

    #[hmr_track]
    fn arc(self: Arc<Self>) -> u32 {
        self.value
    }

    #[hmr_track]
    fn pinned(self: Pin<&mut Self>) -> u32 {
        self.value
    }
}

struct Wrapper<T>(T);

impl Wrapper<i32> {
    #[hmr_track]
    fn get(&self) -> i32 {
        self.0
    }
}

impl Wrapper<u8> {
    #[hmr_track]
    fn get(&self) -> u8 {
        self.0
    }
}

impl<T: Clone> Wrapper<Vec<T>> {
    #[hmr_track]
    fn first(&self) -> Option<T> {
        self.0.first().cloned()
    }
}

trait Source {
    #[hmr_track]
    fn poll(&self) -> u32 {
        self.base() + 1
    }

    fn base(&self) -> u32;
}

impl Source for Counter {
    #[hmr_track]
    fn base(&self) -> u32 {
        self.value
    }
}


fn main() {
    let here = module_path!();
    let (mut counter, events) = capture_events(Counter::new);
    assert_eq!(hmr_ui_tests::called_keys(&events), [format!("{here}::Counter::new")]);
    let ((), events) = capture_events(|| counter.bump());
    assert_eq!(hmr_ui_tests::called_keys(&events), [format!("{here}::Counter::bump")]);
    assert_eq!(counter.get(), 1);
    let counter = counter.mut_self();
    assert_eq!(Box::new(Counter { value: counter.value }).boxed(), 10);
    assert_eq!(Rc::new(Counter { value: 2 }).rc(), 2);
    assert_eq!(Arc::new(Counter { value: 3 }).arc(), 3);
    let mut pinned = Counter { value: 4 };
    assert_eq!(Pin::new(&mut pinned).pinned(), 4);
    assert_eq!(counter.into_value(), 10);

    let ((a, b), events) = capture_events(|| (Wrapper(1_i32).get(), Wrapper(2_u8).get()));
    assert_eq!((a, b), (1, 2));
    let keys = hmr_ui_tests::called_keys(&events);
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1], "two impl blocks do not collide: {keys:?}");
    assert_eq!(Wrapper(vec!['x']).first(), Some('x'));

    let (polled, events) = capture_events(|| Counter { value: 5 }.poll());
    assert_eq!(polled, 6);
    assert_eq!(events.iter().filter(|event| matches!(event, Event::TrackCall { .. })).count(), 2);
}
