// The program around the edited code (`feed`): included by the `main.rs` of
// each fixture, which says where `feed` is.

use std::io::BufRead;
use std::time::{Duration, Instant};

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let _events = hmr_runtime::add_sink(hmr_runtime::JsonLines::new(std::io::stdout()));
    let root_size = feed::root_size();
    runtime.block_on(async { feed::start() }).expect("version 1 runs");
    println!(
        r#"{{"ready":{{"tasks":{},"root_size":{root_size}}}}}"#,
        runtime.metrics().num_alive_tasks()
    );

    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin is readable");
        let table: subsecond::JumpTable = match serde_json::from_str(&line) {
            Ok(table) => table,
            Err(error) => {
                println!(r#"{{"bad-table":{}}}"#, serde_json::json!(error.to_string()));
                continue;
            }
        };
        let before = hmr_runtime::modules::patch_status();
        let at = feed::micros();
        let started = Instant::now();
        // SAFETY: the table maps a function of this program onto a function
        // of the same signature in the library (`call_it` of the same root
        // onto its new build), and the library is linked against this
        // program's own crates — subsecond's contract for `apply_patch`.
        let applied = unsafe { subsecond::apply_patch(table) };
        if let Err(error) = applied {
            println!(r#"{{"patch-failed":{}}}"#, serde_json::json!(error.to_string()));
            continue;
        }
        let status = loop {
            let status = hmr_runtime::modules::patch_status();
            if !status.busy && status.reloads > before.reloads {
                break status;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "no reload after a patch");
            std::thread::sleep(Duration::from_micros(100));
        };
        let reloaded = started.elapsed();
        let last = status.last.expect("a reload ran");
        let report = serde_json::json!({
            "patched": {
                "applied_at": at.to_string(),
                "reload_micros": reloaded.as_micros().to_string(),
                "reload_took_micros": last.took.as_micros().to_string(),
                "patches": status.patches - before.patches,
                "reloads": status.reloads - before.reloads,
                "updated": last.updated,
                "rebuilt": last.rebuilt,
                "disposed": last.disposed,
                "errors": last.errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "tasks": runtime.metrics().num_alive_tasks(),
            }
        });
        println!("{report}");
    }
}
