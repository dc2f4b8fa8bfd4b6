//! A program to watch with `hmr-console`: a desk of price pipelines, one
//! per symbol, fed by a ticker every 100 ms and served on `HMR_CONSOLE`
//! (default 127.0.0.1:6670). Each line on stdin runs the next version of
//! its code, as a reload would: v2 edits a closure (`fn-only`: × 10 becomes
//! × 100), v3 adds an operator and drops a symbol (`structural`, a
//! disposal), v4 panics (rolled back), v5 fixes it.
//!
//! ```text
//! cargo run -p hmr-console --example watched      # then, in another terminal:
//! cargo run -p hmr-console                        # and press Enter in the first
//! ```

use std::io::BufRead;
use std::time::Duration;

use hmr_runtime::channels::Broadcast;
use hmr_runtime::{
    HmrStreamExt, Subscription, broadcast, hmr_track, keyed, module, source, subscribe,
};

#[hmr_track(key = "desk::prices")]
fn prices(feed: &Broadcast<u64>, version: u32) -> Subscription {
    let ticks = source(feed.subscribe());
    match version {
        1 => subscribe(ticks.hot_map(|x| x * 10), |_| {}),
        2 => subscribe(ticks.hot_map(|x| x * 100), |_| {}),
        _ => subscribe(ticks.hot_map(|x| x * 100).hot_filter(|x| x % 200 == 0), |_| {}),
    }
}

#[hmr_track(key = "desk::desk")]
fn desk(feed: &Broadcast<u64>, version: u32) -> Vec<Subscription> {
    let symbols: &[&str] = if version >= 3 { &["AAPL", "NVDA"] } else { &["AAPL", "MSFT", "NVDA"] };
    assert!(version != 4, "a broken edit");
    symbols.iter().map(|s| keyed(*s, || prices(feed, version))).collect()
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let _entered = runtime.enter();
    let console = hmr_runtime::console::serve().expect("the console's address");
    println!("serving the console on {}", console.local_addr());
    let feed = broadcast::<u64>(1024);
    let ticker = feed.clone();
    std::thread::spawn(move || {
        for tick in 1.. {
            let _ = ticker.send(tick);
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let mut held = Vec::new();
    let mut version = 1;
    std::panic::set_hook(Box::new(|_| {}));
    loop {
        match module("desk", || desk(&feed, version)) {
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
