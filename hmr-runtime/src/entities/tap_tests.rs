//! The taps' tests: a file of its own, so that driving real operators
//! (`HmrStreamExt`) does not make the tap import them.

use super::on::{SAMPLE_TEXT, cut, show, show_item};

#[derive(Debug)]
#[expect(dead_code, reason = "read through its Debug")]
struct Quote {
    bid: u32,
}

struct Opaque;

#[test]
fn items_show_their_debug_where_known_and_their_type_name_otherwise() {
    let mut out = String::new();
    show_item(&42_u64, &mut out);
    assert_eq!(out, "42");
    out.clear();
    show_item(&"a\"b".to_owned(), &mut out);
    assert_eq!(out, r#""a\"b""#);
    out.clear();
    show_item(&Opaque, &mut out);
    assert!(out.ends_with("Opaque"), "{out}");
    out.clear();
    show_item(&Quote { bid: 7 }, &mut out);
    assert!(out.ends_with("Quote"), "not shown yet: {out}");
    show::<Quote>();
    out.clear();
    show_item(&Quote { bid: 7 }, &mut out);
    assert_eq!(out, "Quote { bid: 7 }");
}

#[test]
fn a_huge_item_is_not_formatted_whole_and_a_panicking_debug_is_contained() {
    struct Endless;
    impl std::fmt::Debug for Endless {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            // Would never end if the writer did not refuse.
            loop {
                f.write_str("é")?;
            }
        }
    }
    struct Panics;
    impl std::fmt::Debug for Panics {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            panic!("a broken Debug")
        }
    }
    show::<Endless>();
    show::<Panics>();
    let mut out = String::new();
    show_item(&Endless, &mut out);
    cut(&mut out);
    assert!(out.len() <= SAMPLE_TEXT + '…'.len_utf8() && out.ends_with('…'), "{out}");
    let mut out = String::new();
    show_item(&"x".repeat(10 << 20), &mut out);
    assert!(out.len() <= SAMPLE_TEXT + 8, "formatted {} bytes", out.len());
    let caught = std::panic::catch_unwind(|| show_item(&Panics, &mut String::new()));
    assert!(caught.is_err(), "show_item itself does not catch; `sample` does");
}

/// Through a real operator with a console attached: the item goes on,
/// its sample says the `Debug` panicked.
#[test]
fn an_operator_sampling_a_panicking_debug_goes_on() {
    use futures::StreamExt;

    use crate::HmrStreamExt;
    struct Panics(u8);
    impl std::fmt::Debug for Panics {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            panic!("a broken Debug")
        }
    }
    show::<Panics>();
    let _serial = serial();
    super::on::attach();
    let mut items = futures::stream::iter([Panics(1), Panics(2)]).hot_map(|p| p);
    let first = futures::executor::block_on(items.next()).map(|p| p.0);
    let second = futures::executor::block_on(items.next()).map(|p| p.0);
    super::on::detach();
    assert_eq!((first, second), (Some(1), Some(2)));
    let probe = super::on::probes()
        .into_iter()
        .find(|p| p.name.ends_with("hot_map(fn)") && p.items() == 2)
        .expect("the operator's probe, two items counted");
    let samples = probe.take_samples();
    assert_eq!(samples[0].text, "(its Debug panicked)");
}

/// Tests that attach take turns with the one that needs none.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// No console attached: an operator makes no probe and counts
/// nothing; attached, it counts from then on; detached, it stops.
#[test]
fn an_operator_counts_only_while_a_console_is_attached() {
    use futures::StreamExt;

    use crate::HmrStreamExt;
    let _serial = serial();
    assert_eq!(super::on::EPOCH.load(std::sync::atomic::Ordering::Relaxed), 0);
    let label = "hot_inspect(fn)";
    let mut items = futures::stream::iter(0_u64..).hot_inspect(|_| {});
    let mut next = || futures::executor::block_on(items.next());
    for _ in 0..100 {
        next();
    }
    let mine = || super::on::probes().into_iter().filter(|p| p.name.ends_with(label)).count();
    assert_eq!(mine(), 0, "no probe while detached");
    super::on::attach();
    for _ in 0..10 {
        next();
    }
    super::on::detach();
    for _ in 0..100 {
        next();
    }
    let probe = super::on::probes().into_iter().find(|p| p.name.ends_with(label)).unwrap();
    assert_eq!(probe.items(), 10, "counted only while attached");
    assert_eq!(probe.take_samples().len(), 1, "one sample for the one epoch");
}

#[test]
fn long_texts_are_cut_at_a_char_boundary() {
    let mut text = "é".repeat(SAMPLE_TEXT);
    cut(&mut text);
    assert!(text.len() <= SAMPLE_TEXT + '…'.len_utf8(), "{}", text.len());
    assert!(text.ends_with('…'));
    let mut short = "short".to_owned();
    cut(&mut short);
    assert_eq!(short, "short");
}
