//! Records a small program's events as a `JsonLines` log: three versions of
//! a module of price pipelines (a fn-only edit, a structural edit that also
//! drops a symbol, a version that panics). `hmr-console`'s view tests
//! replay the log this writes (hmr-console/tests/fixtures/desk.jsonl).
//!
//! ```text
//! cargo run -p hmr-tests --example record_log > hmr-console/tests/fixtures/desk.jsonl
//! ```

use futures::stream;
use hmr_runtime::{HmrStreamExt, JsonLines, add_sink, hmr_track, keyed, module, source};

#[hmr_track(key = "desk::prices")]
fn prices(symbol: &str, version: u32) -> impl futures::Stream<Item = u32> + use<> {
    let ticks = source(stream::iter([1u32, 2, 3]));
    match version {
        1 => Box::pin(ticks.hot_map(|x| x * 10))
            as std::pin::Pin<Box<dyn futures::Stream<Item = u32> + Send>>,
        2 => Box::pin(ticks.hot_map(|x| x * 100)),
        _ => {
            let _ = symbol;
            Box::pin(ticks.hot_map(|x| x * 100).hot_filter(|x| *x > 100))
        }
    }
}

#[hmr_track(key = "desk::desk")]
fn desk(
    symbols: &[&str],
    version: u32,
) -> Vec<std::pin::Pin<Box<dyn futures::Stream<Item = u32> + Send>>> {
    symbols.iter().map(|s| keyed(*s, || Box::pin(prices(s, version)) as _)).collect()
}

fn main() {
    let _log = add_sink(JsonLines::new(std::io::stdout()));
    let _v1 = module("desk", || desk(&["AAPL", "MSFT", "NVDA"], 1)).unwrap();
    let _v2 = module("desk", || desk(&["AAPL", "MSFT", "NVDA"], 2)).unwrap();
    let _v3 = module("desk", || desk(&["AAPL", "NVDA"], 3)).unwrap();
    std::panic::set_hook(Box::new(|_| {}));
    let failed = module("desk", || -> Vec<u32> { panic!("a broken edit") });
    assert!(failed.is_err());
}
