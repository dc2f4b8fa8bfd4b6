//! `unsafe fn`, `extern "C" fn` and a function returning `!`.

use hmr_runtime::{events::Outcome, capture_events, hmr_track};

#[hmr_track]
unsafe fn read(pointer: *const u32) -> u32 {
    // SAFETY: the caller passes a valid pointer.
    unsafe { *pointer }
}

#[hmr_track]
extern "C" fn doubled(x: u32) -> u32 {
    x * 2
}

#[hmr_track]
pub unsafe extern "C" fn tripled(x: u32) -> u32 {
    x * 3
}

#[hmr_track]
fn never(message: &str) -> ! {
    panic!("{message}")
}


fn main() {
    let value = 5;
    // SAFETY: `&value` is valid.
    let (read, events) = capture_events(|| unsafe { read(&value) });
    assert_eq!((read, hmr_ui_tests::outcomes(&events)), (5, vec![Outcome::Returned]));
    let (doubled, events) = capture_events(|| doubled(4));
    assert_eq!((doubled, hmr_ui_tests::outcomes(&events)), (8, vec![Outcome::Returned]));
    // SAFETY: no preconditions.
    assert_eq!(unsafe { tripled(2) }, 6);

    std::panic::set_hook(Box::new(|_| {}));
    let (result, events) = capture_events(|| std::panic::catch_unwind(|| never("stop")));
    assert!(result.is_err());
    assert_eq!(hmr_ui_tests::outcomes(&events), [Outcome::Unwound]);
}
