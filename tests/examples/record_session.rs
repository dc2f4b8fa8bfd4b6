//! Records a console session: serves its own console, attaches to it, and
//! writes every line the console gets to stdout while a ticking pipeline
//! runs through a fn-only edit and a structural one. `hmr-console`'s view
//! tests replay what this writes (hmr-console/tests/fixtures/session.jsonl),
//! and so can `hmr-console --replay`.
//!
//! ```text
//! cargo run -p hmr-tests --example record_session > hmr-console/tests/fixtures/session.jsonl
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use hmr_runtime::{HmrStreamExt, Subscription, hmr_track, module, source, subscribe};

/// `version` 1: prices × 10; 2: × 100 (fn-only); 3: × 100, only the even
/// ones (an operator added: structural).
#[hmr_track(key = "session::prices")]
fn prices(ticks: tokio::sync::broadcast::Receiver<u64>, version: u64) -> Subscription {
    let ticks = source(tokio_stream(ticks));
    let factor = if version == 1 { 10 } else { 100 };
    let handler = |_: u64| {};
    if version < 3 {
        subscribe(ticks.hot_map(move |x: u64| x * factor), handler)
    } else {
        subscribe(ticks.hot_map(move |x: u64| x * factor).hot_filter(|x| x % 200 == 0), handler)
    }
}

fn tokio_stream(
    rx: tokio::sync::broadcast::Receiver<u64>,
) -> impl futures::Stream<Item = u64> + Send + 'static {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.ok().map(|x| (x, rx)) })
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let _entered = runtime.enter();
    let console = hmr_runtime::console::serve_on("127.0.0.1:0").unwrap();
    let mut stream = TcpStream::connect(console.local_addr()).unwrap();
    stream.write_all(b"hmr-console 1\n").unwrap();
    let recording = std::thread::spawn(move || {
        let mut out = std::io::stdout().lock();
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            writeln!(out, "{line}").unwrap();
        }
    });
    while console.attached() == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let (feed, _) = tokio::sync::broadcast::channel::<u64>(1024);
    let mut tick = 0;
    let mut run = |for_ms: u64| {
        for _ in 0..for_ms / 20 {
            tick += 1;
            let _ = feed.send(tick);
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let _v1 = module("session", || prices(feed.subscribe(), 1)).unwrap();
    run(2_000);
    let _v2 = module("session", || prices(feed.subscribe(), 2)).unwrap();
    run(2_000);
    let _v3 = module("session", || prices(feed.subscribe(), 3)).unwrap();
    run(2_000);
    // The last tick's counts, then the end of the session.
    std::thread::sleep(Duration::from_millis(200));
    drop(console);
    recording.join().unwrap();
}
