//! What a hot pipeline pays per item for the console (feature `console`):
//! `hot_map` + `hot_scan` with no console attached, and with one attached
//! (each operator counts its items and samples one per tick), against the
//! plain `map` + `map` baseline in the same run.
//!
//! ```text
//! cargo bench -p hmr-runtime --features console --bench console
//! ```
//!
//! Compare the `detached` row with the `hot` row of
//! `cargo bench -p hmr-runtime --bench living` (the feature off): the
//! per-item target there is at most 3 ns over plain.

use std::fmt;
use std::io::{Read, Write};
use std::pin::pin;
use std::time::Duration;

use divan::Bencher;
use futures::stream::{self, Stream, StreamExt};
use hmr_runtime::HmrStreamExt;

mod support;

use support::{bench_items, drain};

fn main() {
    divan::main();
}

#[derive(Clone, Copy)]
enum Variant {
    /// `map` + a `map` with a captured accumulator.
    Plain,
    /// `hot_map` + `hot_scan`, no console attached.
    Detached,
    /// `hot_map` + `hot_scan`, a console attached and reading.
    Attached,
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Variant::Plain => "plain_map_map",
            Variant::Detached => "hot_detached",
            Variant::Attached => "hot_attached",
        })
    }
}

fn hot_chain() -> impl Stream<Item = u64> + Send + 'static {
    stream::iter(0u64..).hot_map(|x| x.wrapping_mul(3)).hot_scan(0u64, |acc, x| {
        *acc = acc.wrapping_add(x);
        Some(*acc)
    })
}

#[divan::bench(args = [Variant::Plain, Variant::Detached, Variant::Attached])]
fn pipeline(bencher: Bencher<'_, '_>, variant: Variant) {
    match variant {
        Variant::Plain => {
            let mut acc = 0u64;
            let chain = stream::iter(0u64..).map(|x| x.wrapping_mul(3)).map(move |x| {
                acc = acc.wrapping_add(x);
                acc
            });
            bench_items(bencher, pin!(chain));
        }
        Variant::Detached => bench_items(bencher, pin!(hot_chain())),
        Variant::Attached => {
            let console = hmr_runtime::console::serve_on("127.0.0.1:0").unwrap();
            let mut client = std::net::TcpStream::connect(console.local_addr()).unwrap();
            client.write_all(b"hmr-console 1\n").unwrap();
            let reading = std::thread::spawn(move || {
                let mut sink = [0u8; 4096];
                while client.read(&mut sink).is_ok_and(|n| n > 0) {}
            });
            while console.attached() == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            let mut chain = pin!(hot_chain());
            // The operators' probes exist, and ticks have gone by.
            drain(chain.as_mut(), 1);
            std::thread::sleep(hmr_runtime::console::TICK * 2);
            drain(chain.as_mut(), 1);
            bench_items(bencher, chain);
            drop(console);
            reading.join().unwrap();
        }
    }
}
