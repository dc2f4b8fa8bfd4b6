//! A program to watch with `hmr-console`: a desk of price pipelines, one
//! per symbol, served on `HMR_CONSOLE` (default 127.0.0.1:6670). Each line
//! on stdin runs the next version of its code, as a reload would:
//! v2 edits a closure (`fn-only`), v3 adds an operator and drops a symbol
//! (`structural`, a disposal), v4 panics (rolled back), v5 fixes it.
//!
//! ```text
//! cargo run -p hmr-console --example watched      # then, in another terminal:
//! cargo run -p hmr-console                        # and press Enter in the first
//! ```

use std::io::BufRead;
use std::pin::Pin;

use futures::Stream;
use futures::stream;
use hmr_runtime::{HmrStreamExt, hmr_track, keyed, module, source};

type Prices = Pin<Box<dyn Stream<Item = u32> + Send>>;

#[hmr_track(key = "desk::prices")]
fn prices(version: u32) -> Prices {
    let ticks = source(stream::iter([1u32, 2, 3]));
    match version {
        1 => Box::pin(ticks.hot_map(|x| x * 10)),
        2 => Box::pin(ticks.hot_map(|x| x * 100)),
        _ => Box::pin(ticks.hot_map(|x| x * 100).hot_filter(|x| *x > 100)),
    }
}

#[hmr_track(key = "desk::desk")]
fn desk(version: u32) -> Vec<Prices> {
    let symbols: &[&str] = if version >= 3 { &["AAPL", "NVDA"] } else { &["AAPL", "MSFT", "NVDA"] };
    assert!(version != 4, "a broken edit");
    symbols.iter().map(|s| keyed(*s, || prices(version))).collect()
}

fn main() {
    let console = hmr_runtime::console::serve().expect("the console's address");
    println!("serving the console on {}", console.local_addr());
    let mut held = Vec::new();
    let mut version = 1;
    std::panic::set_hook(Box::new(|_| {}));
    loop {
        match module("desk", || desk(version)) {
            Ok(pipelines) => {
                println!("v{version} committed: {} pipelines", pipelines.len());
                held = pipelines;
            }
            Err(e) => println!("v{version} failed: {e}"),
        }
        println!("press Enter for the next version");
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        version += 1;
    }
    drop(held);
}
