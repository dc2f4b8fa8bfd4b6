//! A small tracked program, run as a module, edited, and run again.
//!
//! `cargo run -p hmr-runtime --example demo`
//!
//! Entities are announced with the low-level capture API, as the stream
//! entity types do; the point here is identity across re-executions: the same
//! tracks are reached again (updated in place), a changed shape is a rebuild,
//! a removed call is disposed, and a panicking version commits nothing.

use hmr_runtime::{
    EntityKind, Event, capture_entity, capture_events, hmr_track, module, render_tree,
};

/// Which version of the "source code" is running.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Edit {
    Original,
    ClosureBody,
    AddedOperator,
    RemovedVolume,
    Broken,
}

#[hmr_track(key = "demo::prices")]
fn prices(edit: Edit) {
    capture_entity(EntityKind::Factory, "source");
    let shape = if edit == Edit::AddedOperator {
        "source.hot_map(fn).hot_filter(fn)"
    } else {
        "source.hot_map(fn)"
    };
    capture_entity(EntityKind::Pipe, shape);
}

#[hmr_track(key = "demo::volume")]
fn volume() {
    capture_entity(EntityKind::Pipe, "source.hot_scan(0,fn)");
}

#[hmr_track(key = "demo::app")]
fn app(edit: Edit) {
    prices(edit);
    if edit != Edit::RemovedVolume {
        volume();
    }
    assert!(edit != Edit::Broken, "a typo in the new version");
}

fn run(label: &str, edit: Edit) {
    println!("== {label}");
    let (result, events) = capture_events(|| module("demo", || app(edit)));
    for event in &events {
        match event {
            Event::TrackCall { path, .. } => println!("  track-call         {path}"),
            Event::TrackUpdate { id, version, change, .. } => {
                println!("  track-update       {id} v{version} {change:?}");
            }
            Event::TrackDispose { id, reason } => println!("  track-dispose      {id} {reason:?}"),
            Event::ReloadError { message, .. } => println!("  reload-error       {message}"),
            Event::HmrModuleCallReturn { committed, .. } => {
                println!("  hmr-module-call-return committed={committed}");
            }
            _ => {}
        }
    }
    if let Err(e) = result {
        println!("  -> {e}");
    }
    print!("{}", render_tree());
}

fn main() {
    // Quiet the expected panic of the broken version.
    std::panic::set_hook(Box::new(|_| {}));
    run("version 1: first run", Edit::Original);
    run("version 2: a closure body edited (same shape)", Edit::ClosureBody);
    run("version 3: an operator added (new shape)", Edit::AddedOperator);
    run("version 4: the volume track removed", Edit::RemovedVolume);
    run("version 5 (broken): panics, nothing committed", Edit::Broken);
    run("version 6: fixed (version 5 used up its number)", Edit::RemovedVolume);
}
